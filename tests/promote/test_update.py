"""update: the newest tag each stage's constraint allows, promoted stage by stage, with holds;
the real registry on loopback, real git and kustomize."""

from __future__ import annotations

import json

import pytest

from gitops_mlops.core.errors import RegistryError
from gitops_mlops.pins.kustomization import parse
from gitops_mlops.promote.update import Options, update
from testing.cli import cli
from testing.registry_server import PASSWORD, USER
from testing.repos import git, point_models_at, registry_namespace, tree_snapshot

FD = ("fraud-detector",)


def pin(repo, site: str, image: str = "InferenceService/fraud-detector"):
    path = f"overlays/{site}/kustomization.yaml"
    return parse(repo.read(path), path).pin(image)


def trailers(repo, ref="HEAD") -> dict[str, str]:
    out = repo.git("log", "-1", "--format=%(trailers:only,unfold)", ref)
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def configure(repo, host: str, stages: dict[str, str] | None = None, extra: str = "", runtime: str = "") -> str:
    """Models in a fresh namespace of the registry at ``host``; ``stages`` adds lines under a stage,
    ``runtime`` lines (indented as its keys) under the model openvino-model-server."""
    ns = registry_namespace()
    path = repo.work / "gitops-mlops.yaml"
    text = path.read_text()
    for stage, lines in (stages or {}).items():
        text = text.replace(f"  - name: {stage}\n", f"  - name: {stage}\n" + "".join(f"    {line}\n" for line in lines.split(";")))
    if runtime:
        marker = "    repository: quay.io/example/openvino-model-server"
        end = text.index("\n", text.index(marker)) + 1
        text = text[:end] + runtime + text[end:]
    path.write_text(text)
    point_models_at(repo, host, ns, extra=extra)
    return ns


def push_tags(pusher, repo: str, tags: list[str]) -> dict[str, str]:
    return {tag: pusher.image(repo, tag)[0] for tag in tags}


def by_stage(report) -> dict[str, tuple[str, str]]:
    return {u.stage: (u.status, u.version) for u in report.updates}


def test_highest_allowed_tag_goes_to_the_first_stage_only(gitops_repo, registry, pusher):
    ns = configure(gitops_repo, registry.host)
    digests = push_tags(pusher, f"{ns}/fraud-detector", ["1.2.0", "1.4.0", "2.0.0", "latest", "2.1.0-rc.1", "v1.9.0"])
    head = gitops_repo.head()
    report = update(gitops_repo.work, Options(models=FD))
    assert by_stage(report) == {"datacenter": ("updated", "2.0.0"), "cloud": ("waiting", "2.0.0"), "edge": ("waiting", "2.0.0")}
    assert gitops_repo.git("rev-list", "--count", f"{head}..HEAD").strip() == "1"
    assert pin(gitops_repo, "datacenter").digest == digests["2.0.0"] and pin(gitops_repo, "cloud").new_tag == "1.0.0"
    assert trailers(gitops_repo) == {
        "Model": "fraud-detector",
        "Model-Version": "2.0.0",
        "Image": f"{registry.host}/{ns}/fraud-detector:2.0.0@{digests['2.0.0']}",
        "Sites": "datacenter",
        "Action": "promote",
    }
    assert "cloud needs every site of the earlier stages" in report.updates[1].note


def test_stages_advance_one_per_run_then_nothing_to_do(gitops_repo, registry, pusher):
    ns = configure(gitops_repo, registry.host)
    digest = push_tags(pusher, f"{ns}/fraud-detector", ["1.5.0"])["1.5.0"]
    for expected in ("datacenter", "cloud", "edge"):
        report = update(gitops_repo.work, Options(models=FD))
        assert [u.stage for u in report.updates if u.status == "updated"] == [expected]
    assert trailers(gitops_repo)["Sites"] == "edge/austin-01, edge/berlin-01, edge/singapore-01"
    head = gitops_repo.head()
    report = update(gitops_repo.work, Options(models=FD))
    assert {u.status for u in report.updates} == {"up-to-date"} and gitops_repo.head() == head
    assert all(pin(gitops_repo, s).digest == digest for s in ("datacenter", "cloud", "edge/berlin-01"))


