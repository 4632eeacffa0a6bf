"""The model registry client and write-back: contract tests.

No model registry server runs here, so these are contract tests against the registry's published
OpenAPI description (Kubeflow Model Registry, API v1alpha3): the stand-in on loopback
(testing/model_registry_server.py) keeps state and checks every request it receives and every
answer it gives against the description with openapi-core; the ``model_registry`` fixture fails a
test whose exchange drifts from it."""

from __future__ import annotations

import pytest

from gitops_mlops.config.modelregistry import ModelRegistrySpec
from gitops_mlops.core.errors import InputError, PolicyError, RenderError
from gitops_mlops.modelregistry import client as client_module
from gitops_mlops.modelregistry.client import Client, ModelRegistryError
from gitops_mlops.modelregistry.versions import lookup
from gitops_mlops.modelregistry.writeback import Desired, WriteBackError, reconcile

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


def test_a_5xx_is_tried_again_and_then_answered(model_registry, client):
    model_registry.register("fraud", "1.4.0", "oci://quay.io/acme/fraud:1.4.0")
    model_registry.fail[("GET", "/registered_model")] = [503, 500]
    assert lookup(client, "fraud", "1.4.0").version == "1.4.0"
    assert [s.status for s in model_registry.seen[:3]] == [503, 500, 200]


def test_a_5xx_that_lasts_is_exit_6_after_bounded_retries(model_registry, client):
    model_registry.fail[("GET", "/registered_model")] = [503] * 10
    with pytest.raises(ModelRegistryError, match=r"^model registry GET http://127\.0\.0\.1:\d+/api/model_registry/v1alpha3/registered_model: 503") as caught:
        lookup(client, "fraud", "1.4.0")
    assert caught.value.exit_code == 6 and len(model_registry.seen) == client_module.ATTEMPTS


def test_a_refused_token_is_exit_6_and_never_shown(model_registry, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "wrong-token-value")
    with pytest.raises(ModelRegistryError, match=r": 401 the token was refused \(check MR_TOKEN\)") as caught:
        lookup(Client(ModelRegistrySpec(model_registry.url, TOKEN_ENV)), "fraud", "1.4.0")
    assert "wrong-token-value" not in str(caught.value) and caught.value.exit_code == 6


def test_no_token_in_the_variable_is_bad_input(model_registry, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(InputError, match=r"no token in MR_TOKEN"):
        Client(ModelRegistrySpec(model_registry.url, TOKEN_ENV))


def test_unreachable_is_exit_6_after_retries(monkeypatch):
    from testing.registry_server import free_port

    monkeypatch.setenv(TOKEN_ENV, "t")
    client = Client(ModelRegistrySpec(f"http://127.0.0.1:{free_port()}", TOKEN_ENV), pause=0.01)
    with pytest.raises(ModelRegistryError, match=r"unreachable") as caught:
        lookup(client, "fraud", "1.4.0")
    assert client.requests == client_module.ATTEMPTS and caught.value.exit_code == 6


def test_lists_are_read_page_by_page(model_registry, client, monkeypatch):
    monkeypatch.setattr(client_module, "PAGE", 2)
    for n in range(5):
        model_registry.register(f"m{n}", "1.0.0", "oci://quay.io/acme/m:1.0.0")
    assert [m["name"] for m in client.pages("/registered_models")] == [f"m{n}" for n in range(5)]
    assert sum(1 for s in model_registry.seen if s.path.startswith("/api/model_registry/v1alpha3/registered_models?")) == 3


# ------------------------------------------------------------------ write-back


def desired(**versions) -> Desired:
    return Desired({tuple(key.split("__")): value for key, value in versions.items()})


def test_write_back_creates_environments_and_records_then_changes_nothing(model_registry, client):
    v1 = model_registry.register("fraud", "1.4.0", "oci://quay.io/acme/fraud:1.4.0")["id"]
    first = reconcile(client, desired(datacenter__fraud=v1, edge__fraud=None))
    assert first.created_environments == ["datacenter"] and first.created == [("datacenter", "fraud", v1)]
    (record,) = model_registry.services.values()
    env = next(e for e in model_registry.environments.values() if e["name"] == "datacenter")
    assert (record["modelVersionId"], record["desiredState"], record["servingEnvironmentId"]) == (v1, "DEPLOYED", env["id"])
    writes = len(model_registry.writes())
    again = reconcile(client, desired(datacenter__fraud=v1, edge__fraud=None))
    assert again.changed == 0 and len(model_registry.writes()) == writes and again.requests == 3


def test_a_new_version_patches_the_record_and_a_site_that_stops_is_undeployed(model_registry, client):
    v1 = model_registry.register("fraud", "1.4.0", "oci://quay.io/acme/fraud:1.4.0")["id"]
    v2 = model_registry.register("fraud", "1.5.0", "oci://quay.io/acme/fraud:1.5.0")["id"]
    reconcile(client, desired(datacenter__fraud=v1, cloud__fraud=v1))
    outcome = reconcile(client, desired(datacenter__fraud=v2, cloud__fraud=None))
    assert sorted(outcome.updated) == [("cloud", "fraud", "UNDEPLOYED"), ("datacenter", "fraud", v2)]
    states = {
        model_registry.environments[r["servingEnvironmentId"]]["name"]: (r["modelVersionId"], r["desiredState"]) for r in model_registry.services.values()
    }
    assert states == {"datacenter": (v2, "DEPLOYED"), "cloud": (v1, "UNDEPLOYED")}
    assert [s.body for s in model_registry.writes()[-2:]] in (
        [{"modelVersionId": v2}, {"desiredState": "UNDEPLOYED"}],
        [{"desiredState": "UNDEPLOYED"}, {"modelVersionId": v2}],
    )


def test_a_model_the_registry_does_not_have_is_reported_not_written(model_registry, client):
    outcome = reconcile(client, desired(datacenter__ghost="7"))
    assert outcome.unknown_models == ["ghost"] and not model_registry.writes()


@pytest.mark.parametrize("status", [401, 409, 500])
def test_a_failed_write_is_exit_7_in_one_line(model_registry, client, status):
    v1 = model_registry.register("fraud", "1.4.0", "oci://quay.io/acme/fraud:1.4.0")["id"]
    model_registry.fail[("POST", "/serving_environments")] = [status] * 10
    with pytest.raises(WriteBackError) as caught:
        reconcile(client, desired(datacenter__fraud=v1))
    message = str(caught.value)
    assert caught.value.exit_code == 7 and f": {status} " in message and "registry sync' catches up" in message and "\n" not in message
    assert model_registry.token not in message


def test_an_environment_another_writer_made_first_is_used(model_registry, client):
    v1 = model_registry.register("fraud", "1.4.0", "oci://quay.io/acme/fraud:1.4.0")["id"]
    real = model_registry.answer

    def racing(method, path, query, body):  # another writer creates it between our list and our create
        if (method, path) == ("POST", "/serving_environments"):
            real(method, path, query, body)
        return real(method, path, query, body)

    model_registry.answer = racing
    outcome = reconcile(client, desired(datacenter__fraud=v1))
    assert outcome.created == [("datacenter", "fraud", v1)] and len(model_registry.environments) == 1
    assert [s.status for s in model_registry.seen if s.method == "POST"][0] == 409


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
