"""The sections of ``gitops-mlops.yaml`` naming services the tool tells: ``argocd:`` (its webhook) and ``forge:`` (pull requests)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitops_mlops.config.reader import Reader
from gitops_mlops.yamltext.nodes import Node


@dataclass(frozen=True)
class ArgoCD:
    webhook: str  # https://argocd.example.com/api/webhook
    secret_env: str = ""  # the variable holding Argo CD's webhook.github.secret


FORGE_TYPES = ("github", "gitlab", "gitea", "forgejo")  # Forgejo serves Gitea's API


@dataclass(frozen=True)
class ForgeSpec:
    """Where pull requests are opened; each field defaults from the remote's URL (see forge.py)."""

    type: str = ""  # github, gitlab or gitea (Forgejo too)
    url: str = ""  # the API base, e.g. https://gitea.example.com/api/v1
    repository: str = ""  # owner/name (GitLab: group/subgroup/name)
    token_env: str = ""  # the variable holding the token
    labels: tuple[str, ...] = ()  # put on every pull request the tool opens


def read_argocd(source: str, node: Node | None) -> ArgoCD | None:
    """The ``argocd:`` section, or None."""
    if node is None:
        return None
    r = Reader(source, node, "argocd", {"webhook", "secretEnv"})
    return ArgoCD(r.url("webhook"), r.str("secretEnv", default=""))


def read_forge(source: str, node: Node | None) -> ForgeSpec | None:
    """The ``forge:`` section, or None; ``forgejo`` is read as ``gitea`` (the API it serves)."""
    if node is None:
        return None
    r = Reader(source, node, "forge", {"type", "url", "repository", "tokenEnv", "labels"})
    kind = r.str("type", default="")
    if kind and kind not in FORGE_TYPES:
        raise r.error(r.values["type"], f"forge.type {kind!r} is not one of {', '.join(FORGE_TYPES)}")
    url = r.url("url", default="")
    repository = r.str("repository", default="")
    if repository and not re.match(r"^[\w.-]+(/[\w.-]+)+$", repository):
        raise r.error(r.values["repository"], f"forge.repository {repository!r} is not owner/name")
    kind = "gitea" if kind == "forgejo" else kind
    return ForgeSpec(kind, url, repository, r.str("tokenEnv", default=""), r.strings("labels"))
