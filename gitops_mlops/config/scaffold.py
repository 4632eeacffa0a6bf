"""The layout of a managed GitOps repository: config, base manifests, overlays, Argo CD.

Pure: renders file texts from a spec with the template files under ``templates/``
(``@@key@@`` places; no git, no YAML library), so the output is byte-stable and fast
for thousands of edge sites.
``gitops-mlops init`` writes it; the project root's own example is the default
spec's output (``scripts/regenerate_example.py``), and a test keeps the two identical.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from gitops_mlops.core.errors import InputError
from gitops_mlops.core.imageref import parse_repository
from gitops_mlops.core.names import BRANCH_RE, NAME_RE
from gitops_mlops.pins import modelcar

_NAME_RULE = "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"
# https://, ssh://, git@host:path, file:// and a local path (absolute or relative) alike
_URL_RE = re.compile(r"^[A-Za-z0-9/.~][^\s\x00-\x1f\x7f\"'#\\{}]*$")
_URL_CREDENTIALS_RE = re.compile(r"^(?:https?://[^/@]+@|[a-z][a-z0-9+.-]*://[^/@:]+:[^/@]*@)", re.I)

INITIAL_VERSION = "1.0.0"
IN_CLUSTER = "https://kubernetes.default.svc"
CI_NAMESPACE = "ml-serving-ci"  # where the repository's pipelines run (OpenShift Pipelines)
TOOL_IMAGE = "quay.io/example/gitops-mlops:0.1.0"  # the image that runs gitops-mlops in pipelines
TEMPLATES = Path(__file__).parent / "templates"
_PLACE = re.compile(r"@@(\w+)@@")
CLOUD_API = "https://api.cloud.example.com:6443"
RUNTIME = ("openvino-model-server", "quay.io/example/openvino-model-server")
APP = ("fraud-app", "quay.io/example/fraud-app", "fraud-detector")


@dataclass(frozen=True)
class ScaffoldSpec:
    """What to scaffold. Validated when built: a spec that exists renders."""

    models: tuple[tuple[str, ...], ...] = (
        ("fraud-detector", "quay.io/example/fraud-detector", "modelcar"),
        ("demand-forecast", "quay.io/example/demand-forecast"),
    )  # (name, repository) or (name, repository, artifact): "image" (a Deployment) or "modelcar" (a KServe InferenceService)
    edge_sites: tuple[str, ...] = ("berlin-01", "austin-01", "singapore-01")  # directories under overlays/edge/
    repo_url: str = "https://github.com/example/gitops-mlops.git"
    target_branch: str = "main"
    runtime: tuple[str, str] = RUNTIME  # (name, repository) of the ServingRuntime written when a model is a modelcar
    app: tuple[str, str, str] | None = APP  # (name, repository, the modelcar it calls): written when that model is a modelcar; None: no application
    release: str = "fraud"  # the release the modelcar it calls, its runtime and the application form

    @property
    def modelcars(self) -> tuple[str, ...]:
        return tuple(m[0] for m in self.models if m[2:] == ("modelcar",))

    @property
    def has_app(self) -> bool:
        return self.app is not None and self.app[2] in self.modelcars

    @property
    def images(self) -> tuple[tuple[str, str], ...]:
        """(name, repository) of every image the overlays pin: the image models', the runtime's and the application's."""
        found = tuple((m[0], m[1]) for m in self.models if m[2:] != ("modelcar",))
        return found + ((self.runtime,) if self.modelcars else ()) + ((self.app[:2],) if self.has_app else ())

    def __post_init__(self) -> None:
        for field, value in (("models", self.models), ("edge_sites", self.edge_sites)):
            if isinstance(value, str):
                raise InputError(f"{field}: expected a sequence, not the string {value!r}")
        models = tuple(tuple(m) if isinstance(m, list) else m for m in self.models)
        object.__setattr__(self, "models", models)
        object.__setattr__(self, "edge_sites", tuple(self.edge_sites))
        _check(self)


