"""promote MODEL --registry-version VERSION: the model registry's version becomes the image promoted,
resolved and verified in the OCI registry as any image is, recorded in the commit's trailers, and
written back to the registry once pushed.

Contract tests: no model registry server runs here, so the registry is the stand-in checked against
its published OpenAPI description (testing/model_registry_server.py); git, kustomize and the OCI
registry are real (bare remote + clone, kustomize, docker-registry on loopback)."""

from __future__ import annotations

import json

import pytest
import yaml

from gitops_mlops.pins.kustomization import parse
from gitops_mlops.pins.modelcarlabels import MODEL_VERSION_ID, REGISTERED_MODEL_ID
from gitops_mlops.render.kustomize import Kustomize
from testing.cli import cli
from testing.repos import point_models_at, registry_namespace, tree_snapshot

ENV = {"MR_TOKEN": "mr-token-s3cr3t"}


@pytest.fixture
def setup(gitops_repo, registry, pusher, model_registry):
    """The example repository with its models in the test OCI registry and the model registry configured, pushed."""
    ns = registry_namespace()
    extra = f"modelRegistry:\n  url: {model_registry.url}\n  tokenEnv: MR_TOKEN\n"
    point_models_at(gitops_repo, registry.host, ns, extra=extra)
    gitops_repo.git("push", "-q", "origin", "HEAD:main")
    digest, _ = pusher.image(f"{ns}/fraud-detector", "1.4.0")
    uri = f"oci://{registry.host}/{ns}/fraud-detector:1.4.0"
    version = model_registry.register("fraud-detector", "1.4.0", uri, model_format="onnx")
    return gitops_repo, digest, version, f"{registry.host}/{ns}/fraud-detector"


def trailers(repo) -> dict[str, str]:
    out = repo.git("log", "-1", "--format=%(trailers:only,unfold)")
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def promote(repo, *args: str, env=ENV):
    return cli("promote", "fraud-detector", *args, cwd=repo.work, env=env)


