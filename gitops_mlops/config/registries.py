"""The ``registries:`` section of ``gitops-mlops.yaml``: how to reach each registry promotion talks to."""

from __future__ import annotations

from dataclasses import dataclass

from gitops_mlops.config.reader import Reader
from gitops_mlops.core.names import HOST_RE
from gitops_mlops.yamltext.nodes import Node


@dataclass(frozen=True)
class RegistrySpec:
    """A registry promotion talks to: digests of its images are checked before anything is written."""

    host: str  # registry[:port], as in image references
    insecure: bool = False  # plain HTTP (loopback, labs)
    ca_file: str = ""
    username_env: str = ""  # names of environment variables holding credentials (never the values)
    password_env: str = ""


def read_registries(source: str, nodes: list[Node]) -> tuple[RegistrySpec, ...]:
    """The ``registries:`` entries, each host once."""
    registries: list[RegistrySpec] = []
    for node in nodes:
        r = Reader(source, node, "registry", {"host", "insecure", "caFile", "usernameEnv", "passwordEnv"})
        host = r.str("host", pattern=HOST_RE)
        if any(x.host == host for x in registries):
            raise r.error(node, f"registry {host!r} is listed twice")
        spec = RegistrySpec(host, r.bool("insecure"), r.str("caFile", default=""), r.str("usernameEnv", default=""), r.str("passwordEnv", default=""))
        if bool(spec.username_env) != bool(spec.password_env):
            raise r.error(node, f"registry {host!r}: usernameEnv and passwordEnv go together")
        if spec.insecure and spec.ca_file:
            raise r.error(node, f"registry {host!r}: caFile is for HTTPS, but the registry is insecure (plain HTTP)")
        registries.append(spec)
    return tuple(registries)