def _check(spec: ScaffoldSpec) -> None:
    if not spec.models:
        raise InputError("at least one model is needed")
    seen: set[str] = set()
    for model in spec.models:
        if not isinstance(model, tuple) or len(model) not in (2, 3) or not all(isinstance(v, str) for v in model):
            raise InputError(f"model {model!r}: expected (name, repository) or (name, repository, artifact) strings")
        name, repository = model[:2]
        if model[2:] not in ((), ("image",), ("modelcar",)):
            raise InputError(f"model {name!r}: artifact {model[2]!r} is not one of: image, modelcar")
        if not NAME_RE.match(name):
            raise InputError(f"model name {name!r}: {_NAME_RULE}")
        if name in seen:
            raise InputError(f"model {name!r} is given twice")
        seen.add(name)
        try:
            ref = parse_repository(repository)
        except InputError as exc:
            raise InputError(f"model {name!r}: {exc}") from None
        if ref.repository != repository:
            raise InputError(f"model {name!r}: repository {repository!r} must name its registry, as {ref.repository!r}")
    if spec.modelcars and spec.runtime[0] in seen:
        raise InputError(f"model {spec.runtime[0]!r}: the name of the serving runtime; choose another")
    if spec.has_app and spec.app[0] in seen:
        raise InputError(f"model {spec.app[0]!r}: the name of the application calling {spec.app[2]}; choose another")
    seen.clear()
    for site in spec.edge_sites:
        if not isinstance(site, str) or not NAME_RE.match(site):
            raise InputError(f"edge site name {site!r}: {_NAME_RULE}")
        if site in seen:
            raise InputError(f"edge site {site!r} is given twice")
        seen.add(site)
    url = spec.repo_url
    if isinstance(url, str) and _URL_CREDENTIALS_RE.search(url.strip()):
        raise InputError("repository URL: must not carry credentials (it is committed and shown to Argo CD); use a repository secret")
    if not isinstance(url, str) or not _URL_RE.match(url):
        shown = "<not shown: it holds '@'>" if isinstance(url, str) and "@" in url else repr(url)
        raise InputError(f"repository URL {shown}: empty, starts with '-', or has whitespace, control characters, quotes, '#', braces or backslashes")
    if not isinstance(spec.target_branch, str) or not BRANCH_RE.match(spec.target_branch):
        raise InputError(f"target branch {spec.target_branch!r}: not a valid git branch name")


MAX_EDGE_SITES = 50_000  # what init generates at once (benchmarks use 10,000); add-site adds more


def edge_site_names(count: int) -> tuple[str, ...]:
    """``site-0001`` ... ``site-NNNN``: zero-padded to 4 digits, more when count > 9999."""
    if not 0 <= count <= MAX_EDGE_SITES:
        raise InputError(f"edge site count {count}: must be from 0 to {MAX_EDGE_SITES}")
    width = max(4, len(str(count)))
    return tuple(f"site-{i:0{width}d}" for i in range(1, count + 1))


def initial_digest(model: str) -> str:
    """A stand-in digest for a model's first pin: deterministic, so the example is byte-stable."""
    return "sha256:" + hashlib.sha256(f"{model}:{INITIAL_VERSION}".encode()).hexdigest()


def render_layout(spec: ScaffoldSpec) -> dict[str, str]:
    """Relative posix path -> file text, for the whole layout. Deterministic."""
    files = {"gitops-mlops.yaml": _config(spec)}
    for name, *_ in spec.models:
        files.update(_base(spec, name))
    if spec.modelcars:
        files.update(_runtime(spec))
    if spec.has_app:
        files.update(_app(spec))
    files["overlays/datacenter/kustomization.yaml"] = _overlay(spec, "datacenter", "../..")
    files["overlays/cloud/kustomization.yaml"] = _overlay(spec, "cloud", "../..")
    edge_body = _overlay_body(spec, "edge", "../../..")  # the same for every edge site
    for site in spec.edge_sites:
        files[f"overlays/edge/{site}/kustomization.yaml"] = _edge_header(site) + edge_body
    files.update(_environments(spec))
    return files


