"""The ``policy:`` section of ``gitops-mlops.yaml``: allowed registries, remote resources, the vulnerability gate."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from gitops_mlops.config.reader import Reader
from gitops_mlops.core.errors import InputError
from gitops_mlops.core.imageref import check_registry
from gitops_mlops.yamltext.nodes import Node

SEVERITIES = ("unknown", "negligible", "low", "medium", "high", "critical")  # Clair's and Trivy's, lowest first


@dataclass(frozen=True)
class Policy:
    allowed_registries: tuple[str, ...] = ()
    remote_resources: tuple[str, ...] = ()  # URL prefixes kustomize may fetch; none by default
    vulnerabilities: VulnerabilityGate | None = None  # the scan gate; None: images are not checked


@dataclass(frozen=True)
class Allowed:
    id: str  # a CVE or other finding id
    until: datetime.date  # allowed up to and including this day


@dataclass(frozen=True)
class VulnerabilityGate:
    max_severity: str  # unknown, negligible, low, medium, high or critical: findings above it refuse
    allow: tuple[Allowed, ...] = ()
    token_env: str = ""  # the variable holding a token for Quay's API


def read_policy(source: str, node: Node | None) -> Policy:
    """The ``policy:`` section; the default policy when there is none."""
    if node is None:
        return Policy()
    r = Reader(source, node, "policy", {"allowedRegistries", "remoteResources", "vulnerabilities"})
    gate = _vulnerabilities(source, r.values["vulnerabilities"]) if "vulnerabilities" in r.values else None
    return Policy(allowed_registries=_registries(r, "allowedRegistries"), remote_resources=r.strings("remoteResources"), vulnerabilities=gate)


def _registries(r: Reader, key: str) -> tuple[str, ...]:
    """Registry hosts, each as images name it: a ``Quay.io`` that no image could match is an error, not a silent refusal."""
    hosts = r.strings(key)
    for node, host in zip(r.list(key), hosts, strict=True):
        try:
            check_registry(host)
        except InputError as exc:
            raise r.error(node, f"policy.{key}: {exc}") from None
    return hosts


def _vulnerabilities(source: str, node: Node) -> VulnerabilityGate:
    r = Reader(source, node, "policy.vulnerabilities", {"maxSeverity", "allow", "tokenEnv"})
    level = r.str("maxSeverity").lower()
    if level not in SEVERITIES:
        raise r.error(r.values["maxSeverity"], f"policy.vulnerabilities.maxSeverity {level!r} is not one of {', '.join(SEVERITIES)}")
    allowed = []
    for item in r.list("allow"):
        a = Reader(source, item, "policy.vulnerabilities.allow entry", {"id", "until"})
        until = a.values.get("until")
        try:
            day = datetime.date.fromisoformat(until.value) if until is not None else None
        except ValueError:
            day = None
        if day is None:
            raise a.error(until or item, "policy.vulnerabilities.allow entries need until: YYYY-MM-DD (an allowance ends)")
        allowed.append(Allowed(a.str("id"), day))
    return VulnerabilityGate(level, tuple(allowed), r.str("tokenEnv", default=""))
