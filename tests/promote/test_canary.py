"""Model canaries on real repositories (bare remote + clone) with the real kustomize and the KServe CRD:
set, change, finish, a full rollout over a canary, rollback during a canary, and every refusal
(a RawDeployment InferenceService, an image model, a percentage outside 1-100, options that do not
go together) changing nothing."""

from __future__ import annotations

import json

import pytest
import yaml

from gitops_mlops.render.kustomize import Kustomize
from testing.cli import cli
from testing.paths import crd_dir
from testing.repos import GitOpsRepo, make_repo_from, tree_snapshot
from tests.promote.test_promotion_modelcar import BASE, CONFIG, FRAUD, OLD_URI, RUNTIME

A, B, C = "sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:" + "c" * 64
NEW_URI = f"oci://{FRAUD}:1.4.0@{B}"
SERVERLESS, RAW = "overlays/edge/a/kustomization.yaml", "overlays/edge/raw/kustomization.yaml"
RAW_BASE = BASE["base/isvc.yaml"].replace("  name: fraud\n", "  name: fraud\n  annotations:\n    serving.kserve.io/deploymentMode: RawDeployment\n")


def site(base: str) -> str:
    return (
        f"resources:\n  - {base}\npatches:\n  - target:\n      kind: InferenceService\n      name: fraud\n    patch: |-\n"
        f"      - op: replace\n        path: /spec/predictor/model/storageUri\n        value: {OLD_URI}\n"
        f"images:\n  - name: runtime\n    newName: {RUNTIME}\n    newTag: 2.0.0\n    digest: {A}\n"
    )


@pytest.fixture
def repo(tmp_path) -> GitOpsRepo:
    return canary_repo(tmp_path)


def canary_repo(tmp_path) -> GitOpsRepo:
    """A modelcar at a Serverless site (edge/a, no deploymentMode annotation) and a RawDeployment one (edge/raw)."""
    files = {
        **BASE,
        "gitops-mlops.yaml": CONFIG + f"schemas:\n  crds:\n    - {crd_dir()}\n",
        "base-raw/kustomization.yaml": BASE["base/kustomization.yaml"],
        "base-raw/isvc.yaml": RAW_BASE,
        "base-raw/runtime.yaml": BASE["base/runtime.yaml"],
        SERVERLESS: site("../../../base"),
        RAW: site("../../../base-raw"),
    }
    return make_repo_from(tmp_path, files)


def predictor(repo: GitOpsRepo, site: str = "a") -> dict:
    objects = yaml.safe_load_all(Kustomize.find().build(repo.work / "overlays/edge" / site))
    return next(o for o in objects if o["kind"] == "InferenceService")["spec"]["predictor"]


def promote(repo: GitOpsRepo, *args: str, digest: str = B, tag: str = "1.4.0"):
    return cli("promote", "fraud", f"{FRAUD}:{tag}@{digest}", "--push", *args, cwd=repo.work)


