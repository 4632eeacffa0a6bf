"""Load and validate ``gitops-mlops.yaml`` into frozen dataclasses.

Every error names the file, the line and the cause. Unknown keys are errors:
a typo in a policy must not silently turn the policy off.
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from gitops_mlops.config import siteglob
from gitops_mlops.config.checks import Check, Retrain, read_checks, read_retrain
from gitops_mlops.config.modelregistry import ModelRegistrySpec, read_model_registry, registered_model_name
from gitops_mlops.config.reader import Reader
from gitops_mlops.core import repofiles
from gitops_mlops.core.errors import InputError
from gitops_mlops.core.imageref import check_registry, parse_repository, same_repository
from gitops_mlops.core.names import DIGEST_RE, HOST_RE, NAME_RE, SITE_NAME_RE, check_branch, check_remote, did_you_mean
from gitops_mlops.core.semrange import parse_range
from gitops_mlops.pins.modelcar import modelcar_pin_name
from gitops_mlops.yamltext.nodes import Node, compose, line_of

CONFIG_FILE = "gitops-mlops.yaml"
ARTIFACTS = ("image", "modelcar")
MAX_CONFIG_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Model:
    name: str
    image: str  # the kustomize images[].name used in base manifests (may be a placeholder)
    repository: str  # where its builds are pushed: registry[:port]/path
    sites: tuple[str, ...] = ()  # selectors of the sites it lives at (needed when models share one image name)
    artifact: str = "image"  # "image": a serving container; "modelcar": the model itself, an InferenceService's oci:// storageUri
    inference_service: str = ""  # modelcar: the InferenceService whose storageUri is pinned (default: the model's name)
    checks: tuple[Check, ...] = ()  # checked at every stage, besides the stage's own
    retrain: Retrain | None = None  # where its retraining trigger goes (default: the config's)
    registered_model: str = ""  # its RegisteredModel in the model registry, when named apart from the model

    @property
    def registered_name(self) -> str:
        """The RegisteredModel it is in the model registry: ``registeredModel``, else the model's name."""
        return self.registered_model or self.name

    @property
    def pin_name(self) -> str:
        """What a site's kustomization pins for it: the images[].name, or the InferenceService a modelcar patch targets."""
        return self.image if self.artifact == "image" else modelcar_pin_name(self.inference_service or self.name)


@dataclass(frozen=True)
class Stage:
    name: str
    constraint: str = ""  # semver range the stage accepts from `update`, e.g. ">=1.2.0 <2.0.0"; empty: any
    prereleases: bool = False  # whether `update` may pick 1.5.0-rc.1 for this stage
    checks: tuple[Check, ...] = ()  # what `verify` checks at its sites, for every model
    require_verified: bool = False  # takes a digest only when every site of the stage before verified it
    mirror: str = ""  # the registry its sites pull from (a site's own mirror wins)


@dataclass(frozen=True)
class RegistrySpec:
    """A registry promotion talks to: digests of its images are checked before anything is written."""

    host: str  # registry[:port], as in image references
    insecure: bool = False  # plain HTTP (loopback, labs)
    ca_file: str = ""
    username_env: str = ""  # names of environment variables holding credentials (never the values)
    password_env: str = ""


@dataclass(frozen=True)
class SiteSpec:
    """A configured site, or a pattern of them: ``path`` may hold shell globs within a segment
    (``siteglob``); ``name`` and ``stage`` then use ``{1}``, ``{2}``... for what each ``*`` matched
    (default name: the path)."""

    name: str
    path: str
    stage: str
    mirror: str = ""  # the registry (HOST[:PORT]) its cluster pulls from, as an ImageDigestMirrorSet arranges
    where: str = field(default="", compare=False)  # gitops-mlops.yaml:LINE of its entry, for messages


@dataclass(frozen=True)
class Hold:
    model: str
    site: str
    digest: str
    reason: str = ""


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


