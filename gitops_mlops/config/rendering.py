"""The sections of ``gitops-mlops.yaml`` about rendered manifests: ``hydrate:``, ``schemas:`` and ``serving:``."""

from __future__ import annotations

from dataclasses import dataclass

from gitops_mlops.config.reader import Reader
from gitops_mlops.core.errors import InputError
from gitops_mlops.core.names import SITE_NAME_RE, check_branch
from gitops_mlops.yamltext.nodes import Node


@dataclass(frozen=True)
class HydrateSpec:
    """Rendered manifests committed beside the source: each site's render under ``path/<site>/`` on ``branch``."""

    branch: str
    path: str = "sites"


@dataclass(frozen=True)
class SchemaSpec:
    """What ``validate`` checks rendered objects against: a Kubernetes version's schemas and the user's CRDs."""

    kubernetes_version: str = ""  # '' : the newest the installed kubernetes-validate ships
    crds: tuple[str, ...] = ()  # files or folders of CRDs (``oc get crd -o yaml``), relative to the repository


@dataclass(frozen=True)
class ServingSpec:
    """What KServe serving may rely on: runtimes the cluster provides, and the deployment modes allowed."""

    cluster_runtimes: tuple[str, ...] = ()  # ServingRuntimes (or ClusterServingRuntimes) the platform installs
    deployment_modes: tuple[str, ...] = ("Standard", "Advanced", "Knative", "RawDeployment", "Serverless", "ModelMesh")


# KServe 0.15+ names RawDeployment "Standard" and Serverless "Knative"; OpenShift AI calls them
# "standard" and "advanced". Each name here is one of the three modes: allowing a name allows the mode.
DEPLOYMENT_MODES = {
    "Standard": "RawDeployment",
    "RawDeployment": "RawDeployment",
    "Advanced": "Serverless",
    "Knative": "Serverless",
    "Serverless": "Serverless",
    "ModelMesh": "ModelMesh",
}


def read_hydrate(source: str, node: Node, target_branch: str) -> HydrateSpec:
    """The ``hydrate:`` section; its branch is never ``target_branch``."""
    r = Reader(source, node, "hydrate", {"branch", "path"})
    branch, path = r.str("branch"), r.str("path", default="sites").strip("/")
    try:
        check_branch(branch, "hydrate.branch", tool=True)
    except InputError as exc:
        raise r.error(r.values["branch"], str(exc)) from None
    if not SITE_NAME_RE.match(path):
        raise r.error(r.values.get("path", r.node), f"hydrate.path {path!r}: a relative folder (letters, digits, . _ - per component)")
    if branch == target_branch:
        raise r.error(r.values["branch"], "hydrate.branch must not be the branch the source lives on")
    return HydrateSpec(branch, path)


def read_schemas(source: str, node: Node | None) -> SchemaSpec:
    """The ``schemas:`` section; the defaults when there is none."""
    if node is None:
        return SchemaSpec()
    r = Reader(source, node, "schemas", {"kubernetesVersion", "crds"})
    return SchemaSpec(kubernetes_version=r.str("kubernetesVersion", default=""), crds=r.strings("crds"))


def read_serving(source: str, node: Node | None) -> ServingSpec:
    """The ``serving:`` section; the defaults when there is none. Each deployment mode must be one KServe knows."""
    serving = ServingSpec()
    if node is None:
        return serving
    r = Reader(source, node, "serving", {"clusterRuntimes", "deploymentModes"})
    modes = r.strings("deploymentModes") or serving.deployment_modes
    for mode in modes:
        if mode not in DEPLOYMENT_MODES:
            raise r.error(r.values["deploymentModes"], f"serving.deploymentModes: {mode!r} is not one of {', '.join(DEPLOYMENT_MODES)}")
    return ServingSpec(cluster_runtimes=r.strings("clusterRuntimes"), deployment_modes=modes)
