"""update from the model registry (``updateFrom: modelRegistry``): the newest LIVE registered version
each stage's constraint allows, resolved and verified in the OCI registry, promoted with the registry's
trailers and labels; ARCHIVED versions and names that are not semantic versions are never taken.

Contract tests: no model registry server runs here, so the registry is the stand-in checked against
its published OpenAPI description (testing/model_registry_server.py); git, kustomize and the OCI
registry are real (bare remote + clone, kustomize, docker-registry on loopback)."""

from __future__ import annotations

import json

import pytest

from gitops_mlops.pins.modelcarlabels import MODEL_VERSION_ID, labels_of
from gitops_mlops.promote.update import Options, update
from testing.cli import cli
from testing.repos import registry_namespace, tree_snapshot
from tests.promote.test_update import configure, pin, trailers

ENV = {"MR_TOKEN": "mr-token-s3cr3t"}
FD = ("fraud-detector",)


@pytest.fixture
def setup(gitops_repo, registry, pusher, model_registry, monkeypatch):
    """fraud-detector updated from the model registry: 1.4.0 and 1.5.0 LIVE, 2.0.0 ARCHIVED, 'nightly' LIVE."""
    monkeypatch.setenv("MR_TOKEN", ENV["MR_TOKEN"])
    path = gitops_repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text().replace("  - name: fraud-detector\n", "  - name: fraud-detector\n    updateFrom: modelRegistry\n", 1))
    ns = configure(gitops_repo, registry.host, {"cloud": "constraint: '<1.5.0'"}, extra=f"modelRegistry:\n  url: {model_registry.url}\n  tokenEnv: MR_TOKEN\n")
    gitops_repo.git("push", "-q", "origin", "HEAD:main")
    repository = f"{registry.host}/{ns}/fraud-detector"
    versions, digests = {}, {}
    for name, state in (("1.4.0", "LIVE"), ("1.5.0", "LIVE"), ("2.0.0", "ARCHIVED"), ("nightly", "LIVE")):
        digests[name], _ = pusher.image(f"{ns}/fraud-detector", name)
        versions[name] = model_registry.register("fraud-detector", name, f"oci://{repository}:{name}", state=state)
    return gitops_repo, versions, digests


def test_the_newest_live_version_is_taken_never_an_archived_one_nor_a_name_that_is_not_semver(setup):
    repo, versions, digests = setup
    report = update(repo.work, Options(models=FD))
    assert {u.stage: (u.status, u.version) for u in report.updates}["datacenter"] == ("updated", "1.5.0")
    assert pin(repo, "datacenter").digest == digests["1.5.0"]
    found = trailers(repo)
    assert (found["Registered-Model"], found["Model-Version-Id"], found["Model-Version"]) == ("fraud-detector", versions["1.5.0"]["id"], "1.5.0")
    text = repo.read("overlays/datacenter/kustomization.yaml")
    assert labels_of(text, "k", "InferenceService/fraud-detector")[MODEL_VERSION_ID] == versions["1.5.0"]["id"]


def test_the_stage_constraint_limits_the_registered_version(setup):
    repo, *_ = setup
    report = update(repo.work, Options(models=FD))
    by_stage = {u.stage: (u.status, u.version) for u in report.updates}
    assert by_stage["datacenter"] == ("updated", "1.5.0") and by_stage["cloud"] == ("waiting", "1.4.0")  # cloud allows <1.5.0


def test_update_push_writes_back_where_the_version_runs(setup, model_registry):
    repo, versions, _ = setup
    result = cli("update", "--model", "fraud-detector", "--push", "-o", "json", cwd=repo.work, env=ENV)
    assert result.code == 0, result.err
    assert [u["version"] for u in json.loads(result.out)["updates"] if u["status"] == "updated"] == ["1.5.0"]
    (record,) = model_registry.services.values()
    assert (record["modelVersionId"], record["desiredState"]) == (versions["1.5.0"]["id"], "DEPLOYED")
    assert "model registry: 2 records written" in result.err and ENV["MR_TOKEN"] not in result.out + result.err


def test_a_chosen_version_whose_artifact_cannot_be_pinned_is_one_line_and_changes_nothing(setup, model_registry):
    repo, *_ = setup
    model_registry.register("fraud-detector", "1.6.0", "s3://models/fraud/1.6.0")
    before = tree_snapshot(repo.work, repo.remote)
    result = cli("update", "--model", "fraud-detector", "--push", cwd=repo.work, env=ENV)
    assert result.code == 4, result.err
    assert "artifact uri 's3://models/fraud/1.6.0' is not an OCI image" in result.err and result.err.count("\n") == 1
    assert tree_snapshot(repo.work, repo.remote) == before and not model_registry.writes()


def test_a_registered_model_the_registry_does_not_have_is_bad_input(setup):
    repo, *_ = setup
    path = repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text().replace("    updateFrom: modelRegistry\n", "    updateFrom: modelRegistry\n    registeredModel: Fraud Model\n"))
    repo.git("commit", "-qam", "another name")
    result = cli("update", "--model", "fraud-detector", cwd=repo.work, env=ENV)
    assert result.code == 2 and "no registered model 'Fraud Model'" in result.err and result.err.count("\n") == 1


def test_without_update_from_the_tags_are_used(gitops_repo, registry, pusher, model_registry):
    ns = configure(gitops_repo, registry.host, extra=f"modelRegistry:\n  url: {model_registry.url}\n  tokenEnv: MR_TOKEN\n")
    pusher.image(f"{ns}/fraud-detector", "1.9.0")
    report = update(gitops_repo.work, Options(models=FD))
    assert report.updates[0].version == "1.9.0" and not model_registry.seen
    assert registry_namespace  # (a fresh namespace per test: no tag of another test is seen)
