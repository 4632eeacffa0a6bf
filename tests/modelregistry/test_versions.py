"""Contract tests (no registry server runs here: a stand-in checked against the published description): a registered version found by name, and its artifact."""

from __future__ import annotations

import pytest

from gitops_mlops.config.modelregistry import ModelRegistrySpec
from gitops_mlops.core.errors import InputError, PolicyError, RenderError
from gitops_mlops.modelregistry.client import Client
from gitops_mlops.modelregistry.versions import lookup

TOKEN_ENV = "MR_TOKEN"


@pytest.fixture
def client(model_registry, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, model_registry.token)
    return Client(ModelRegistrySpec(model_registry.url, TOKEN_ENV), pause=0.01)


def test_a_registered_version_and_its_artifact_are_found_by_name(model_registry, client):
    made = model_registry.register("fraud", "1.4.0", "oci://quay.io/acme/fraud:1.4.0", model_format="onnx")
    found = lookup(client, "fraud", "1.4.0")
    assert (found.model, found.version, found.version_id, found.uri, found.model_format) == (
        "fraud",
        "1.4.0",
        made["id"],
        "oci://quay.io/acme/fraud:1.4.0",
        "onnx",
    )
    assert found.image == "quay.io/acme/fraud:1.4.0"
    calls = [(s.method, s.path.split("?")[0].removeprefix("/api/model_registry/v1alpha3")) for s in model_registry.seen]
    assert calls == [("GET", "/registered_model"), ("GET", "/model_version"), ("GET", f"/model_versions/{made['id']}/artifacts")]


def test_an_image_models_artifact_is_its_image_reference(model_registry, client):
    model_registry.register("forecast", "2.0.0", "quay.io/acme/forecast:2.0.0")
    assert lookup(client, "forecast", "2.0.0").image == "quay.io/acme/forecast:2.0.0"


def test_a_version_of_another_model_is_not_found(model_registry, client):
    model_registry.register("fraud", "1.4.0", "oci://quay.io/acme/fraud:1.4.0")
    model_registry.register("churn", "2.0.0", "oci://quay.io/acme/churn:2.0.0")
    with pytest.raises(InputError, match=r"^model registry: registered model 'fraud' has no version '2\.0\.0'$"):
        lookup(client, "fraud", "2.0.0")


def test_an_unknown_registered_model_is_bad_input(model_registry, client):
    with pytest.raises(InputError, match=r"^model registry: no registered model 'nope'"):
        lookup(client, "nope", "1.0.0")


def test_an_archived_version_is_refused_by_policy(model_registry, client):
    model_registry.register("fraud", "1.0.0", "oci://quay.io/acme/fraud:1.0.0", state="ARCHIVED")
    with pytest.raises(PolicyError, match=r"version '1\.0\.0' of 'fraud' is ARCHIVED") as caught:
        lookup(client, "fraud", "1.0.0")
    assert caught.value.exit_code == 3


@pytest.mark.parametrize(
    ("uri", "artifact", "cause"),
    [
        ("", False, "has no model artifact with a uri"),
        ("s3://bucket/fraud/1.4.0/model.onnx", True, "artifact uri 's3://bucket/fraud/1.4.0/model.onnx' is not an OCI image"),
        ("hf://acme/fraud", True, "is not an OCI image"),
    ],
)
def test_a_version_without_a_usable_artifact_is_exit_4(model_registry, client, uri, artifact, cause):
    model_registry.register("fraud", "1.4.0", uri, artifact=artifact)
    with pytest.raises(RenderError) as caught:
        lookup(client, "fraud", "1.4.0")
    assert caught.value.exit_code == 4 and cause in str(caught.value) and "\n" not in str(caught.value)


def test_an_artifact_uri_with_credentials_is_named_without_them(model_registry, client):
    model_registry.register("fraud", "1.4.0", "https://user:hunter2@models.example.com/fraud.onnx")
    with pytest.raises(RenderError) as caught:
        lookup(client, "fraud", "1.4.0")
    assert "hunter2" not in str(caught.value) and "https://***@models.example.com/fraud.onnx" in str(caught.value)


def test_two_artifacts_with_different_uris_are_ambiguous(model_registry, client):
    made = model_registry.register("fraud", "1.4.0", "oci://quay.io/acme/fraud:1.4.0")
    model_registry.artifacts[made["id"]].append(dict(model_registry.artifacts[made["id"]][0], id="99", uri="oci://quay.io/acme/fraud:1.4.1"))
    with pytest.raises(RenderError, match="2 model artifacts with different uris"):
        lookup(client, "fraud", "1.4.0")