def write_layout(root: Path, spec: ScaffoldSpec) -> list[Path]:
    """Write the layout under ``root`` (creating directories); returns the paths written."""
    written = []
    for relative, text in render_layout(spec).items():
        path = Path(root) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        written.append(path)
    return written


# ------------------------------------------------------------------ the files, from templates/
#
# Every file is a template under templates/ with @@key@@ places filled in here; only lists
# (models, registries, resources, pins) are put together in code.

_BASE_FILES = ("kustomization.yaml", "deployment.yaml", "service.yaml", "hpa.yaml", "route.yaml")
_MODELCAR_FILES = ("kustomization.yaml", "inferenceservice.yaml")
_RUNTIME_FILES = ("kustomization.yaml", "servingruntime.yaml")
_APP_FILES = ("kustomization.yaml", "deployment.yaml", "service.yaml", "route.yaml")


@functools.cache
def _read(template: str) -> str:
    return (TEMPLATES / template).read_text(encoding="utf-8")


def _template(template: str, **values: str) -> str:
    """A template file of this package with each ``@@key@@`` filled in, in one pass (a value is never
    read as a place); the places and the values must match exactly."""
    text = _read(template)
    places = set(_PLACE.findall(text))
    if places != set(values):
        raise AssertionError(f"template {template}: places {sorted(places)}, values {sorted(values)}")
    return _PLACE.sub(lambda m: values[m.group(1)], text) if places else text


def _config(spec: ScaffoldSpec) -> str:
    entries = [*spec.models, *((spec.runtime + ("runtime",),) if spec.modelcars else ()), *((spec.app[:2] + ("app",),) if spec.has_app else ())]
    registries = sorted({parse_repository(repo).registry for _, repo, *_ in entries})
    width = max(len(f"repository: {repo}") for _, repo, *_ in entries) + 2
    called = spec.app[2] if spec.app else ""
    notes = {
        "image": "the container image name in base/ manifests; overlays pin it",
        "modelcar": "the storageUri placeholder in base/ (oci://NAME); overlays pin it",
        "runtime": "the ServingRuntime's image name in base/; promoted like a model",
        "app": f"the application calling {called}; its image name in base/",
    }
    models = "".join(
        f"  - name: {name}\n"
        + (f"    {'artifact: modelcar':<{width}}# the model itself is an OCI image, served by KServe\n" if rest == ["modelcar"] else "")
        + f"    {f'image: {name}':<{width}}# {notes[rest[0] if rest else 'image']}\n"
        f"    {f'repository: {repo}':<{width}}# where the pipeline pushes its builds\n"
        + (f"    requires:                                          # the versions of {called} it works with\n" if rest == ["app"] else "")
        + (f'      {called}: ">={INITIAL_VERSION} <2.0.0"\n' if rest == ["app"] else "")
        for name, repo, *rest in entries
    )
    allowed = "".join(f"    - {registry}\n" for registry in registries)
    releases = (
        "# Models that move together: promoted, gated and rolled back as one combination ('promote --release').\n"
        f"releases:\n  - name: {spec.release}\n    members: [{called}, {spec.runtime[0]}, {spec.app[0] if spec.app else ''}]\n"
        if spec.has_app
        else ""
    )
    return _template("gitops-mlops.yaml", repo_url=spec.repo_url, target_branch=spec.target_branch, models=models, allowed_registries=allowed) + releases


def _base(spec: ScaffoldSpec, name: str) -> dict[str, str]:
    if name in spec.modelcars:
        return {f"base/{name}/{file}": _template(f"base/modelcar/{file}", name=name, runtime=spec.runtime[0]) for file in _MODELCAR_FILES}
    return {f"base/{name}/{file}": _template(f"base/{file}", name=name) for file in _BASE_FILES}


def _app(spec: ScaffoldSpec) -> dict[str, str]:
    name, _, model = spec.app
    return {
        f"base/{name}/{file}": _template(f"base/app/{file}", name=name, **({"model": model} if file in ("kustomization.yaml", "deployment.yaml") else {}))
        for file in _APP_FILES
    }


