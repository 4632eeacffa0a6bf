"""Load and validate ``gitops-mlops.yaml`` into frozen dataclasses.

Every error names the file, the line and the cause. Unknown keys are errors:
a typo in a policy must not silently turn the policy off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from gitops_mlops.config import siteglob
from gitops_mlops.config.checks import Check, Retrain, read_checks, read_retrain
from gitops_mlops.config.modelregistry import ModelRegistrySpec, check_update_from, read_model_registry, registered_model_name, update_from
from gitops_mlops.config.policy import Policy, read_policy
from gitops_mlops.config.reader import Reader
from gitops_mlops.config.registries import RegistrySpec, read_registries
from gitops_mlops.config.releases import LABEL_RE, Release, read_releases, read_requires
from gitops_mlops.config.rendering import HydrateSpec, SchemaSpec, ServingSpec, read_hydrate, read_schemas, read_serving
from gitops_mlops.config.services import ArgoCD, ForgeSpec, read_argocd, read_forge
from gitops_mlops.config.waves import Wave, read_soak, read_waves
from gitops_mlops.core import repofiles
from gitops_mlops.core.errors import InputError
from gitops_mlops.core.imageref import parse_repository, same_repository
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
    update_from: str = "tags"  # where ``update`` finds versions: the repository's tags, or "modelRegistry" (its LIVE versions)
    requires: tuple[tuple[str, str], ...] = ()  # (model, semver range) it works with (config/releases.py)
    requires_label: str = ""  # the label of its image that states what it requires, read from the registry (config/releases.py)

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
    waves: tuple[Wave, ...] = ()  # the stage takes a digest in these waves (config/waves.py); none: all at once
    soak: float = 0.0  # seconds the stage before must have run a digest before this stage takes it


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
    releases: tuple[Release, ...] = ()  # models that move together (config/releases.py)

    def release_of(self, model: str) -> Release | None:
        return next((r for r in self.releases if model in r.members), None)

    def release(self, name: str) -> Release:
        found = next((r for r in self.releases if r.name == name), None)
        if found is None:
            known = [r.name for r in self.releases]
            raise InputError(f"unknown release {name!r}{did_you_mean(name, known)} (configured: {', '.join(known) or 'none'})")
        return found

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
    return _parsed(text)


@lru_cache(maxsize=4)
def _parsed(text: str) -> Config:
    """``parse_config`` once per text: a command that loads the config again (after its checks, or
    once more to apply its change) parses it once. A Config is frozen, and its parse reads nothing else."""
    return parse_config(text, CONFIG_FILE)


TOP_KEYS = {
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
    "releases",
}  # what the top level of gitops-mlops.yaml may hold


@lru_cache(maxsize=4)
def composed_config(text: str) -> Node | None:
    """``compose`` of a ``gitops-mlops.yaml`` text, once per text: a rollback's holds are placed by the
    node tree its load of the config composed (nodes are read, never changed, by their readers)."""
    return compose(text, CONFIG_FILE)


def parse_config(text: str, source: str = CONFIG_FILE) -> Config:
    root = composed_config(text) if source == CONFIG_FILE else compose(text, source)
    if root is None:
        raise InputError(f"{source}: empty")
    top = Reader(source, root, "config", TOP_KEYS)

    models = _read_models(source, top.list("models"))
    if not models:
        raise InputError(f"{source}:{line_of(root)}: config needs at least one model under 'models'")
    stages = _read_stages(source, top.list("stages"))
    sites = _read_sites(source, top.list("sites"), stages)
    policy = read_policy(source, top.values.get("policy"))
    holds = _read_holds(source, top.list("holds"))
    registries = read_registries(source, top.list("registries"))
    hydrate = read_hydrate(source, top.values["hydrate"], top.str("targetBranch", default="main")) if "hydrate" in top.values else None
    schemas = read_schemas(source, top.values.get("schemas"))
    serving = read_serving(source, top.values.get("serving"))
    argocd = read_argocd(source, top.values.get("argocd"))
    forge = read_forge(source, top.values.get("forge"))
    check_update_from(source, [m.name for m in models if m.update_from == "modelRegistry"], "modelRegistry" in top.values)
    releases = read_releases(source, top, list(models), {m.name: line_of(n) for m, n in zip(models, top.list("models"), strict=True)})
    return Config(
        releases=releases,
        model_registry=read_model_registry(source, top.values["modelRegistry"]) if "modelRegistry" in top.values else None,
        forge=forge,
        argocd=argocd,
        retrain=read_retrain(source, top.values.get("retrain")),
        schemas=schemas,
        serving=serving,
        hydrate=hydrate,
        models=models,
        stages=stages,
        sites=sites,
        policy=policy,
        holds=holds,
        registries=registries,
        repo_url=top.str("repoURL", default=""),
        target_branch=_checked(top, "targetBranch", "main", check_branch),
        remote=_checked(top, "remote", "origin", check_remote),
    )


def _read_models(source: str, nodes: list[Node]) -> tuple[Model, ...]:
    """The ``models:`` entries: each name once, and no two sharing an image unless each lists its sites."""
    models: list[Model] = []
    for node in nodes:
        r = Reader(
            source,
            node,
            "model",
            {
                "name",
                "image",
                "repository",
                "sites",
                "artifact",
                "inferenceService",
                "checks",
                "retrain",
                "registeredModel",
                "updateFrom",
                "requires",
                "requiresLabel",
            },
        )
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
                update_from=update_from(r),
                requires=read_requires(source, r, name),
                requires_label=r.str("requiresLabel", default="", pattern=LABEL_RE),
            )
        )
        for other in models[:-1]:
            if same_repository(other.image, models[-1].image) and not (other.sites and models[-1].sites):
                raise r.error(
                    node,
                    f"models {other.name!r} and {name!r} share one image {other.image!r}: give each its own 'image', or list where each lives under 'sites'",
                )
    return tuple(models)


def _read_stages(source: str, nodes: list[Node]) -> tuple[Stage, ...]:
    """The ``stages:`` entries, in order, each name once."""
    stages: list[Stage] = []
    for node in nodes:
        r = Reader(source, node, "stage", {"name", "constraint", "prereleases", "checks", "requireVerified", "mirror", "waves", "soak"})
        name = r.str("name", pattern=NAME_RE)
        if any(s.name == name for s in stages):
            raise r.error(node, f"stage {name!r} is defined twice")
        constraint = r.str("constraint", default="")
        try:
            parse_range(constraint)
        except InputError as exc:
            raise r.error(r.values["constraint"], f"stage {name!r}: {exc}") from None
        if "soak" in r.values and not stages:
            raise r.error(r.values["soak"], f"stage {name!r}: soak is how long the stage before must have run a digest; the first stage has none")
        stages.append(
            Stage(
                name=name,
                constraint=constraint,
                prereleases=r.bool("prereleases"),
                checks=read_checks(source, r, f"stage {name!r}"),
                require_verified=r.bool("requireVerified"),
                mirror=r.str("mirror", default="", pattern=HOST_RE),
                waves=read_waves(source, r, name),
                soak=read_soak(source, r, f"stage {name!r}"),
            )
        )
    return tuple(stages)


def _read_sites(source: str, nodes: list[Node], stages: tuple[Stage, ...]) -> tuple[SiteSpec, ...]:
    """The ``sites:`` entries, each name once."""
    sites = [read_site(source, node, list(stages)) for node in nodes]
    for i, site in enumerate(sites):
        if any(s.name == site.name for s in sites[:i]):
            raise InputError(f"{site.where}: site {site.name!r} is defined twice")
    return tuple(sites)


def _read_holds(source: str, nodes: list[Node]) -> tuple[Hold, ...]:
    """The ``holds:`` entries: digests that automation must not promote to a site again."""
    holds: list[Hold] = []
    for node in nodes:
        r = Reader(source, node, "hold", {"model", "site", "digest", "reason"})
        digest = r.str("digest")
        if not DIGEST_RE.match(digest):
            raise r.error(r.values["digest"], f"hold digest {digest!r} is not sha256:<64 hex>")
        holds.append(Hold(model=r.str("model"), site=r.str("site"), digest=digest, reason=r.str("reason", default="")))
    return tuple(holds)


def _checked(top: Reader, key: str, default: str, check) -> str:
    """A top-level name checked as its command-line option is (``--target-branch``, ``--remote``)."""
    value = top.str(key, default=default)
    try:
        return check(value, key)
    except InputError as exc:
        raise top.error(top.values[key], str(exc)) from None
