"""Promoting modelcars whose patches are written in other scalar styles, on real repositories
(bare remote + clone) with the real kustomize: the edit, the note, the render after; and a patch
the tool cannot read blocks its own model only."""

from __future__ import annotations

import json

import yaml

from gitops_mlops.render.kustomize import Kustomize
from testing.cli import cli
from testing.repos import GitOpsRepo, make_repo_from, tree_snapshot

A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64
FRAUD, RUNTIME = "quay.io/acme/fraud", "quay.io/acme/runtime"
OLD_URI, NEW_URI = f"oci://{FRAUD}:1.0.0@{A}", f"oci://{FRAUD}:1.4.0@{B}"
CONFIG = f"""models:
  - name: fraud
    artifact: modelcar
    repository: {FRAUD}
  - name: runtime
    image: runtime
    repository: {RUNTIME}
stages:
  - name: edge
"""
BASE = {
    "gitops-mlops.yaml": CONFIG,
    "base/kustomization.yaml": "resources:\n- isvc.yaml\n- runtime.yaml\n",
    "base/isvc.yaml": (
        "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: fraud\nspec:\n  predictor:\n"
        "    model:\n      modelFormat: {name: onnx}\n      storageUri: oci://fraud\n"
    ),
    "base/runtime.yaml": (
        "apiVersion: serving.kserve.io/v1alpha1\nkind: ServingRuntime\nmetadata:\n  name: ovms\nspec:\n  containers:\n  - name: server\n    image: runtime\n"
    ),
}
SITE = "overlays/edge/a/kustomization.yaml"


def site(patch: str) -> str:
    return (
        "resources:\n  - ../../../base\npatches:\n  - target:\n      kind: InferenceService\n      name: fraud\n"
        f"    patch: {patch}\nimages:\n  - name: runtime\n    newName: {RUNTIME}\n    newTag: 2.0.0\n    digest: {A}\n"
    )


YQ = f'"- op: replace\\n  path: /spec/predictor/model/storageUri\\n  value: {OLD_URI}\\n"'
SPLIT = f'"- op: replace\\n  path: /spec/predictor/model/storageUri\\n  value: oci://{FRAUD}:\\\n      1.0.0@{A}\\n"'
UNREADABLE = f'"- {{op: replace, path: /spec/predictor/model/storageUri, value: {OLD_URI}}}"'  # kustomize reads it; the tool cannot


def repo_with(tmp_path, patch: str) -> GitOpsRepo:
    return make_repo_from(tmp_path, {**BASE, SITE: site(patch)})


def rendered(repo: GitOpsRepo) -> dict[str, str]:
    objects = {o["kind"]: o for o in yaml.safe_load_all(Kustomize.find().build(repo.work / "overlays/edge/a"))}
    return {
        "fraud": objects["InferenceService"]["spec"]["predictor"]["model"]["storageUri"],
        "runtime": objects["ServingRuntime"]["spec"]["containers"][0]["image"],
    }


def test_a_double_quoted_patch_is_promoted_in_place(tmp_path):
    repo = repo_with(tmp_path, YQ)
    before = repo.read(SITE)
    result = cli("promote", "fraud", f"{FRAUD}:1.4.0@{B}", "--to", "edge", "--push", cwd=repo.work)
    assert result.code == 0, result.err
    assert repo.read(SITE) == before.replace(OLD_URI, NEW_URI) and "rewritten" not in result.err
    assert rendered(repo)["fraud"] == NEW_URI and repo.remote_head() == repo.head()


def test_a_patch_that_cannot_take_the_uri_in_place_is_rewritten_and_the_note_says_so(tmp_path):
    repo = repo_with(tmp_path, SPLIT)
    result = cli("promote", "fraud", f"{FRAUD}:1.4.0@{B}", "--to", "edge", "-o", "json", cwd=repo.work)
    assert result.code == 0, result.err
    assert (
        f"note: {SITE}:7: the double-quoted patch of InferenceService/fraud cannot take a new storageUri in place; rewritten as a literal block" in result.err
    )
    assert "    patch: |\n      - op: replace\n" in repo.read(SITE)
    assert rendered(repo) == {"fraud": NEW_URI, "runtime": f"{RUNTIME}:2.0.0@{A}"}


def test_an_unreadable_patch_blocks_its_own_model_and_no_other(tmp_path):
    repo = repo_with(tmp_path, UNREADABLE)
    assert rendered(repo)["fraud"] == OLD_URI  # kustomize reads it
    before = tree_snapshot(repo.work, repo.remote)
    refused = cli("promote", "fraud", f"{FRAUD}:1.4.0@{B}", "--to", "edge", "--push", cwd=repo.work)
    assert refused.code == 2 and tree_snapshot(repo.work, repo.remote) == before
    assert refused.err.strip().splitlines()[-1] == f"error: {SITE}:7: the storageUri patch cannot be read: invalid YAML: found unexpected ':'"
    result = cli("promote", "runtime", f"{RUNTIME}:2.1.0@{B}", "--to", "edge", "--push", cwd=repo.work)
    assert result.code == 0, result.err
    assert rendered(repo) == {"fraud": OLD_URI, "runtime": f"{RUNTIME}:2.1.0@{B}"} and repo.remote_head() == repo.head()


def test_status_shows_every_model_at_a_site_whose_modelcar_patch_it_cannot_read(tmp_path):
    repo = repo_with(tmp_path, UNREADABLE)
    before = tree_snapshot(repo.work)
    result = cli("status", "-o", "json", cwd=repo.work)
    assert result.code == 0, result.err
    rows = {r["model"]: r for r in json.loads(result.out)}
    assert rows["runtime"]["image"] == f"{RUNTIME}:2.0.0@{A}" and rows["fraud"]["image"] == OLD_URI.removeprefix("oci://")
    assert f"warning: {SITE}:7: the storageUri patch cannot be read" in result.err
    assert tree_snapshot(repo.work) == before