def test_stage_constraint_limits_the_version(gitops_repo, registry, pusher):
    ns = configure(gitops_repo, registry.host, {"datacenter": 'constraint: ">=1.2.0 <2.0.0"'})
    digests = push_tags(pusher, f"{ns}/fraud-detector", ["1.2.0", "1.9.3", "2.0.0", "1.10.0-rc.1"])
    report = update(gitops_repo.work, Options(models=FD))
    assert by_stage(report)["datacenter"] == ("updated", "1.9.3")
    assert pin(gitops_repo, "datacenter").digest == digests["1.9.3"]


def test_prereleases_only_where_the_stage_allows_them(gitops_repo, registry, pusher):
    ns = configure(gitops_repo, registry.host, {"datacenter": "prereleases: true"})
    push_tags(pusher, f"{ns}/fraud-detector", ["1.4.0", "1.5.0-rc.1"])
    report = update(gitops_repo.work, Options(models=FD))
    assert by_stage(report)["datacenter"] == ("updated", "1.5.0-rc.1")
    assert by_stage(report)["cloud"] == ("waiting", "1.4.0")  # no pre-releases there; 1.4.0 is not in datacenter yet


def test_no_matching_tag_is_reported_not_an_error(gitops_repo, registry, pusher):
    ns = configure(gitops_repo, registry.host, {"datacenter": 'constraint: ">=5.0.0"'})
    push_tags(pusher, f"{ns}/fraud-detector", ["1.4.0"])
    report = update(gitops_repo.work, Options(models=FD))
    assert by_stage(report)["datacenter"][0] == "no-match" and "matches >=5.0.0" in report.updates[0].note


def test_held_digest_skips_that_site(gitops_repo, registry, pusher):
    ns = configure(gitops_repo, registry.host)
    digest = push_tags(pusher, f"{ns}/fraud-detector", ["1.5.0"])["1.5.0"]
    update(gitops_repo.work, Options(models=FD))
    update(gitops_repo.work, Options(models=FD))
    path = gitops_repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text().replace("holds: []\n", f"holds:\n  - model: fraud-detector\n    site: edge/berlin-01\n    digest: {digest}\n"))
    gitops_repo.git("commit", "-qam", "hold")
    report = update(gitops_repo.work, Options(models=FD))
    edge = next(u for u in report.updates if u.stage == "edge")
    assert edge.status == "updated" and edge.sites == ("edge/austin-01", "edge/singapore-01") and edge.held == ("edge/berlin-01",)
    assert pin(gitops_repo, "edge/berlin-01").new_tag == "1.0.0"


def test_site_selector_limits_the_update(gitops_repo, registry, pusher):
    ns = configure(gitops_repo, registry.host)
    push_tags(pusher, f"{ns}/fraud-detector", ["1.5.0"])
    update(gitops_repo.work, Options(models=FD))
    update(gitops_repo.work, Options(models=FD))
    report = update(gitops_repo.work, Options(models=FD, selectors=("edge/austin-01",)))
    assert [(u.stage, u.status, u.sites) for u in report.updates] == [("edge", "updated", ("edge/austin-01",))]
    assert pin(gitops_repo, "edge/berlin-01").new_tag == "1.0.0"


def test_a_registry_failure_for_any_model_changes_nothing(gitops_repo, registry, pusher):
    ns = configure(gitops_repo, registry.host)
    push_tags(pusher, f"{ns}/fraud-detector", ["1.5.0"])  # demand-forecast has no repository there
    snap, head = tree_snapshot(gitops_repo.work), gitops_repo.head()
    result = cli("update", cwd=gitops_repo.work)
    assert result.code == 6
    assert result.err.strip() == f"error: registry {registry.host}: repository {ns}/demand-forecast: tag list: unknown repository"
    assert tree_snapshot(gitops_repo.work) == snap and gitops_repo.head() == head


