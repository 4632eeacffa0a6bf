"""Contract tests (no registry server runs here: a stand-in checked against the published description): writing back where each version runs."""

from __future__ import annotations

import pytest

from gitops_mlops.config.modelregistry import ModelRegistrySpec
from gitops_mlops.modelregistry.client import Client
from gitops_mlops.modelregistry.writeback import Desired, WriteBackError, reconcile

TOKEN_ENV = "MR_TOKEN"


@pytest.fixture
def client(model_registry, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, model_registry.token)
    return Client(ModelRegistrySpec(model_registry.url, TOKEN_ENV), pause=0.01)


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


def test_writes_at_once_leave_what_one_at_a_time_leaves_in_the_sites_order(model_registry, client, monkeypatch):
    """A bounded pool of writers on kept-alive connections: the same records, the outcome in the sites'
    order, every exchange valid against the description, and a few connections for many calls."""
    version = model_registry.register("fraud", "1.4.0", "oci://quay.io/acme/fraud:1.4.0")["id"]
    sites = {f"edge-{i:02d}__fraud": version for i in range(40)}
    assert client.workers > 1 and client.connections is not None
    outcome = reconcile(client, desired(**sites))
    assert [env for env, _, _ in outcome.created] == [key.split("__")[0] for key in sites]
    assert sorted(r["name"] for r in model_registry.services.values()) == sorted(f"fraud.{k.split('__')[0]}" for k in sites)
    assert outcome.requests == 3 + 40 + 40 and not model_registry.violations
    assert len(client.connections.opened) <= client.workers + 1
    client.close()