def test_a_registered_version_is_promoted_pushed_and_written_back(setup, model_registry):
    repo, digest, version, image = setup
    result = promote(repo, "--registry-version", "1.4.0", "--to", "datacenter", "--push", "-o", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["digest"] == digest and repo.remote_head() == repo.head()
    pin = parse(repo.read("overlays/datacenter/kustomization.yaml"), "k").pin("InferenceService/fraud-detector")
    assert (pin.new_name, pin.new_tag, pin.digest) == (image, "1.4.0", digest)
    found = trailers(repo)
    assert (found["Registered-Model"], found["Model-Version-Id"], found["Image"]) == ("fraud-detector", version["id"], f"{image}:1.4.0@{digest}")
    (record,) = model_registry.services.values()
    assert (model_registry.environments[record["servingEnvironmentId"]]["name"], record["modelVersionId"], record["desiredState"]) == (
        "datacenter",
        version["id"],
        "DEPLOYED",
    )
    assert "model registry: 2 records written" in result.err
    assert ENV["MR_TOKEN"] not in result.out + result.err
    (entry, *_) = json.loads(cli("history", "fraud-detector", "-o", "json", cwd=repo.work).out)
    assert (entry["registeredModel"], entry["modelVersion"]) == ("fraud-detector", version["id"])
    rows = json.loads(cli("status", "--model", "fraud-detector", "-o", "json", cwd=repo.work, env=ENV).out)
    by_site = {r["site"]: (r["registeredModel"], r["modelVersion"]) for r in rows}
    assert by_site["datacenter"] == ("fraud-detector", version["id"]) and by_site["cloud"] == (None, None)


def test_a_second_sync_changes_nothing(setup, model_registry):
    repo, *_ = setup
    assert promote(repo, "--registry-version", "1.4.0", "--to", "datacenter", "--push").code == 0
    writes = len(model_registry.writes())
    result = cli("registry", "sync", "-o", "json", cwd=repo.work, env=ENV)
    assert result.code == 0, result.err
    assert len(model_registry.writes()) == writes and json.loads(result.out)["created"] == []


def test_a_rollback_that_is_pushed_undeploys_where_it_no_longer_runs(setup, model_registry, pusher, registry):
    repo, _, _, image = setup
    older, _ = pusher.image(image.removeprefix(registry.host + "/"), "1.3.0", salt="older")
    assert promote(repo, f"{image}:1.3.0@{older}", "--to", "datacenter", "--push").code == 0  # a build not from the registry
    assert promote(repo, "--registry-version", "1.4.0", "--to", "datacenter", "--push").code == 0
    result = cli("rollback", "fraud-detector", "--site", "datacenter", "--push", "--no-verify", cwd=repo.work, env=ENV)
    assert result.code == 0, result.err
    (record,) = model_registry.services.values()
    assert record["desiredState"] == "UNDEPLOYED"


@pytest.mark.parametrize(
    ("register", "args", "code", "line"),
    [
        (None, ("--registry-version", "9.9.9"), 2, "error: model registry: registered model 'fraud-detector' has no version '9.9.9'"),
        (("2.0.0", "ARCHIVED", "onnx", "oci"), ("--registry-version", "2.0.0"), 3, "is ARCHIVED"),
        (("2.0.0", "LIVE", "onnx", "s3"), ("--registry-version", "2.0.0"), 4, "artifact uri 's3://models/fraud/2.0.0' is not an OCI image"),
        (("2.0.0", "LIVE", "tensorflow", "oci"), ("--registry-version", "2.0.0"), 4, "is tensorflow, which no ServingRuntime at datacenter supports (onnx"),
    ],
    ids=["no-such-version", "archived", "not-pinnable", "format-not-served"],
)
def test_a_lookup_that_fails_changes_nothing(setup, model_registry, register, args, code, line):
    repo, _, _, image = setup
    if register:
        name, state, model_format, kind = register
        uri = f"oci://{image}:{name}" if kind == "oci" else f"s3://models/fraud/{name}"
        model_registry.register("fraud-detector", name, uri, model_format=model_format, state=state)
    before = tree_snapshot(repo.work, repo.remote)
    result = promote(repo, *args, "--to", "datacenter", "--push")
    assert result.code == code, result.err
    assert line in result.err and result.err.count("\n") == 1
    assert tree_snapshot(repo.work, repo.remote) == before and not model_registry.writes()


@pytest.mark.parametrize(("status", "code"), [(401, 6), (404, 2), (503, 6)])
def test_a_registry_failure_before_the_commit_is_its_exit_code_and_changes_nothing(setup, model_registry, status, code):
    repo, *_ = setup
    model_registry.fail[("GET", "/registered_model")] = [status] * 10
    before = tree_snapshot(repo.work, repo.remote)
    result = promote(repo, "--registry-version", "1.4.0", "--to", "datacenter", "--push")
    assert result.code == code, result.err
    assert result.err.startswith("error: model registry") and result.err.count("\n") == 1
    assert tree_snapshot(repo.work, repo.remote) == before and ENV["MR_TOKEN"] not in result.err


def test_a_registry_that_is_down_for_the_write_back_never_blocks_the_push(setup, model_registry):
    repo, *_ = setup
    model_registry.fail[("GET", "/registered_models")] = [503] * 4
    result = promote(repo, "--registry-version", "1.4.0", "--to", "datacenter", "--push")
    assert result.code == 7, result.err
    assert repo.remote_head() == repo.head() and trailers(repo)["Registered-Model"] == "fraud-detector"
    assert result.err.splitlines()[-1].startswith("error: writing back to the model registry failed: model registry GET")
    assert not model_registry.services
    caught_up = cli("registry", "sync", cwd=repo.work, env=ENV)
    assert caught_up.code == 0, caught_up.err
    assert [r["desiredState"] for r in model_registry.services.values()] == ["DEPLOYED"]


def test_image_and_registry_version_together_are_bad_input(setup):
    repo, _, _, image = setup
    result = promote(repo, f"{image}:1.4.0", "--registry-version", "1.4.0", "--to", "datacenter")
    assert result.code == 2 and "give either IMAGE or --registry-version, not both" in result.err


def test_a_registry_url_that_is_not_http_is_refused_at_load(setup):
    repo, *_ = setup
    path = repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text().replace("url: http://", "url: ftp://"))
    repo.git("commit", "-qam", "ftp")
    before = tree_snapshot(repo.work, repo.remote)
    result = promote(repo, "--registry-version", "1.4.0", "--to", "datacenter")
    assert result.code == 2 and "modelRegistry.url 'ftp://" in result.err and "is not an http(s):// URL" in result.err
    assert tree_snapshot(repo.work, repo.remote) == before


def isvc_labels(repo, site: str) -> dict:
    """The labels of the InferenceService the site renders (the real kustomize)."""
    rendered = Kustomize.find().build(repo.work / "overlays" / site)
    (isvc,) = [o for o in yaml.safe_load_all(rendered) if o and o["kind"] == "InferenceService"]
    return {k: v for k, v in isvc["metadata"]["labels"].items() if k.startswith("modelregistry.opendatahub.io/")}


def test_the_rendered_inference_service_carries_the_version_and_moves_with_the_pin(setup, model_registry, pusher, registry):
    repo, _, version, image = setup
    assert promote(repo, "--registry-version", "1.4.0", "--to", "datacenter", "--push").code == 0
    linked = {REGISTERED_MODEL_ID: version["registeredModelId"], MODEL_VERSION_ID: version["id"]}
    assert isvc_labels(repo, "datacenter") == linked and isvc_labels(repo, "cloud") == {}
    assert len(repo.git("show", "--stat", "--format=", "HEAD").splitlines()) == 2  # one file: URI and labels in one patch
    other, _ = pusher.image(image.removeprefix(registry.host + "/"), "1.5.0", salt="unregistered")
    assert promote(repo, f"{image}:1.5.0@{other}", "--to", "datacenter", "--push").code == 0
    assert isvc_labels(repo, "datacenter") == {}  # a build not from the registry runs no registered version
    result = cli("rollback", "fraud-detector", "--site", "datacenter", "--push", "--no-verify", cwd=repo.work, env=ENV)
    assert result.code == 0, result.err
    assert isvc_labels(repo, "datacenter") == linked  # the labels follow the URI back