def test_a_canary_is_set_changed_and_finished_each_in_one_commit(repo):
    result = promote(repo, "--to", "edge/a", "--canary", "10", "-o", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["sites"] == ["edge/a"] and repo.remote_head() == repo.head()
    assert predictor(repo) | {"model": None} == {"canaryTrafficPercent": 10, "model": None}
    assert predictor(repo)["model"]["storageUri"] == NEW_URI and predictor(repo, "raw")["model"]["storageUri"] == OLD_URI
    first = repo.head()
    assert promote(repo, "--to", "edge/a", "--canary", "50").code == 0 and repo.head() != first
    assert predictor(repo)["canaryTrafficPercent"] == 50 and predictor(repo)["model"]["storageUri"] == NEW_URI
    assert "value: 50\n" in repo.read(SERVERLESS) and "value: 10\n" not in repo.read(SERVERLESS)
    second = repo.head()
    finished = promote(repo, "--to", "edge/a", "--finish-canary")
    assert finished.code == 0, finished.err
    assert "canaryTrafficPercent" not in predictor(repo) and predictor(repo)["model"]["storageUri"] == NEW_URI
    assert repo.read(SERVERLESS) == site("../../../base").replace(OLD_URI, NEW_URI) and repo.head() != second
    again = promote(repo, "--to", "edge/a", "--canary", "100")
    assert again.code == 0 and "already up to date" in again.err and repo.head() == repo.remote_head()


def test_a_promotion_without_canary_leaves_a_canary_of_the_same_build_and_fully_rolls_out_a_new_one(repo):
    assert promote(repo, "--to", "edge/a", "--canary", "10").code == 0
    head = repo.head()
    same = promote(repo, "--to", "edge/a")
    assert same.code == 0 and "already up to date" in same.err and repo.head() == head
    assert predictor(repo)["canaryTrafficPercent"] == 10
    full = promote(repo, "--to", "edge/a", digest=C, tag="1.5.0")
    assert full.code == 0, full.err
    assert "canaryTrafficPercent" not in predictor(repo) and predictor(repo)["model"]["storageUri"] == f"oci://{FRAUD}:1.5.0@{C}"


def test_rollback_during_a_canary_restores_the_uri_and_sends_all_traffic_back(repo):
    assert promote(repo, "--to", "edge/a", "--canary", "10").code == 0
    result = cli("rollback", "fraud", "--site", "edge/a", "--push", "-o", "json", cwd=repo.work)
    assert result.code == 0, result.err
    assert predictor(repo)["model"]["storageUri"] == OLD_URI and predictor(repo)["canaryTrafficPercent"] == 0
    assert repo.read(SERVERLESS) == site("../../../base").replace(
        f"value: {OLD_URI}\n", f"value: {OLD_URI}\n      - op: add\n        path: /spec/predictor/canaryTrafficPercent\n        value: 0\n"
    )
    assert repo.remote_head() == repo.head() and "digest: " + B in repo.read("gitops-mlops.yaml")  # the canary's build is on hold
    again = cli("rollback", "fraud", "--site", "edge/a", cwd=repo.work)
    assert again.code == 0 and repo.remote_head() == repo.head()
    nxt = promote(repo, "--to", "edge/a", "--canary", "20", digest=C, tag="1.5.0")
    assert nxt.code == 0, nxt.err
    assert predictor(repo)["canaryTrafficPercent"] == 20


def test_a_canary_on_a_raw_deployment_is_refused_and_changes_nothing(repo):
    before = tree_snapshot(repo.work, repo.remote)
    result = promote(repo, "--to", "edge", "--canary", "10")
    assert result.code == 4
    assert result.err.strip().splitlines()[-1] == (
        "error: site edge/raw: InferenceService/fraud is in RawDeployment mode (serving.kserve.io/deploymentMode); "
        "KServe splits traffic between revisions only in Serverless mode: promote it without --canary"
    )
    assert tree_snapshot(repo.work, repo.remote) == before
    assert promote(repo, "--to", "edge/raw").code == 0  # without --canary it is an ordinary promotion


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--canary", "0"), "--canary 0: the new model's share of the traffic is a whole number from 1 to 100"),
        (("--canary", "101"), "--canary 101: the new model's share of the traffic is a whole number from 1 to 100"),
        (("--canary", "-3"), "--canary -3: the new model's share of the traffic is a whole number from 1 to 100"),
        (("--canary", "10", "--finish-canary"), "--canary and --finish-canary do not go together: --finish-canary is --canary 100"),
    ],
)
def test_bad_canary_input_is_one_line_exit_2_and_nothing_written(repo, args, message):
    before = tree_snapshot(repo.work, repo.remote)
    result = promote(repo, "--to", "edge/a", *args)
    assert result.code == 2 and result.err.strip() == f"error: {message}"
    assert tree_snapshot(repo.work, repo.remote) == before


