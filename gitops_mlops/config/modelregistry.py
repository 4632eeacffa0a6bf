"""The ``modelRegistry:`` section: where the model registry (Kubeflow Model Registry, OpenShift AI) answers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitops_mlops.config.reader import Reader
from gitops_mlops.core.errors import InputError
from gitops_mlops.yamltext.nodes import Node

API_BASE = "/api/model_registry/v1alpha3"
PRINTABLE = re.compile(r"^[\x20-\x7E]{1,255}$")  # what the registry's API takes as a name to search
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ModelRegistrySpec:
    """The registry's address (``url``, its API under ``API_BASE``), the variable holding its bearer token, and a CA."""

    url: str  # https://model-registry.example.com (the API base is added)
    token_env: str = ""
    ca_file: str = ""
    environments: str = "stage"  # one ServingEnvironment per stage (named after it), or per site ("site")

    @property
    def api(self) -> str:
        base = self.url.rstrip("/")
        return base if base.endswith(API_BASE) else base + API_BASE


def read_model_registry(source: str, node: Node) -> ModelRegistrySpec:
    r = Reader(source, node, "modelRegistry", {"url", "tokenEnv", "caFile", "environments"})
    url = r.url("url")
    token_env = r.str("tokenEnv", default="")
    if token_env and not ENV_NAME.match(token_env):
        raise r.error(r.values["tokenEnv"], f"modelRegistry.tokenEnv {token_env!r} is not an environment variable name")
    ca_file = r.str("caFile", default="")
    if ca_file and url.startswith("http://"):
        raise r.error(r.values["caFile"], "modelRegistry.caFile is for HTTPS, but the url is plain http://")
    environments = r.str("environments", default="stage")
    if environments not in ("stage", "site"):
        raise r.error(r.values["environments"], f"modelRegistry.environments {environments!r} is not one of: stage, site")
    return ModelRegistrySpec(url=url, token_env=token_env, ca_file=ca_file, environments=environments)


def registered_model_name(r: Reader) -> str:
    """A model's ``registeredModel``: the RegisteredModel's name in the registry ('' when not given: the model's name)."""
    name = r.str("registeredModel", default="")
    if name and not PRINTABLE.match(name):
        raise r.error(r.values["registeredModel"], f"registeredModel {name!r}: a registered model's name is printable ASCII, 1 to 255 characters")
    return name


UPDATE_FROM = ("tags", "modelRegistry")


def update_from(r: Reader) -> str:
    """A model's ``updateFrom``: where ``update`` finds its versions (``tags`` of its repository, the default,
    or ``modelRegistry``: the LIVE versions of its registered model)."""
    value = r.str("updateFrom", default="tags")
    if value not in UPDATE_FROM:
        raise r.error(r.values["updateFrom"], f"updateFrom {value!r} is not one of: {', '.join(UPDATE_FROM)}")
    return value


def check_update_from(source: str, models: list[str], configured: bool) -> None:
    """Models updated from the model registry need its section."""
    if models and not configured:
        raise InputError(f"{source}: model {models[0]!r}: updateFrom: modelRegistry needs the modelRegistry: {{url, tokenEnv}} section")