@dataclass(frozen=True)
class Config:
    models: tuple[Model, ...]
    stages: tuple[Stage, ...]
    sites: tuple[SiteSpec, ...] = ()
    policy: Policy = field(default_factory=Policy)
    holds: tuple[Hold, ...] = ()
    registries: tuple[RegistrySpec, ...] = ()
    repo_url: str = ""
    target_branch: str = "main"
    remote: str = "origin"
    hydrate: HydrateSpec | None = None
    schemas: SchemaSpec = field(default_factory=SchemaSpec)
    serving: ServingSpec = field(default_factory=ServingSpec)
    retrain: Retrain | None = None
    argocd: ArgoCD | None = None  # Argo CD's webhook, told after every push
    forge: ForgeSpec | None = None  # where --open-pr opens pull requests
    model_registry: ModelRegistrySpec | None = None  # the model registry promotions start from and write back to

    def checks_for(self, model: Model, stage: str) -> tuple[Check, ...]:
        own = next((s.checks for s in self.stages if s.name == stage), ())
        return own + model.checks

    def mirror_of(self, site) -> str:
        """The registry a site's cluster pulls from: its own mirror, else its stage's, else '' (the source)."""
        return site.mirror or next((s.mirror for s in self.stages if s.name == site.stage), "")

    def retrain_for(self, model: Model) -> Retrain | None:
        return model.retrain or self.retrain

    def model(self, name: str) -> Model:
        for model in self.models:
            if model.name == name:
                return model
        known = ", ".join(m.name for m in self.models) or "none"
        raise InputError(f"unknown model {name!r}{did_you_mean(name, [m.name for m in self.models])} (configured: {known})")

    def stage_index(self, stage: str) -> int:
        for index, candidate in enumerate(self.stages):
            if candidate.name == stage:
                return index
        return len(self.stages)


