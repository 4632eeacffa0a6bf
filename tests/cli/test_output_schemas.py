"""One JSON vocabulary, written down: every command's ``-o json`` on the example repository is
valid against its schema in ``schemas/output/`` (draft 2020-12, closed, every field described)."""

from __future__ import annotations

import json

import pytest
import typer
from jsonschema import Draft202012Validator

from gitops_mlops.cli.main import app
from testing.cli import cli
from testing.paths import DIGEST_A, DIGEST_B, PROJECT_ROOT
from testing.repos import FRAUD_REPO, make_gitops_repo, point_models_at, registry_namespace
from tests.loop.test_verify import prometheus, with_checks  # noqa: F401  (a real Prometheus on loopback)
from tests.promote.test_wavegate import with_waves

SCHEMAS = PROJECT_ROOT / "schemas" / "output"
# a command and the schema of each form of its JSON output (one file per form)
FORMS = {
    "init": ["init"],
    "promote": ["promote"],
    "update": ["update"],
    "rollback": ["rollback"],
    "release-hold": ["release-hold"],
    "hydrate": ["hydrate", "hydrate-check"],
    "sites": ["sites"],
    "models": ["models"],
    "validate": ["validate"],
    "status": ["status", "status-summary"],
    "history": ["history", "history-site"],
    "diff": ["diff"],
    "render": ["render"],
    "holds": ["holds"],
    "push": ["push"],
    "check": ["check"],
    "add-site": ["add-site"],
    "remove-site": ["remove-site"],
    "verify": ["verify"],
    "rollout": ["rollout"],
}


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.json").read_text())


def valid(name: str, *args: str, cwd, code: int = 0):
    """Run the command with ``-o json``; its output, checked against the schema ``name``."""
    result = cli(*args, "-o", "json", cwd=cwd)
    assert result.code == code, result.err
    data = json.loads(result.out)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in Draft202012Validator(schema(name)).iter_errors(data)]
    assert not errors, f"{name}: {errors[:5]}"
    return data


def test_every_command_with_json_output_has_its_schemas():
    group = typer.main.get_command(app)
    with_output = {name for name, command in group.commands.items() if any(p.name == "output" for p in command.params)}
    assert with_output == set(FORMS)
    assert sorted(p.stem for p in SCHEMAS.glob("*.json")) == sorted(n for names in FORMS.values() for n in names)