def test_an_image_model_cannot_take_a_canary(repo):
    before = tree_snapshot(repo.work, repo.remote)
    result = cli("promote", "runtime", f"{RUNTIME}:2.1.0@{B}", "--to", "edge/a", "--canary", "10", cwd=repo.work)
    assert result.code == 2 and result.err.strip() == (
        "error: --canary: runtime is an image model (a serving container); a canary splits the traffic of a KServe InferenceService, which only a modelcar model has"
    )
    assert tree_snapshot(repo.work, repo.remote) == before


def test_the_promotion_says_how_the_traffic_is_split(repo):
    result = promote(repo, "--to", "edge/a", "--canary", "10")
    assert "note: canary: the new model takes 10 % of the traffic, the previous revision keeps 90 % (canaryTrafficPercent: 10)" in result.err
    finished = promote(repo, "--to", "edge/a", "--finish-canary", "--dry-run")
    assert finished.code == 0 and "note: canary finished: the new model takes all the traffic" in finished.err
    assert "-      - op: add\n-        path: /spec/predictor/canaryTrafficPercent\n-        value: 10\n" in finished.out


def test_status_shows_the_split_in_text_and_json(repo):
    assert promote(repo, "--to", "edge/a", "--canary", "10").code == 0
    table = cli("status", "--model", "fraud", cwd=repo.work)
    assert table.code == 0, table.err
    rows = {line.split()[1]: line for line in table.out.splitlines()[1:]}
    assert "canary:10/90" in rows["edge/a"] and "canary" not in rows["edge/raw"]
    data = {r["site"]: r for r in json.loads(cli("status", "--model", "fraud", "-o", "json", cwd=repo.work).out)}
    assert data["edge/a"]["traffic"] == {"latest": 10, "previous": 90} and data["edge/raw"]["traffic"] is None
    assert data["edge/a"]["digest"] == B  # the latest revision's build; the previous revision keeps the rest


def test_rollback_after_the_percentage_changed_still_returns_to_the_build_before_the_canary(repo):
    assert promote(repo, "--to", "edge/a", "--canary", "10").code == 0
    assert promote(repo, "--to", "edge/a", "--canary", "50").code == 0
    result = cli("rollback", "fraud", "--site", "edge/a", "-o", "json", cwd=repo.work)
    assert result.code == 0, result.err
    assert json.loads(result.out)["changes"][0]["to"]["digest"] == A
    assert predictor(repo)["model"]["storageUri"] == OLD_URI and predictor(repo)["canaryTrafficPercent"] == 0


def test_a_patch_that_cannot_take_the_percentage_is_refused_naming_it_and_changes_nothing(repo):
    folded = repo.read(SERVERLESS).replace("patch: |-\n", "patch: >-\n").replace("        value: oci", "\n        value: oci")
    (repo.work / SERVERLESS).write_text(folded)
    repo.git("commit", "-qam", "a folded patch")
    repo.git("push", "-q", "origin", "main")
    before = tree_snapshot(repo.work, repo.remote)
    result = promote(repo, "--to", "edge/a", "--canary", "10")
    assert result.code == 2 and result.err.strip().splitlines()[-1] == (
        f"error: {SERVERLESS}:7: the patch of InferenceService/fraud is not a literal block; write it as one (patch: |-) to set canaryTrafficPercent"
    )
    assert tree_snapshot(repo.work, repo.remote) == before


def test_finishing_is_for_the_build_the_site_runs(repo):
    assert promote(repo, "--to", "edge/a", "--canary", "10").code == 0
    before = tree_snapshot(repo.work, repo.remote)
    result = promote(repo, "--to", "edge/a", "--finish-canary", digest=C, tag="1.5.0")
    assert result.code == 3 and result.err.strip().splitlines()[-1] == (
        f"error: site edge/a: --finish-canary finishes the canary of the build the site runs ({FRAUD}:1.4.0@{B}), not another; "
        "promote without --canary for a full rollout of it"
    )
    assert tree_snapshot(repo.work, repo.remote) == before