def find_repo(start: Path) -> Path:
    """The repository holding ``start``: the nearest folder upward with a ``gitops-mlops.yaml``,
    not past the top of the git work tree (as git finds its repository); ``start`` itself when none."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
        if (folder / ".git").exists():
            break
    return Path(start)


def read_site(source: str, node: Node, stages: list[Stage]) -> SiteSpec:
    """One ``sites:`` entry: a site, or a pattern of them (``siteglob``: only ``*`` captures)."""
    r = Reader(source, node, "site", {"name", "path", "stage", "mirror"})
    path = r.str("path").rstrip("/")
    pattern, count = siteglob.is_pattern(path), siteglob.captures(path)
    try:
        siteglob.check(path)
    except ValueError as exc:
        raise r.error(r.values["path"], f"site path {path!r}: {exc}") from None
    name = r.str("name", default=path)
    example = siteglob.example(name, count) if "name" in r.values or not pattern else "/".join("x" if siteglob.is_pattern(p) else p for p in path.split("/"))
    if not SITE_NAME_RE.match(example):
        raise r.error(
            r.values.get("name", node),
            f"site name {name!r} is not usable (letters, digits, . _ - per path component; {{1}}, {{2}}... for what each '*' of the path matched)",
        )
    if pattern and "name" in r.values and not siteglob.has_fields(name):
        raise r.error(r.values["name"], f"site name {name!r}: a pattern's name needs {{1}}, {{2}}... (what each '*' matched) so each match has its own")
    stage = r.str("stage", default=name.split("/")[0])
    if siteglob.has_fields(stage):  # filled per match; discovery checks each result is a stage
        if not pattern or not NAME_RE.match(siteglob.example(stage, count)):
            raise r.error(r.values.get("stage", node), f"site {name!r}: stage {stage!r}: {{1}}, {{2}}... stand for what each '*' of the path matched")
    elif stage not in {s.name for s in stages}:
        raise r.error(node, f"site {name!r}: stage {stage!r} is not one of the stages ({', '.join(s.name for s in stages) or 'none configured'})")
    return SiteSpec(name=name, path=path, stage=stage, mirror=r.str("mirror", default="", pattern=HOST_RE), where=f"{source}:{line_of(node)}")


def load_config(repo: Path) -> Config:
    """Read ``gitops-mlops.yaml`` at the repository root."""
    path = repo / CONFIG_FILE
    if not os.path.lexists(path):
        raise InputError(f"{path}: not found (run 'gitops-mlops init' or pass --repo)")
    data = repofiles.read_bytes(path, str(path), Path(repo).resolve(), limit=MAX_CONFIG_BYTES)  # a regular file inside the repository, bounded
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    return parse_config(text, CONFIG_FILE)


def _registries(r: Reader, key: str) -> tuple[str, ...]:
    """Registry hosts, each as images name it: a ``Quay.io`` that no image could match is an error, not a silent refusal."""
    hosts = r.strings(key)
    for node, host in zip(r.list(key), hosts, strict=True):
        try:
            check_registry(host)
        except InputError as exc:
            raise r.error(node, f"policy.{key}: {exc}") from None
    return hosts


def parse_config(text: str, source: str = CONFIG_FILE) -> Config:
    root = compose(text, source)
    if root is None:
        raise InputError(f"{source}: empty")
    top = Reader(
        source,
        root,
        "config",
        {
            "repoURL",
            "targetBranch",
            "remote",
            "models",
            "stages",
            "sites",
            "policy",
            "holds",
            "registries",
            "hydrate",
            "schemas",
            "serving",
            "retrain",
            "argocd",
            "forge",
            "modelRegistry",
        },
    )

    models: list[Model] = []
    for node in top.list("models"):
        r = Reader(source, node, "model", {"name", "image", "repository", "sites", "artifact", "inferenceService", "checks", "retrain", "registeredModel"})
        name = r.str("name", pattern=NAME_RE)
        repository = r.str("repository")
        try:
            parse_repository(repository)
        except InputError as exc:
            raise r.error(r.values["repository"], str(exc)) from None
        if any(m.name == name for m in models):
            raise r.error(node, f"model {name!r} is defined twice")
        artifact = r.str("artifact", default="image")
        if artifact not in ARTIFACTS:
            raise r.error(r.values["artifact"], f"model {name!r}: artifact {artifact!r} is not one of: {', '.join(ARTIFACTS)}")
        if "inferenceService" in r.values and artifact != "modelcar":
            raise r.error(r.values["inferenceService"], f"model {name!r}: inferenceService is for 'artifact: modelcar' models")
        inference_service = r.str("inferenceService", default=name if artifact == "modelcar" else "", pattern=NAME_RE)
        models.append(
            Model(
                name=name,
                image=r.str("image", default=name),
                repository=repository,
                sites=r.strings("sites"),
                artifact=artifact,
                inference_service=inference_service,
                checks=read_checks(source, r, f"model {name!r}"),
                retrain=read_retrain(source, r.values.get("retrain")),
                registered_model=registered_model_name(r),
            )
        )
        for other in models[:-1]:
            if same_repository(other.image, models[-1].image) and not (other.sites and models[-1].sites):
                raise r.error(
                    node,
                    f"models {other.name!r} and {name!r} share one image {other.image!r}: give each its own 'image', or list where each lives under 'sites'",
                )
    if not models:
        raise InputError(f"{source}:{line_of(root)}: config needs at least one model under 'models'")

    stages: list[Stage] = []
    for node in top.list("stages"):
        r = Reader(source, node, "stage", {"name", "constraint", "prereleases", "checks", "requireVerified", "mirror"})
        name = r.str("name", pattern=NAME_RE)
        if any(s.name == name for s in stages):
            raise r.error(node, f"stage {name!r} is defined twice")
        constraint = r.str("constraint", default="")
        try:
            parse_range(constraint)
        except InputError as exc:
            raise r.error(r.values["constraint"], f"stage {name!r}: {exc}") from None
        stages.append(
            Stage(
                name=name,
                constraint=constraint,
                prereleases=r.bool("prereleases"),
                checks=read_checks(source, r, f"stage {name!r}"),
                require_verified=r.bool("requireVerified"),
                mirror=r.str("mirror", default="", pattern=HOST_RE),
            )
        )

    sites = [read_site(source, node, stages) for node in top.list("sites")]
    for i, site in enumerate(sites):
        if any(s.name == site.name for s in sites[:i]):
            raise InputError(f"{site.where}: site {site.name!r} is defined twice")

    policy = Policy()
    if "policy" in top.values:
        r = Reader(source, top.values["policy"], "policy", {"allowedRegistries", "remoteResources", "vulnerabilities"})
        gate = _vulnerabilities(source, r.values["vulnerabilities"]) if "vulnerabilities" in r.values else None
        policy = Policy(allowed_registries=_registries(r, "allowedRegistries"), remote_resources=r.strings("remoteResources"), vulnerabilities=gate)

    holds: list[Hold] = []
    for node in top.list("holds"):
        r = Reader(source, node, "hold", {"model", "site", "digest", "reason"})
        digest = r.str("digest")
        if not DIGEST_RE.match(digest):
            raise r.error(r.values["digest"], f"hold digest {digest!r} is not sha256:<64 hex>")
        holds.append(Hold(model=r.str("model"), site=r.str("site"), digest=digest, reason=r.str("reason", default="")))

    registries: list[RegistrySpec] = []
    for node in top.list("registries"):
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

    hydrate = None
    if "hydrate" in top.values:
        r = Reader(source, top.values["hydrate"], "hydrate", {"branch", "path"})
        branch, path = r.str("branch"), r.str("path", default="sites").strip("/")
        try:
            check_branch(branch, "hydrate.branch", tool=True)
        except InputError as exc:
            raise r.error(r.values["branch"], str(exc)) from None
        if not SITE_NAME_RE.match(path):
            raise r.error(r.values.get("path", r.node), f"hydrate.path {path!r}: a relative folder (letters, digits, . _ - per component)")
        if branch == top.str("targetBranch", default="main"):
            raise r.error(r.values["branch"], "hydrate.branch must not be the branch the source lives on")
        hydrate = HydrateSpec(branch, path)

    schemas = SchemaSpec()
    if "schemas" in top.values:
        r = Reader(source, top.values["schemas"], "schemas", {"kubernetesVersion", "crds"})
        schemas = SchemaSpec(kubernetes_version=r.str("kubernetesVersion", default=""), crds=r.strings("crds"))

    serving = ServingSpec()
    if "serving" in top.values:
        r = Reader(source, top.values["serving"], "serving", {"clusterRuntimes", "deploymentModes"})
        modes = r.strings("deploymentModes") or serving.deployment_modes
        for mode in modes:
            if mode not in DEPLOYMENT_MODES:
                raise r.error(r.values["deploymentModes"], f"serving.deploymentModes: {mode!r} is not one of {', '.join(DEPLOYMENT_MODES)}")
        serving = ServingSpec(cluster_runtimes=r.strings("clusterRuntimes"), deployment_modes=modes)

    argocd = None
    if "argocd" in top.values:
        r = Reader(source, top.values["argocd"], "argocd", {"webhook", "secretEnv"})
        argocd = ArgoCD(r.url("webhook"), r.str("secretEnv", default=""))

    forge = None
    if "forge" in top.values:
        r = Reader(source, top.values["forge"], "forge", {"type", "url", "repository", "tokenEnv", "labels"})
        kind = r.str("type", default="")
        if kind and kind not in FORGE_TYPES:
            raise r.error(r.values["type"], f"forge.type {kind!r} is not one of {', '.join(FORGE_TYPES)}")
        url = r.url("url", default="")
        repository = r.str("repository", default="")
        if repository and not re.match(r"^[\w.-]+(/[\w.-]+)+$", repository):
            raise r.error(r.values["repository"], f"forge.repository {repository!r} is not owner/name")
        kind = "gitea" if kind == "forgejo" else kind
        forge = ForgeSpec(kind, url, repository, r.str("tokenEnv", default=""), r.strings("labels"))

    return Config(
        model_registry=read_model_registry(source, top.values["modelRegistry"]) if "modelRegistry" in top.values else None,
        forge=forge,
        argocd=argocd,
        retrain=read_retrain(source, top.values.get("retrain")),
        schemas=schemas,
        serving=serving,
        hydrate=hydrate,
        models=tuple(models),
        stages=tuple(stages),
        sites=tuple(sites),
        policy=policy,
        holds=tuple(holds),
        registries=tuple(registries),
        repo_url=top.str("repoURL", default=""),
        target_branch=_checked(top, "targetBranch", "main", check_branch),
        remote=_checked(top, "remote", "origin", check_remote),
    )


def _checked(top: Reader, key: str, default: str, check) -> str:
    """A top-level name checked as its command-line option is (``--target-branch``, ``--remote``)."""
    value = top.str(key, default=default)
    try:
        return check(value, key)
    except InputError as exc:
        raise top.error(top.values[key], str(exc)) from None


SEVERITIES = ("unknown", "negligible", "low", "medium", "high", "critical")  # Clair's and Trivy's, lowest first


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
