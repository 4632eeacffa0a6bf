"""diff reads each model's before -> after from the two refs' renders, wherever the image is set:
a pin removed (the site falls back to its base), a change in a base, a patch that sets the image.

Each shape is a fixture repository (a bare remote and a clone) rendered by the real kustomize;
the markdown and JSON forms of two of them are compared with golden files in tests/views/golden_diff/.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from testing.cli import cli
from testing.repos import GitOpsRepo, make_repo_from, tree_snapshot
from tests.render.test_state_truth import D0, D1, D2, REPO, config, deployment, pin, rendered_images

GOLDEN = Path(__file__).parent / "golden_diff"
D3 = "sha256:" + "3" * 64
PATCH = f"""patches:
  - target:
      kind: Deployment
      name: fraud-detector
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/image
        value: {REPO}:1.3.0@{D3}
"""

FILES = {
    "base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
    "base/deployment.yaml": deployment("fraud-detector", f"{REPO}:1.0.0@{D0}"),
    "gitops-mlops.yaml": config(),
    "overlays/dev/kustomization.yaml": "resources:\n  - ../../base\n" + pin(REPO, tag="1.1.0", digest=D1),
    "overlays/prod/kustomization.yaml": "resources:\n  - ../../base\n",
}


def commit(repo: GitOpsRepo, path: str, text: str, message: str) -> None:
    (repo.work / path).write_text(text)
    repo.git("commit", "-qam", message)


def diff(repo: GitOpsRepo, base: str, *args: str):
    before = tree_snapshot(repo.work)
    result = cli("diff", "--base", base, *args, cwd=repo.work)
    assert result.code == 0, result.err
    assert tree_snapshot(repo.work) == before  # reading never writes
    return result


def golden(name: str, text: str, repo: GitOpsRepo, base: str) -> None:
    """``text`` with the two commits' short names as BASE and HEAD equals tests/views/golden_diff/NAME
    (GITOPS_MLOPS_WRITE_GOLDEN=1 writes it instead, to be read before it is committed)."""
    text = text.replace(base[:12], "BASE").replace(repo.head()[:12], "HEAD")
    path = GOLDEN / name
    if os.environ.get("GITOPS_MLOPS_WRITE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text()


@pytest.fixture
def repo(tmp_path) -> GitOpsRepo:
    return make_repo_from(tmp_path, FILES)


def test_a_removed_pin_shows_what_the_site_renders_without_it(repo):
    base = repo.head()
    commit(repo, "overlays/dev/kustomization.yaml", "resources:\n  - ../../base\n", "dev back to what its base sets")
    assert rendered_images(repo, "overlays/dev") == [f"{REPO}:1.0.0@{D0}"]
    result = diff(repo, base, "-o", "json")
    sites = json.loads(result.out)
    assert [s["site"] for s in sites] == ["dev"]
    assert sites[0]["models"][0]["to"]["image"] == f"{REPO}:1.0.0@{D0}"  # never "-": the render runs D0
    golden("removed-pin.json", result.out, repo, base)
    golden("removed-pin.md", diff(repo, base, "--markdown").out, repo, base)
    text = diff(repo, base).out
    assert f"# fraud-detector 1.1.0 -> 1.0.0  {D1[:19]} -> {D0[:19]}  (1 site: dev)" in text


def test_a_change_in_a_base_shows_a_model_row_at_each_site_it_reaches(repo):
    base = repo.head()
    commit(repo, "base/deployment.yaml", deployment("fraud-detector", f"{REPO}:1.2.0@{D2}"), "a new build in the base")
    assert rendered_images(repo, "overlays/prod") == [f"{REPO}:1.2.0@{D2}"]
    assert rendered_images(repo, "overlays/dev") == [f"{REPO}:1.1.0@{D1}"]  # its pin still decides
    result = diff(repo, base, "-o", "json")
    assert [(s["site"], [m["model"] for m in s["models"]]) for s in json.loads(result.out)] == [("prod", ["fraud-detector"])]
    golden("base-change.json", result.out, repo, base)
    golden("base-change.md", diff(repo, base, "--markdown").out, repo, base)


def test_a_patch_that_sets_the_image_shows_its_image(repo):
    base = repo.head()
    commit(repo, "overlays/prod/kustomization.yaml", FILES["overlays/prod/kustomization.yaml"] + PATCH, "prod patched")
    assert rendered_images(repo, "overlays/prod") == [f"{REPO}:1.3.0@{D3}"]
    text = diff(repo, base).out
    assert f"# fraud-detector 1.0.0 -> 1.3.0  {D0[:19]} -> {D3[:19]}  (1 site: prod)" in text
    markdown = diff(repo, base, "--markdown").out
    assert f"| fraud-detector | 1.0.0 → 1.3.0 | `{D0[:19]}` → `{D3[:19]}` | 1: prod |" in markdown


def test_a_change_that_leaves_the_images_alone_has_no_model_row(repo):
    base = repo.head()
    commit(repo, "base/deployment.yaml", FILES["base/deployment.yaml"] + "  replicas: 2\n", "two replicas")
    sites = json.loads(diff(repo, base, "-o", "json").out)
    assert [(s["site"], s["models"]) for s in sites] == [("dev", []), ("prod", [])]
    assert "replicas: 2" in sites[0]["diff"]
