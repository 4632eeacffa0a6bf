"""A promotion that starts from the model registry: ``promote MODEL --registry-version VERSION``.

Before anything is planned, the registered version is looked up (``modelregistry.versions``) and
its artifact becomes the image promoted, resolved and verified in the OCI registry as any image
is; a modelcar's model format is checked against what the ServingRuntimes rendered at the
selected sites support (``supportedModelFormats``; where no site renders one, the cluster provides
it and it is not checked here). Every fault is one line, before the commit.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gitops_mlops.change.intents import PromoteRequest
from gitops_mlops.config.load import Config, Model, load_config
from gitops_mlops.config.sites import discover_sites, select
from gitops_mlops.core.errors import InputError, RenderError
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.modelregistry.client import Client
from gitops_mlops.modelregistry.versions import RegisteredVersion, lookup
from gitops_mlops.pins import modelcar, modelcarlabels
from gitops_mlops.promote.policy import _is_semver
from gitops_mlops.render.kustomize import split_documents
from gitops_mlops.render.state import render_state


def resolve(repo_dir: Path, request: PromoteRequest) -> PromoteRequest:
    """``request`` with the registered version's artifact as its image (unchanged without ``registry_version``)."""
    if request.registry_version is None:
        if not request.image:
            raise InputError("promote needs IMAGE, or --registry-version VERSION to take it from the model registry")
        return request
    if request.image:
        raise InputError("give either IMAGE or --registry-version, not both: the registered version names its image")
    config = load_config(repo_dir)
    model = config.model(request.model)
    if config.model_registry is None:
        raise InputError("--registry-version needs modelRegistry: {url, tokenEnv} in gitops-mlops.yaml")
    with Client(config.model_registry, repo_dir) as client:
        found = lookup(client, model.registered_name, request.registry_version)
    if model.artifact == "modelcar" and found.model_format:
        check_format(repo_dir, config, model, found, request.selectors)
    tag = found.image.split("@")[0].rpartition(":")[2] if ":" in found.image.split("@")[0].rpartition("/")[2] else ""
    version = request.version or (found.version if not _is_semver(tag) and _is_semver(found.version) else None)
    return replace(request, image=found.image, version=version, registered=found)


def check_format(repo_dir: Path, config: Config, model: Model, found: RegisteredVersion, selectors: tuple[str, ...]) -> None:
    """Refuse (exit 4) a format no ServingRuntime rendered at a selected site supports for the model's InferenceService."""
    sites = select(discover_sites(repo_dir, config), selectors)
    renders = render_state(repo_dir, config, sites, outputs=True)
    for site in sites:
        render = renders[site.name]
        if not render.ok or render.output is None:
            continue  # the promotion's own render names the fault
        supported = runtime_formats(render.output, model.inference_service or model.name)
        if supported is not None and found.model_format.lower() not in supported:
            raise RenderError(
                f"model registry: version {found.version!r} of {found.model!r} is {found.model_format}, which no ServingRuntime at {site.name} supports"
                f" ({', '.join(sorted(supported)) or 'none'})"
            )


def runtime_formats(output: str, inference_service: str) -> set[str] | None:
    """The model formats (lower case) the InferenceService's runtime supports in a render: its named
    runtime's, else every rendered runtime's; None when the render has no ServingRuntime."""
    objects = []
    for doc in split_documents(output):
        try:
            obj = YAML(typ="safe").load(doc)
        except YAMLError:
            continue
        if isinstance(obj, dict) and obj.get("kind") in ("ServingRuntime", "ClusterServingRuntime", "InferenceService"):
            objects.append(obj)
    runtimes = {str((o.get("metadata") or {}).get("name")): o for o in objects if o["kind"] != "InferenceService"}
    if not runtimes:
        return None
    isvc = next((o for o in objects if o["kind"] == "InferenceService" and (o.get("metadata") or {}).get("name") == inference_service), {})
    named = (((isvc.get("spec") or {}).get("predictor") or {}).get("model") or {}).get("runtime")
    chosen = [runtimes[named]] if named in runtimes else list(runtimes.values())
    return {
        str(entry.get("name")).lower()
        for runtime in chosen
        for entry in ((runtime.get("spec") or {}).get("supportedModelFormats") or [])
        if isinstance(entry, dict) and entry.get("name")
    }


def labels_then(git: GitRepo, goals: list) -> dict[str, dict[str, str]]:
    """Per rollback target (``goals``) whose pin is a modelcar's: the model registry's labels its patch
    had where the site ran the goal (read in one git process; none when no goal is a modelcar's)."""
    wanted = {g.site.name: f"{g.goal.commit}:{g.file}" for g in goals if modelcar.is_modelcar_pin(g.pin_name) and g.goal.commit}
    texts = git.show_objects(sorted(set(wanted.values()))) if wanted else {}
    found = {}
    for goal in goals:
        then = texts.get(wanted.get(goal.site.name, ""))
        try:
            found[goal.site.name] = modelcarlabels.labels_of(then, goal.file, goal.pin_name) if then else {}
        except InputError:
            found[goal.site.name] = {}  # a patch the tool could not read then carries no labels it could restore
    return found


def restore_labels(goal, text: str, then: dict[str, dict[str, str]]) -> str:
    """``text`` (a rollback's restored kustomization) with the model registry's labels of a modelcar pin
    as they were where the site ran the goal (``then``: ``labels_then``): they follow the URI back."""
    if not modelcar.is_modelcar_pin(goal.pin_name):
        return text
    return modelcarlabels.set_labels(text, goal.file, goal.pin_name, then.get(goal.site.name))[0]