def test_dry_run_shows_the_diff_and_writes_nothing(gitops_repo, registry, pusher):
    ns = configure(gitops_repo, registry.host)
    digest = push_tags(pusher, f"{ns}/fraud-detector", ["1.5.0"])["1.5.0"]
    snap = tree_snapshot(gitops_repo.work)
    result = cli("update", "--model", "fraud-detector", "--dry-run", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    assert (
        f"+        value: oci://{registry.host}/{ns}/fraud-detector:1.5.0@{digest}" in result.out
        and "would-update" in result.out
        and "nothing written" in result.err
    )
    assert tree_snapshot(gitops_repo.work) == snap


def test_push_and_json_output(gitops_repo, registry, pusher):
    ns = configure(gitops_repo, registry.host)
    push_tags(pusher, f"{ns}/fraud-detector", ["1.5.0"])
    push_tags(pusher, f"{ns}/demand-forecast", ["1.0.0", "1.1.0"])
    push_tags(pusher, f"{ns}/openvino-model-server", ["1.0.0", "1.2.0"])  # the serving runtime is promoted like a model
    gitops_repo.git("push", "-q", "origin", "main")
    result = cli("update", "--push", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    updated = [(u["model"], u["stage"], u["version"]) for u in data["updates"] if u["status"] == "updated"]
    assert updated == [("fraud-detector", "datacenter", "1.5.0"), ("demand-forecast", "datacenter", "1.1.0"), ("openvino-model-server", "datacenter", "1.2.0")]
    assert all(u["pushed"] for u in data["updates"] if u["status"] == "updated")
    assert data["requests"] == 6  # one tag list per model, one manifest HEAD per chosen tag
    assert gitops_repo.remote_head() == next(u["commit"] for u in data["updates"] if u["model"] == "openvino-model-server" and u["status"] == "updated")
    assert git(gitops_repo.remote, "rev-list", "--count", "main").strip() == "5"  # init, config, one commit per model (runtime included)


@pytest.mark.slow
def test_thousands_of_tags(gitops_repo, registry, pusher):
    ns = configure(gitops_repo, registry.host)
    _, manifest = pusher.image(f"{ns}/fraud-detector", "0.0.1")
    pusher.tags(f"{ns}/fraud-detector", manifest, [f"1.{minor}.{patch}" for minor in range(30) for patch in range(100)])
    top = pusher.image(f"{ns}/fraud-detector", "1.30.0")[0]
    report = update(gitops_repo.work, Options(models=FD))
    assert by_stage(report)["datacenter"] == ("updated", "1.30.0") and pin(gitops_repo, "datacenter").digest == top


def test_token_auth_registry(gitops_repo, token_registry, monkeypatch):
    ns = configure(gitops_repo, token_registry.host)
    pusher = token_registry.pusher()
    digest = pusher.image(f"{ns}/fraud-detector", "1.5.0")[0]
    pusher.close()
    with pytest.raises(RegistryError, match="token from .*401"):
        update(gitops_repo.work, Options(models=FD))
    monkeypatch.setenv("GITOPS_MLOPS_REGISTRY_USERNAME", USER)
    monkeypatch.setenv("GITOPS_MLOPS_REGISTRY_PASSWORD", PASSWORD)
    report = update(gitops_repo.work, Options(models=FD))
    assert by_stage(report)["datacenter"] == ("updated", "1.5.0") and pin(gitops_repo, "datacenter").digest == digest


def test_failed_validation_leaves_the_branch_and_files_as_they_were(gitops_repo, registry, pusher):
    ns = configure(gitops_repo, registry.host)
    push_tags(pusher, f"{ns}/fraud-detector", ["1.5.0"])
    push_tags(pusher, f"{ns}/demand-forecast", ["1.1.0"])
    path = gitops_repo.work / "overlays/datacenter/kustomization.yaml"
    path.write_text(path.read_text() + "configMapGenerator:\n  - name: settings\n    files:\n      - missing-file.properties\n")
    gitops_repo.git("commit", "-qam", "a generator whose file is missing")
    files = lambda: {k: v for k, v in tree_snapshot(gitops_repo.work).items() if not k.startswith("work/.git/")}  # noqa: E731
    snap, head, refs = files(), gitops_repo.head(), gitops_repo.git("show-ref")
    result = cli("update", cwd=gitops_repo.work)
    assert result.code == 4 and "validation failed, nothing changed" in result.err and "datacenter" in result.err
    # the two local commits were made, then dropped: files, HEAD and refs as before (only unreachable objects remain)
    assert gitops_repo.head() == head and gitops_repo.git("show-ref") == refs and files() == snap
    assert gitops_repo.git("status", "--porcelain") == ""


@pytest.fixture
def gitlab(gitops_repo):
    """A loopback server written to GitLab's documented merge-request endpoints (a contract test), named
    as the repository's forge in a commit."""
    from testing.forge_servers import GitLabServer

    server = GitLabServer("ml/gitops", "tok-123")
    path = gitops_repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text() + f"forge:\n  type: gitlab\n  url: {server.url}\n  repository: ml/gitops\n")
    gitops_repo.git("commit", "-qam", "forge")
    yield server
    server.close()


def test_update_on_a_branch_opens_one_merge_request_for_all_models(gitops_repo, registry, pusher, gitlab):
    ns = configure(gitops_repo, registry.host)
    push_tags(pusher, f"{ns}/fraud-detector", ["1.5.0"])
    push_tags(pusher, f"{ns}/demand-forecast", ["2.0.0"])
    gitops_repo.git("push", "--quiet", "origin", "main")  # the branch starts from the remote's tip
    models = ("--model", "fraud-detector", "--model", "demand-forecast")
    args = ("update", *models, "--branch", "update/all", "--open-pr", "--insecure-registry", registry.host, "-o", "json")
    result = cli(*args, cwd=gitops_repo.work, env={"GITLAB_TOKEN": "tok-123"})
    assert result.code == 0, result.err
    updated = [u for u in json.loads(result.out)["updates"] if u["status"] == "updated"]
    assert {u["model"] for u in updated} == {"fraud-detector", "demand-forecast"}
    assert {u["pullRequestUrl"] for u in updated} == {"http://gitlab.test/ml/gitops/-/merge_requests/1"}
    assert {u["branch"] for u in updated} == {"update/all"}
    (mr,) = gitlab.merge_requests
    assert mr["title"] == "Update fraud-detector 1.5.0, demand-forecast 2.0.0"
    assert "### Promote fraud-detector 1.5.0 to datacenter" in mr["description"] and "### Promote demand-forecast 2.0.0" in mr["description"]
    assert git(gitops_repo.remote, "rev-list", "--count", "main..update/all").strip() == "2"  # one commit per model, main untouched


def test_a_dry_run_with_open_pr_asks_the_forge_first(gitops_repo, registry, pusher, gitlab):
    ns = configure(gitops_repo, registry.host)
    push_tags(pusher, f"{ns}/fraud-detector", ["1.5.0"])
    args = ("update", "--model", "fraud-detector", "--branch", "update/fd", "--open-pr", "--dry-run", "--insecure-registry", registry.host)
    refused = cli(*args, cwd=gitops_repo.work, env={"GITLAB_TOKEN": "wrong"})
    assert refused.code == 5 and "token was refused" in refused.err
    fine = cli(*args, cwd=gitops_repo.work, env={"GITLAB_TOKEN": "tok-123"})
    assert fine.code == 0, fine.err
    assert gitlab.merge_requests == [] and [s.method for s in gitlab.recorder.seen] == ["GET", "GET"]


def test_update_on_an_existing_branch_reuses_it_only_for_the_same_whole_change(gitops_repo, registry, pusher):
    ns = configure(gitops_repo, registry.host)
    push_tags(pusher, f"{ns}/fraud-detector", ["1.5.0"])
    push_tags(pusher, f"{ns}/demand-forecast", ["2.0.0"])
    args = ("update", "--model", "fraud-detector", "--model", "demand-forecast", "--branch", "update/all", "--insecure-registry", registry.host, "-o", "json")
    first = cli(*args, cwd=gitops_repo.work)
    assert first.code == 0, first.err
    tip = gitops_repo.git("rev-parse", "update/all").strip()
    gitops_repo.git("checkout", "--quiet", "main")
    later = {"GIT_AUTHOR_DATE": "2030-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2030-01-01T00:00:00Z"}  # this run's commits differ from the branch's
    again = cli(*args, cwd=gitops_repo.work, env=later)  # the same two commits' change: the branch is the result
    assert again.code == 0, again.err
    assert [u["commit"] for u in json.loads(again.out)["updates"] if u["commit"]] == gitops_repo.git("rev-list", "--reverse", "main..update/all").split()
    assert gitops_repo.git("rev-parse", "update/all").strip() == tip
    # the same last commit on a branch that also carries a change of its own: not the same change
    gitops_repo.git("checkout", "--quiet", "-B", "update/all", "main")
    (gitops_repo.work / "NOTES.md").write_text("a change by hand\n")
    gitops_repo.git("add", "NOTES.md")
    gitops_repo.git("commit", "--quiet", "-m", "by hand")
    gitops_repo.git("cherry-pick", "--quiet", f"{tip}~1", tip)
    gitops_repo.git("checkout", "--quiet", "main")
    refused = cli(*args, cwd=gitops_repo.work)
    assert refused.code == 5 and "already exists with another change" in refused.err


def test_a_stage_with_waves_is_left_to_rollout(gitops_repo, registry, pusher):
    ns = configure(gitops_repo, registry.host, {"edge": "waves:;  - sites: 1;  - sites: 100%"})
    push_tags(pusher, f"{ns}/fraud-detector", ["2.0.0"])
    for _ in range(2):  # datacenter, then cloud
        update(gitops_repo.work, Options(models=FD))
    head = gitops_repo.head()
    report = update(gitops_repo.work, Options(models=FD))
    (edge,) = [u for u in report.updates if u.stage == "edge"]
    assert (edge.status, edge.version) == ("waiting", "2.0.0") and "gitops-mlops rollout fraud-detector" in edge.note
    assert gitops_repo.head() == head


def test_a_stage_waits_for_its_soak_at_the_stage_before(gitops_repo, registry, pusher, monkeypatch):
    from datetime import UTC, datetime, timedelta

    ns = configure(gitops_repo, registry.host, {"cloud": "soak: 1h"})
    push_tags(pusher, f"{ns}/fraud-detector", ["2.0.0"])
    start = datetime.now(UTC)

    def at(hours: float) -> None:
        when = (start + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
        monkeypatch.setenv("GITOPS_MLOPS_NOW", when)
        monkeypatch.setenv("GIT_COMMITTER_DATE", when)

    at(0)
    assert by_stage(update(gitops_repo.work, Options(models=FD)))["datacenter"] == ("updated", "2.0.0")
    at(0.5)
    head = gitops_repo.head()
    report = update(gitops_repo.work, Options(models=FD))
    (cloud,) = [u for u in report.updates if u.stage == "cloud"]
    assert (cloud.status, cloud.version) == ("waiting", "2.0.0") and "stage cloud soak: datacenter has run" in cloud.note and "30m left" in cloud.note
    assert gitops_repo.head() == head
    at(1.5)
    assert by_stage(update(gitops_repo.work, Options(models=FD)))["cloud"] == ("updated", "2.0.0")
