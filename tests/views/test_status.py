"""status: what runs where, read from each site's render."""

from __future__ import annotations

import json

from gitops_mlops.pins.kustomization import fast_pins, parse
from gitops_mlops.views.status import read_status
from testing.cli import cli
from testing.paths import DIGEST_B, status_row_keys
from testing.repos import make_repo_from, one_model_repo, rendered_images, ship
from tests.render.test_state_truth import BASE, D0, D1, D2, WRAPPED, config, deployment, pin, promote
from tests.render.test_state_truth import REPO as ACME

REPO = "quay.io/example/fraud-detector"


def test_status_lists_every_model_at_every_site(gitops_repo):
    rows = read_status(gitops_repo.work).rows
    assert len(rows) == 3 * 5  # fraud-detector (a modelcar), demand-forecast and the serving runtime, at 5 sites
    assert {r.model for r in rows if r.image.startswith("quay.io/example/fraud-detector:")} == {"fraud-detector"}
    assert {r.version for r in rows} == {"1.0.0"} and not any(r.drift or r.behind for r in rows)


def test_status_marks_drift_and_lagging_stages(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud", "edge/berlin-01")
    rows = {(r.model, r.site): r for r in read_status(gitops_repo.work, models=("fraud-detector",)).rows}
    assert rows[("fraud-detector", "cloud")].version == "1.4.0" and not rows[("fraud-detector", "cloud")].behind
    assert rows[("fraud-detector", "edge/berlin-01")].drift and not rows[("fraud-detector", "edge/berlin-01")].behind
    assert rows[("fraud-detector", "edge/austin-01")].behind


def test_status_json(gitops_repo):
    result = cli("status", "--site", "edge", "-o", "json", cwd=gitops_repo.work)
    import json

    rows = json.loads(result.out)
    assert result.code == 0 and len(rows) == 3 * 3
    assert set(rows[0]) == status_row_keys()


def test_fast_pin_reader_agrees_with_the_parser(gitops_repo):
    for path in gitops_repo.work.glob("overlays/**/kustomization.yaml"):
        text = path.read_text()
        fast = fast_pins(text)
        assert fast is not None, f"{path} should take the fast path"
        assert fast == parse(text, str(path)).pins


def test_summary_counts_sites_per_model_stage_and_version(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    result = cli("status", "--summary", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    rows = {(r["model"], r["stage"], r["version"]): r for r in json.loads(result.out)}
    assert rows[("fraud-detector", "edge", "1.0.0")]["count"] == 3
    assert rows[("fraud-detector", "cloud", "1.4.0")] == {
        "model": "fraud-detector",
        "stage": "cloud",
        "version": "1.4.0",
        "digest": DIGEST_B,
        "image": f"{REPO}:1.4.0@{DIGEST_B}",
        "placeholder": False,
        "count": 1,
        "rollout": None,
    }
    assert sum(r["count"] for r in rows.values()) == 15  # 3 models x 5 sites
    table = cli("status", "--summary", cwd=gitops_repo.work).out.splitlines()
    assert table[0].split() == ["MODEL", "STAGE", "VERSION", "DIGEST", "SITES"] and len(table) == 1 + len(rows)
    assert any(line.split()[:3] == ["fraud-detector", "edge", "placeholder"] and line.split()[-1] == "3" for line in table)  # what init wrote
    assert any(line.split()[:3] == ["fraud-detector", "cloud", "1.4.0"] for line in table)


def test_status_finds_a_docker_hub_model_however_the_manifests_spell_it(tmp_path):
    repo = one_model_repo(tmp_path, "team/app:1.0", "docker.io/team/app")
    result = cli("status", "-o", "json", cwd=repo.work)
    assert result.code == 0, result.err
    rows = {r["site"]: r for r in json.loads(result.out)}
    assert set(rows) == {"dev", "prod"}
    assert rows["dev"]["image"] == "team/app:1.0" and rows["dev"]["version"] == "1.0" and not rows["dev"]["pinned"]
    assert rows["dev"]["source"] == "Deployment/app (base/deployment.yaml)"


def test_status_says_pin_where_a_pin_renames_another_spelling_to_the_image(tmp_path):
    pins = f"images:\n  - name: nginx\n    newName: docker.io/nginx\n    newTag: 1.4.0\n    digest: {DIGEST_B}\n"
    repo = one_model_repo(tmp_path, "nginx:1.0", "docker.io/library/nginx", pins=pins)
    assert rendered_images(repo, "overlays/dev") == [f"docker.io/nginx:1.4.0@{DIGEST_B}"]
    rows = {r.site: r for r in read_status(repo.work).rows}
    assert rows["dev"].model == "app" and rows["dev"].source == "pin" and rows["dev"].pinned
    assert (rows["dev"].version, rows["dev"].digest) == ("1.4.0", DIGEST_B)


# ---------------------------------------------------------------- where a wrapping site's pin is set

TWO_SITES = "  - name: dev\n    path: overlays/dev\n  - name: prod\n    path: overlays/prod\n"


def sources(repo) -> dict[str, tuple[bool, str, str]]:
    result = cli("status", "-o", "json", cwd=repo.work)
    assert result.code == 0, result.err
    return {r["site"]: (r["pinned"], r["source"], r["image"]) for r in json.loads(result.out)}


def test_status_names_the_kustomization_whose_pin_a_wrapping_site_takes(tmp_path):
    files = {
        **BASE,
        "gitops-mlops.yaml": config(TWO_SITES),
        "overlays/common/kustomization.yaml": "resources:\n  - ../../base\n" + pin(),
        "overlays/dev/kustomization.yaml": "resources:\n  - ../common\n",
        "overlays/prod/kustomization.yaml": "resources:\n  - ../common\nnamePrefix: prod-\n",
    }
    repo = make_repo_from(tmp_path, files)
    image = f"{ACME}:1.0.0@{D0}"
    assert rendered_images(repo, "overlays/prod") == [image]
    assert sources(repo) == {s: (False, "overlays/common/kustomization.yaml", image) for s in ("dev", "prod")}


def test_status_names_the_base_kustomization_that_pins_not_the_manifest_naming_the_placeholder(tmp_path):
    files = {
        "base/kustomization.yaml": "resources:\n  - deployment.yaml\n" + pin(tag="0.9.0", digest=D2),
        "base/deployment.yaml": deployment("fraud-detector", "fraud-detector"),
        "gitops-mlops.yaml": config(),
        "overlays/dev/kustomization.yaml": "resources:\n  - ../../base\n",
        "overlays/prod/kustomization.yaml": "resources:\n  - ../../base\n",
    }
    repo = make_repo_from(tmp_path, files)
    assert sources(repo)["dev"] == (False, "base/kustomization.yaml", f"{ACME}:0.9.0@{D2}")


def test_status_of_a_wrapper_whose_own_pin_does_not_apply_names_the_wrapped_overlay(tmp_path):
    repo = make_repo_from(tmp_path, {**WRAPPED, "gitops-mlops.yaml": config(TWO_SITES)})
    repository = ACME
    assert rendered_images(repo, "overlays/prod") == [f"{repository}:1.0.0@{D0}"]  # prod's own pin of 0.9.0 never applies
    assert sources(repo)["prod"] == (True, "overlays/dev-wrapped/kustomization.yaml", f"{repository}:1.0.0@{D0}")
    assert promote(repo, "--to", "dev").code == 0 and promote(repo, "--to", "prod").code == 0
    assert sources(repo)["prod"] == (True, "pin", f"{repository}:1.1.0@{D1}")  # prod now pins the name the image arrives with


def test_status_marks_the_placeholder_pins_init_wrote_and_not_a_released_digest(gitops_repo):
    before = json.loads(cli("status", "-o", "json", "--model", "fraud-detector", cwd=gitops_repo.work).out)
    assert before and all(row["placeholder"] for row in before)
    table = cli("status", "--model", "fraud-detector", "--site", "datacenter", cwd=gitops_repo.work).out.splitlines()
    assert table[1].split()[3] == "placeholder"
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    after = {row["site"]: row for row in json.loads(cli("status", "-o", "json", "--model", "fraud-detector", cwd=gitops_repo.work).out)}
    assert not after["datacenter"]["placeholder"] and after["datacenter"]["version"] == "1.4.0"
    assert after["cloud"]["placeholder"]
    summary = json.loads(cli("status", "--summary", "-o", "json", "--model", "fraud-detector", cwd=gitops_repo.work).out)
    assert {(d["stage"], d["placeholder"]) for d in summary} == {("datacenter", False), ("cloud", True), ("edge", True)}


def test_a_rendered_canary_percentage_that_is_no_number_shows_no_split(gitops_repo):
    """canaryTrafficPercent comes from the render (a base may set anything): a value int() cannot read is no traffic split."""
    path = gitops_repo.work / "base/fraud-detector/inferenceservice.yaml"
    path.write_text(path.read_text().replace("  predictor:\n", '  predictor:\n    canaryTrafficPercent: "\u00b2"\n', 1))
    gitops_repo.git("commit", "-qam", "a canary percentage no one can read")
    result = cli("status", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    assert all(row["traffic"] is None for row in json.loads(result.out) if row["model"] == "fraud-detector")