def _closed_and_described(node, where: str) -> list[str]:
    """Where an object is open to other fields or a field has no description."""
    problems = []
    if isinstance(node, dict):
        if "object" in (node.get("type") if isinstance(node.get("type"), list) else [node.get("type")]):
            if node.get("additionalProperties") is not False:
                problems.append(f"{where}: additionalProperties is not false")
            if set(node.get("required", [])) - set(node.get("properties", {})):
                problems.append(f"{where}: requires a field it does not define")
        for name, field in node.get("properties", {}).items():
            if not field.get("description"):
                problems.append(f"{where}/{name}: no description")
        for key, value in node.items():
            problems += _closed_and_described(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            problems += _closed_and_described(value, f"{where}/{i}")
    return problems


@pytest.mark.parametrize("name", sorted(n for names in FORMS.values() for n in names))
def test_every_schema_is_draft_2020_12_closed_and_every_field_described(name):
    body = schema(name)
    Draft202012Validator.check_schema(body)
    assert body["$schema"] == "https://json-schema.org/draft/2020-12/schema" and body["description"]
    assert _closed_and_described(body, name) == []


def test_a_promotion_its_rollback_and_the_read_commands(tmp_path):
    repo = make_gitops_repo(tmp_path)
    work = repo.work
    image = f"{FRAUD_REPO}:1.1.0@{DIGEST_A}"
    for name in ("sites", "models", "validate", "status"):
        assert valid(name, name, cwd=work)
    assert valid("check", "check", cwd=work) == []
    assert valid("status-summary", "status", "--summary", cwd=work)[0]["count"] == 1
    assert all(m["sites"] is None for m in valid("models", "models", cwd=work))  # everywhere

    earlier = f"{FRAUD_REPO}:1.0.5@{DIGEST_B}"  # a release to roll back to (never the placeholder init wrote)
    assert cli("promote", "fraud-detector", earlier, "--to", "datacenter", cwd=work).code == 0
    dry = valid("promote", "promote", "fraud-detector", image, "--to", "datacenter", "--dry-run", cwd=work)
    assert dry["dryRun"] and dry["sites"] == ["datacenter"] and dry["commit"] is dry["branch"] is None
    done = valid("promote", "promote", "fraud-detector", image, "--to", "datacenter", cwd=work)
    assert done["sites"] == ["datacenter"] and done["branch"] == "main" and done["commit"] == repo.head() and not done["dryRun"]
    again = valid("promote", "promote", "fraud-detector", image, "--to", "datacenter", "--push", cwd=work)
    assert again["sites"] == [] and again["unchanged"] == ["datacenter"] and again["commit"] is again["branch"] is None

    rows = valid("history", "history", "fraud-detector", cwd=work)
    assert rows[0]["image"] == image and rows[0]["stage"] == "datacenter" and rows[0]["sites"] == ["datacenter"]
    one = valid("history-site", "history", "fraud-detector", "--site", "datacenter", cwd=work)
    assert [(r["action"], r["stage"]) for r in one] == [("promote", "datacenter"), ("promote", "datacenter"), ("change", "datacenter")]
    (site,) = valid("diff", "diff", "--base", "HEAD~1", cwd=work)
    assert site["stage"] == "datacenter" and site["models"][0]["to"]["image"] == image
    assert valid("render", "render", "datacenter", cwd=work)["site"] == "datacenter"

    back = valid("rollback", "rollback", "fraud-detector", "--site", "datacenter", cwd=work)
    assert back["sites"] == ["datacenter"] and back["changes"][0]["from"]["image"] == image
    noop = valid("rollback", "rollback", "fraud-detector", "--site", "datacenter", "--push", cwd=work)
    assert noop["sites"] == [] and noop["commit"] is noop["branch"] is None  # the same no-op as promote's
    (hold,) = valid("holds", "holds", cwd=work)
    assert (hold["site"], hold["stage"], hold["image"]) == ("datacenter", "datacenter", f"{FRAUD_REPO}@{DIGEST_A}")
    would = valid("release-hold", "release-hold", "fraud-detector", "--site", "datacenter", "--dry-run", cwd=work)
    assert would["dryRun"] is True and would["sites"] == ["datacenter"] and would["commit"] is None
    released = valid("release-hold", "release-hold", "fraud-detector", "--site", "datacenter", cwd=work)
    assert released["sites"] == ["datacenter"] and released["holds"][0]["stage"] == "datacenter"
    assert valid("push", "push", "--dry-run", cwd=work)["dryRun"] is True
    assert valid("push", "push", cwd=work)["pushed"] is True
    (work / "gitops-mlops.yaml").write_text(repo.read("gitops-mlops.yaml").replace("stages:\n", "stages:\n  - name: lab\n", 1))
    assert valid("check", "check", cwd=work, code=2) == [{"check": "stages", "problem": "stage 'lab' has no sites"}]


def test_init_and_the_site_commands(tmp_path):
    made = valid("init", "init", str(tmp_path / "new"), cwd=tmp_path)
    assert made["sites"] == ["datacenter", "cloud", "edge/austin-01", "edge/berlin-01", "edge/singapore-01"]
    assert "gitops-mlops.yaml" in made["files"]
    work = make_gitops_repo(tmp_path / "example").work
    would = valid("add-site", "add-site", "edge/paris-01", "--like", "edge/berlin-01", "--dry-run", cwd=work)
    assert would["dryRun"] is True and "edge/paris-01" in would["diff"]
    added = valid("add-site", "add-site", "edge/paris-01", "--like", "edge/berlin-01", cwd=work)
    assert (added["site"], added["stage"], added["branch"]) == ("edge/paris-01", "edge", "main")
    assert valid("remove-site", "remove-site", "edge/paris-01", "--dry-run", cwd=work)["dryRun"] is True
    assert valid("remove-site", "remove-site", "edge/paris-01", cwd=work)["action"] == "remove-site"


def test_hydrate_and_its_check(tmp_path):
    repo = make_gitops_repo(tmp_path)
    (repo.work / "gitops-mlops.yaml").write_text(repo.read("gitops-mlops.yaml") + "hydrate:\n  branch: hydrated\n  path: sites\n")
    repo.git("commit", "-qam", "hydrate the sites")
    assert len(valid("hydrate", "hydrate", cwd=repo.work)["sites"]) == 5
    assert valid("hydrate", "hydrate", cwd=repo.work)["sites"] == []  # already made from HEAD
    assert valid("hydrate-check", "hydrate", "--check", cwd=repo.work)["matches"] is True


def test_update_with_a_loopback_registry(tmp_path, registry, pusher):
    repo = make_gitops_repo(tmp_path)
    namespace = registry_namespace()
    point_models_at(repo, registry.host, namespace)
    digest = pusher.image(f"{namespace}/fraud-detector", "1.4.0")[0]
    dry = valid("update", "update", "--model", "fraud-detector", "--dry-run", cwd=repo.work)
    assert dry["dryRun"] and dry["updates"][0]["image"] == f"{registry.host}/{namespace}/fraud-detector:1.4.0@{digest}"
    done = valid("update", "update", "--model", "fraud-detector", cwd=repo.work)
    assert [(u["stage"], u["status"]) for u in done["updates"]][0] == ("datacenter", "updated") and done["updates"][0]["branch"] == "main"


def test_verify_with_a_real_prometheus(tmp_path, prometheus):  # noqa: F811
    repo = make_gitops_repo(tmp_path)
    with_checks(repo, prometheus.address)
    data = valid("verify", "verify", "fraud-detector", "--site", "datacenter", "--site", "cloud", "--no-record", cwd=repo.work)
    assert data["sites"] == ["datacenter", "cloud"] and [r["site"] for r in data["results"]] == data["sites"]
    assert data["results"][0]["image"].endswith(data["results"][0]["digest"]) and data["results"][0]["stage"] == "datacenter"


def test_digests_that_differ_keep_their_own_rows(tmp_path):
    """A rollback to different builds at two sites: history names no single image or digest."""
    repo = make_gitops_repo(tmp_path)
    for digest, stage in ((DIGEST_A, "datacenter"), ("sha256:" + "e" * 64, "cloud")):
        assert cli("promote", "fraud-detector", f"{FRAUD_REPO}:1.1.0@{digest}", "--to", stage, "--force-order", cwd=repo.work).code == 0
    assert cli("promote", "fraud-detector", f"{FRAUD_REPO}:1.2.0@{DIGEST_B}", "--to", "datacenter", cwd=repo.work).code == 0
    assert cli("promote", "fraud-detector", f"{FRAUD_REPO}:1.2.0@{DIGEST_B}", "--to", "cloud", cwd=repo.work).code == 0
    assert cli("rollback", "fraud-detector", "--site", "datacenter", "--site", "cloud", cwd=repo.work).code == 0
    latest = valid("history", "history", "fraud-detector", "-n", "1", cwd=repo.work)[0]
    assert latest["action"] == "rollback" and latest["image"] is latest["digest"] is latest["stage"] is None
    assert sorted(latest["sites"]) == ["cloud", "datacenter"]


def test_a_rollout_step_and_the_status_of_a_rollout(tmp_path):
    repo = make_gitops_repo(tmp_path)
    with_waves(repo)
    for stage in ("datacenter", "cloud"):
        assert cli("promote", "fraud-detector", f"{FRAUD_REPO}:1.2.0@{DIGEST_B}", "--to", stage, cwd=repo.work).code == 0
    step = valid("rollout", "rollout", "fraud-detector", f"{FRAUD_REPO}:1.2.0@{DIGEST_B}", "--to", "edge", cwd=repo.work)
    assert step["state"] == "in-progress" and len(step["commits"]) == 1
    groups = valid("status-summary", "status", "--summary", "--model", "fraud-detector", cwd=repo.work)
    (rollout,) = {json.dumps(g["rollout"]) for g in groups if g["stage"] == "edge"}
    assert json.loads(rollout)["sitesAtDigest"] == 1 and json.loads(rollout)["waves"] == 3
    rows = valid("status", "status", "--site", "edge", cwd=repo.work)
    assert sorted(r["wave"] for r in rows if r["model"] == "fraud-detector") == [1, 2, 3]
