"""--to STAGE takes the sites of the stage where the model lives, and the stage gate reads only
those; a site that cannot render is named with kustomize's error, never as "not yet".

Repositories with several apps per stage, each a fixture (a bare remote and a clone) rendered by
the real kustomize: exit codes, the rendered images afterwards, nothing changed on a refusal.
"""

from __future__ import annotations

import json

from testing.repos import make_repo_from
from tests.render.test_state_truth import D0, D1, DF_REPO, REPO, config, deployment, pin, promote, refused, rendered_images, unchanged

MODELS = f"  - name: fraud-detector\n    repository: {REPO}\n  - name: demand-forecast\n    repository: {DF_REPO}\n"
LISTED = (
    f"  - name: fraud-detector\n    repository: {REPO}\n    sites: [dev/a, prod/a]\n"
    f"  - name: demand-forecast\n    repository: {DF_REPO}\n    sites: [dev/b, prod/b]\n"
)
BROKEN = "resources:\n  - ../../../base/df\n  - missing.yaml\n"


def apps(models: str = MODELS, **overlays: str) -> dict[str, str]:
    """Stages dev and prod; at each, site a serves fraud-detector and site b demand-forecast."""
    files = {
        "base/fd/kustomization.yaml": "resources:\n  - deployment.yaml\n",
        "base/fd/deployment.yaml": deployment("fraud-detector", "fraud-detector"),
        "base/df/kustomization.yaml": "resources:\n  - deployment.yaml\n",
        "base/df/deployment.yaml": deployment("demand-forecast", "demand-forecast"),
        "gitops-mlops.yaml": config(models=models),
    }
    for stage in ("dev", "prod"):
        files[f"overlays/{stage}/a/kustomization.yaml"] = "resources:\n  - ../../../base/fd\n" + pin()
        files[f"overlays/{stage}/b/kustomization.yaml"] = "resources:\n  - ../../../base/df\n" + pin("demand-forecast", DF_REPO)
    for site, text in overlays.items():
        files[f"overlays/{site.replace('_', '/')}/kustomization.yaml"] = text
    return files


def test_to_stage_takes_the_sites_whose_render_runs_the_model_and_names_the_others(tmp_path):
    repo = make_repo_from(tmp_path, apps())
    result = promote(repo, "--to", "dev", "--push", "-o", "json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["sites"] == ["dev/a"] and data["notRunning"] == ["dev/b"]
    assert "note: fraud-detector does not run at 1 selected site (dev/b): left as they are" in result.err
    assert rendered_images(repo, "overlays/dev/a") == [f"{REPO}:1.1.0@{D1}"]
    assert rendered_images(repo, "overlays/dev/b") == [f"{DF_REPO}:1.0.0@{D0}"]
    assert repo.remote_head() == repo.head()


def test_the_gate_reads_only_the_earlier_sites_that_run_the_model(tmp_path):
    repo = make_repo_from(tmp_path, apps())
    before = unchanged(repo)
    refused(repo, before, promote(repo, "--to", "prod"), 3, "not yet: dev/a (use --force-order")  # dev/b is not waited for
    assert promote(repo, "--to", "dev").code == 0
    result = promote(repo, "--to", "prod", "-o", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["sites"] == ["prod/a"] and json.loads(result.out)["notRunning"] == ["prod/b"]
    assert rendered_images(repo, "overlays/prod/a") == [f"{REPO}:1.1.0@{D1}"]
    assert rendered_images(repo, "overlays/prod/b") == [f"{DF_REPO}:1.0.0@{D0}"]


def test_a_site_named_exactly_that_does_not_run_the_model_stays_an_error(tmp_path):
    repo = make_repo_from(tmp_path, apps())
    before = unchanged(repo)
    refused(repo, before, promote(repo, "--to", "dev/b"), 4, "site dev/b: no workload in its render runs fraud-detector")
    refused(repo, before, promote(repo, "--to", "dev/b*"), 4, "none of the selected sites runs fraud-detector (dev/b render no workload")


def test_the_models_sites_list_decides_without_a_render(tmp_path):
    repo = make_repo_from(tmp_path, apps(LISTED))
    result = promote(repo, "--to", "dev", "-o", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["sites"] == ["dev/a"] and json.loads(result.out)["notRunning"] == ["dev/b"]
    assert rendered_images(repo, "overlays/dev/a") == [f"{REPO}:1.1.0@{D1}"]
    before = unchanged(repo)
    refused(repo, before, promote(repo, "--to", "dev/b*"), 2, "model fraud-detector lives at none of the selected sites (dev/b)")


def test_an_earlier_site_that_cannot_render_is_named_with_kustomizes_error(tmp_path):
    repo = make_repo_from(tmp_path, apps(dev_b=BROKEN))
    assert promote(repo, "--to", "dev/a").code == 0
    before = unchanged(repo)
    result = promote(repo, "--to", "prod")
    refused(repo, before, result, 4, "cannot render: dev/b (site dev/b: overlays/dev/b/kustomization.yaml: resource 'missing.yaml': does not exist)")
    assert "not yet" not in result.err
    forced = promote(repo, "--to", "prod", "--force-order")
    assert forced.code == 0, forced.err
    assert rendered_images(repo, "overlays/prod/a") == [f"{REPO}:1.1.0@{D1}"]


def test_a_site_outside_the_models_sites_that_cannot_render_does_not_hold_the_gate(tmp_path):
    repo = make_repo_from(tmp_path, apps(LISTED, dev_b=BROKEN))
    assert promote(repo, "--to", "dev").code == 0
    result = promote(repo, "--to", "prod", "--push")
    assert result.code == 0, result.err
    assert rendered_images(repo, "overlays/prod/a") == [f"{REPO}:1.1.0@{D1}"] and repo.remote_head() == repo.head()


def test_a_kustomize_error_at_an_earlier_site_is_its_own_words(tmp_path):
    bad_patch = "resources:\n  - ../../../base/df\npatches:\n  - path: nowhere.yaml\n"
    repo = make_repo_from(tmp_path, apps(dev_b=bad_patch))
    assert promote(repo, "--to", "dev/a").code == 0
    before = unchanged(repo)
    result = promote(repo, "--to", "prod")
    refused(repo, before, result, 4, "cannot render: dev/b (")
    assert "nowhere.yaml" in result.err and "not yet" not in result.err