def _runtime(spec: ScaffoldSpec) -> dict[str, str]:
    name = spec.runtime[0]
    return {f"base/{name}/{file}": _template(f"base/runtime/{file}", runtime=name) for file in _RUNTIME_FILES}


# Patches are inline (kustomize refuses patch files outside an overlay's own directory) and
# target by kind, so one patch sizes every model of the site. They are strategic merges keyed
# by the container name, so a sidecar never shifts them.


def _edge_header(site: str) -> str:
    return _template("overlays/header-edge.yaml", site=site)


def _overlay(spec: ScaffoldSpec, stage: str, up: str) -> str:
    return _template(f"overlays/header-{stage}.yaml") + _overlay_body(spec, stage, up)


def _overlay_body(spec: ScaffoldSpec, stage: str, up: str) -> str:
    names = [name for name, *_ in spec.models] + ([spec.runtime[0]] if spec.modelcars else []) + ([spec.app[0]] if spec.has_app else [])
    resources = "".join(f"  - {up}/base/{name}\n" for name in names)
    pins = "".join(f"  - name: {name}\n    newName: {repo}\n    newTag: {INITIAL_VERSION}\n    digest: {initial_digest(name)}\n" for name, repo in spec.images)
    serving_images = len(spec.models) > len(spec.modelcars)  # Deployments serving a model: the patches size them
    patches = _template(f"overlays/patches-{stage}.yaml") if serving_images else ""
    modelcar_pins = ""
    if spec.modelcars:
        patches += _template(f"overlays/patches-{stage}-kserve.yaml")
        repositories = {m[0]: m[1] for m in spec.models}
        modelcar_pins = "  # Modelcar pins: each InferenceService's storageUri, written by 'gitops-mlops promote'.\n" + "".join(
            modelcar.new_entry(name, modelcar.format_uri(repositories[name], INITIAL_VERSION, initial_digest(name)), 2, "\n") for name in spec.modelcars
        )
    return _template("overlays/kustomization.yaml", resources=resources, patches=patches, modelcar_pins=modelcar_pins, pins=pins)


# Argo CD regenerates an Application's manifests only when a commit touches the paths of its
# manifest-generate-paths annotation (in the templates): the site's own overlay (.) and the shared
# bases (/base, from the repository root). Without it, every commit to this repository regenerates
# every Application, so a one-site promotion costs the fleet.


def _application(spec: ScaffoldSpec, site: str, server: str, what: str) -> str:
    return _template("environments/application.yaml", site=site, server=server, what=what, repo_url=spec.repo_url, target_branch=spec.target_branch)


def _environments(spec: ScaffoldSpec) -> dict[str, str]:
    repo = {"repo_url": spec.repo_url, "target_branch": spec.target_branch}
    return {
        "environments/kustomization.yaml": _template("environments/kustomization.yaml"),
        "environments/project.yaml": _template("environments/project.yaml", repo_url=spec.repo_url),
        "environments/pipelines/pr-check.yaml": _template("environments/pr-check-pipeline.yaml", ci_namespace=CI_NAMESPACE, tool_image=TOOL_IMAGE, **repo),
        "environments/pipelines/promote-task.yaml": _template("environments/promote-task.yaml", ci_namespace=CI_NAMESPACE, tool_image=TOOL_IMAGE, **repo),
        "environments/pipelines/rollout-task.yaml": _template("environments/rollout-task.yaml", ci_namespace=CI_NAMESPACE, tool_image=TOOL_IMAGE, **repo),
        "environments/pipelines/model-build.yaml": _template("environments/model-build-pipeline.yaml", ci_namespace=CI_NAMESPACE),
        "environments/datacenter.yaml": _application(spec, "datacenter", IN_CLUSTER, "the datacenter cluster (where Argo CD runs)"),
        "environments/cloud.yaml": _application(spec, "cloud", CLOUD_API, "the public cloud cluster"),
        "environments/edge-fleet.yaml": _template("environments/edge-fleet.yaml", **repo),
    }
