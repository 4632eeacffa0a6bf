"""The model registry client and write-back: contract tests.

No model registry server runs here, so these are contract tests against the registry's published
OpenAPI description (Kubeflow Model Registry, API v1alpha3): the stand-in on loopback
(testing/model_registry_server.py) keeps state and checks every request it receives and every
answer it gives against the description with openapi-core; the ``model_registry`` fixture fails a
test whose exchange drifts from it."""

from __future__ import annotations

import pytest

from gitops_mlops.config.modelregistry import ModelRegistrySpec
from gitops_mlops.core.errors import InputError
from gitops_mlops.modelregistry import client as client_module
from gitops_mlops.modelregistry.client import Client, ModelRegistryError
from gitops_mlops.modelregistry.versions import lookup

TOKEN_ENV = "MR_TOKEN"


@pytest.fixture
def client(model_registry, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, model_registry.token)
    return Client(ModelRegistrySpec(model_registry.url, TOKEN_ENV), pause=0.01)


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
