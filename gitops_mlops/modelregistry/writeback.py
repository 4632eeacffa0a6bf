"""Write back to the model registry where each registered version runs.

What should hold (``Desired``: per serving environment and registered model, the ModelVersion id it
renders, or None where it runs none) is compared with what the registry holds, read in a few list
calls (serving environments, registered models, inference services); only the difference is
written: a ServingEnvironment created per environment missing, an InferenceService record created
per (model, environment) newly running a version, patched when its version or desiredState
differs (``UNDEPLOYED`` where the model no longer runs a registered version). A second run with
nothing changed makes no writing request. Any failure is a ``WriteBackError`` (exit 7): it never
undoes what was pushed, and the next ``registry sync`` catches up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitops_mlops.core.errors import GitOpsError
from gitops_mlops.modelregistry.client import Client, ModelRegistryError

DEPLOYED, UNDEPLOYED = "DEPLOYED", "UNDEPLOYED"


class WriteBackError(GitOpsError):
    """Recording in the model registry where versions run failed (exit 7); what was pushed stays pushed."""

    exit_code = 7


@dataclass(frozen=True)
class Desired:
    """Per (serving environment, registered model name): the id of the ModelVersion it renders, or None."""

    versions: dict[tuple[str, str], str | None]

    @property
    def environments(self) -> list[str]:
        return sorted({env for env, _ in self.versions})


@dataclass
class Outcome:
    created_environments: list[str] = field(default_factory=list)
    created: list[tuple[str, str, str]] = field(default_factory=list)  # (environment, model, version id)
    updated: list[tuple[str, str, str]] = field(default_factory=list)  # (environment, model, version id or UNDEPLOYED)
    unknown_models: list[str] = field(default_factory=list)  # registered models the registry does not have
    requests: int = 0

    @property
    def changed(self) -> int:
        return len(self.created_environments) + len(self.created) + len(self.updated)

    def as_json(self) -> dict:
        return {
            "createdEnvironments": self.created_environments,
            "created": [{"environment": e, "registeredModel": m, "modelVersion": v} for e, m, v in self.created],
            "updated": [{"environment": e, "registeredModel": m, "modelVersion": v} for e, m, v in self.updated],
            "unknownModels": self.unknown_models,
            "requests": self.requests,
        }


def reconcile(client: Client, desired: Desired) -> Outcome:
    """Make the registry hold ``desired``; a WriteBackError (one line) on any failure."""
    try:
        return _reconcile(client, desired)
    except GitOpsError as exc:
        raise WriteBackError(f"writing back to the model registry failed: {exc}; what was pushed stays; 'gitops-mlops registry sync' catches up") from None


def _reconcile(client: Client, desired: Desired) -> Outcome:
    outcome = Outcome()
    start = client.requests
    models = {m.get("name"): str(m.get("id")) for m in client.pages("/registered_models")}
    wanted = {name for _, name in desired.versions}
    outcome.unknown_models = sorted(n for n in wanted if n not in models)
    environments = {e.get("name"): str(e.get("id")) for e in client.pages("/serving_environments")}
    needed = sorted({env for (env, name), v in desired.versions.items() if name in models and v is not None})
    missing = [env for env in needed if env not in environments]
    environments.update(zip(missing, client.each(lambda env: _create_environment(client, env), missing), strict=True))
    outcome.created_environments += missing
    records = {(str(r.get("servingEnvironmentId")), str(r.get("registeredModelId"))): r for r in client.pages("/inference_services")}
    writes = []  # (method, path, body, outcome list, entry), in the order given: the sites' order
    for (env, name), version in desired.versions.items():
        if name not in models or env not in environments:
            continue  # nothing runs there, and nothing was recorded there
        record = records.get((environments[env], models[name]))
        if record is None:
            if version is not None:
                body = {"name": f"{name}.{env}", "registeredModelId": models[name], "servingEnvironmentId": environments[env]}
                writes.append(
                    ("POST", "/inference_services", body | {"modelVersionId": version, "desiredState": DEPLOYED}, outcome.created, (env, name, version))
                )
            continue
        change = _change(record, version)
        if change:
            writes.append(("PATCH", f"/inference_services/{record['id']}", change, outcome.updated, (env, name, version or UNDEPLOYED)))
    for (_, _, _, made, entry), _ in zip(writes, client.each(lambda w: client.call(w[0], w[1], body=w[2]), writes), strict=True):
        made.append(entry)
    outcome.requests = client.requests - start
    return outcome


def _change(record: dict, version: str | None) -> dict:
    """What a record must change to say ``version`` runs (None: nothing registered runs any more)."""
    if version is None:
        return {"desiredState": UNDEPLOYED} if record.get("desiredState", DEPLOYED) != UNDEPLOYED else {}
    change = {}
    if str(record.get("modelVersionId") or "") != version:
        change["modelVersionId"] = version
    if record.get("desiredState", DEPLOYED) != DEPLOYED:
        change["desiredState"] = DEPLOYED
    return change


def _create_environment(client: Client, name: str) -> str:
    """A ServingEnvironment named ``name``: created, or found when another writer made it first (409)."""
    try:
        made = client.call("POST", "/serving_environments", body={"name": name, "description": "gitops-mlops: sites of " + name})
    except ModelRegistryError as exc:
        if ": 409 " not in str(exc):
            raise
        made = client.find("serving_environment", name=name)
        if made is None:
            raise
    return str(made.get("id"))
