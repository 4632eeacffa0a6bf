"""Render sites and check what they would deploy: every configured model pinned by a digest,
every rendered object valid against its schema (``schemas.py``), KServe serving that makes
sense (``serving.py``).

Images that are not configured models are not the tool's business: pinned by tag or
not at all, they are never reported. Sites with identical renders are checked once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from gitops_mlops.config import applications
from gitops_mlops.config.load import Config
from gitops_mlops.config.scaffold import initial_digest
from gitops_mlops.config.sites import Site, kustomization_of, matches
from gitops_mlops.core.errors import GitOpsError
from gitops_mlops.core.imageref import canonical
from gitops_mlops.core.names import DIGEST_RE
from gitops_mlops.pins import kustomization
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.inputs import References, closure, site_dir, walk_references
from gitops_mlops.render.kustomize import Kustomize, split_documents
from gitops_mlops.render.schemas import Schemas, load_object
from gitops_mlops.render.serving import serving_errors
from gitops_mlops.render.state import Container, ModelMatcher, SiteRender, render_state

_SERVING_KINDS = ("kind: InferenceService", "kind: ServingRuntime", "kind: ClusterServingRuntime")


@dataclass(frozen=True)
class SiteReport:
    site: str
    errors: tuple[str, ...] = ()
    placeholders: tuple[str, ...] = ()  # models the site still runs at the stand-in digest ``init`` wrote
    unchecked: tuple[str, ...] = ()  # kinds it renders that no schema covers: 'Kind (apiVersion)'

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_json(self) -> dict:
        return {
            "site": self.site,
            "ok": self.ok,
            "errors": list(self.errors),
            "placeholders": list(self.placeholders),
            "notChecked": list(self.unchecked),
        }


def placeholders(config: Config, site: Site, containers: tuple[Container, ...], matcher: ModelMatcher) -> tuple[str, ...]:
    """Models the site renders at the digest ``init`` wrote for them: not yet promoted."""
    found = []
    for container in containers:
        model, _ = matcher.model_of(site.name, container.repository)
        if model is not None and container.digest == initial_digest(model.name) and model.name not in found:
            found.append(model.name)
    return tuple(found)


def check_pins(repo: Path, config: Config, site: Site) -> list[str]:
    """Errors in the site's own pins of configured models: missing or malformed digests."""
    path = kustomization_of(repo, site)
    source = path.relative_to(repo.resolve()).as_posix()
    by_image = {m.pin_name: m for m in config.models}
    for model in config.models:  # a pin's name as kustomize sees it, or any spelling of the model's image or repository
        names = (model.repository, model.image) if model.artifact == "image" else (model.repository,)
        by_image.update({canonical(name): model for name in names if canonical(name) not in by_image})
    model_of = lambda name: by_image.get(name) or by_image.get(canonical(name))  # noqa: E731
    try:
        text = kustomization.read_text(path, source)
        fast = kustomization.fast_pins(text, source)  # images and modelcars; a malformed oci:// URI is an error here
        if fast is not None and all(model_of(p.name) is None or (p.digest and DIGEST_RE.match(p.digest)) for p in fast):
            return []  # the common case, without the full parse; anything else is reported with its line
        doc = kustomization.parse(text, source)
    except GitOpsError as exc:
        return [str(exc)]
    errors = []
    for pin in doc.pins:
        model = model_of(pin.name)
        if model is None:
            continue
        if not pin.digest:
            errors.append(f"{source}:{pin.line}: model {model.name} is not pinned by digest")
        elif not DIGEST_RE.match(pin.digest):
            errors.append(f"{source}:{pin.line}: model {model.name}: malformed digest {pin.digest!r}")
    return errors


def rendered_errors(config: Config, site: Site, containers: tuple[Container, ...], matcher: ModelMatcher | None = None) -> list[str]:
    """Errors in what the site would deploy: a model's workload without a well-formed digest."""
    matcher = matcher or ModelMatcher(config)
    errors = []
    for container in containers:
        model, _ = matcher.model_of(site.name, container.repository)
        if model is None:
            continue
        if not container.digest or not DIGEST_RE.match(container.digest):
            errors.append(f"site {site.name}: {container.resource}: model {model.name} image {container.image!r} is not pinned by a sha256 digest")
    return errors


def validate_sites(
    repo: Path,
    config: Config,
    sites: tuple[Site, ...],
    kustomize: Kustomize | None = None,
    schemas: Schemas | None = None,
    strict: bool = False,
) -> list[SiteReport]:
    """Every site's report. With ``schemas`` every rendered object is checked against its schema;
    ``strict`` makes a kind no schema covers an error."""
    with RenderCache(repo) as cache:
        rendered = render_state(repo, config, sites, kustomize=kustomize, cache=cache)
        verdicts = _verdicts(repo, config, schemas, [s for s in sites if rendered[s.name].ok], rendered, cache)
    matcher = ModelMatcher(config)
    reports = []
    for site in sites:
        errors = check_pins(repo, config, site)
        result = rendered[site.name]
        unchecked: tuple[str, ...] = ()
        if result.error:
            errors.append(result.error)
        else:
            errors += rendered_errors(config, site, result.containers, matcher)
            found, unchecked = verdicts[site.name]
            errors += [f"site {site.name}: {e}" for e in found]
            if strict:
                errors += [f"site {site.name}: {kind}: no schema to check it against (--strict)" for kind in unchecked]
        waiting = () if result.error else placeholders(config, site, result.containers, matcher)
        reports.append(SiteReport(site=site.name, errors=tuple(errors), placeholders=waiting, unchecked=unchecked))
    return reports


def _verdicts(
    repo: Path, config: Config, schemas: Schemas | None, sites: list[Site], rendered: dict[str, SiteRender], cache: RenderCache
) -> dict[str, tuple[list[str], tuple[str, ...]]]:
    """Each site's schema and serving problems, and the kinds no schema covers. A verdict depends only on
    the rendered output, the checks and the modelcars living at the site: it is made once per distinct
    combination and kept in the render cache, so an unchanged fleet is not checked again."""
    checks = "\0".join((schemas.identity if schemas is not None else "no schemas", repr(config.serving)))
    keys = {}
    for site in sites:
        cars = sorted(
            f"{m.name}={m.inference_service}"
            for m in config.models
            if m.artifact == "modelcar" and (not m.sites or any(matches(site.name, s) for s in m.sites))
        )
        keys[site.name] = "verdict:" + hashlib.sha256("\0".join((checks, rendered[site.name].output_sha, *cars)).encode()).hexdigest()
    known = {key: json.loads(value) for key, value in cache.metas(list(keys.values())).items()}
    todo = {keys[s.name]: s for s in sites if keys[s.name] not in known}
    if todo:
        outputs = {s.name: rendered[s.name].output for s in todo.values() if rendered[s.name].output is not None}
        stored = cache.outputs([rendered[s.name].key for s in todo.values() if s.name not in outputs])
        outputs |= {s.name: stored[rendered[s.name].key] for s in todo.values() if rendered[s.name].key in stored}
        rest = tuple(s for s in todo.values() if s.name not in outputs)
        if rest:  # not kept (a cache that cannot be written): render them again, with their outputs
            outputs |= {name: r.output or "" for name, r in render_state(repo, config, rest, outputs=True, cache=cache).items()}
        made = {}
        for key, site in todo.items():
            output = outputs[site.name]
            errors = serving_errors(config, site.name, serving_objects(output))
            unchecked: tuple[str, ...] = ()
            if schemas is not None:
                found = schemas.check(output)
                errors, unchecked = [str(f) for f in found.errors] + errors, found.unchecked
            made[key] = known[key] = [errors, list(unchecked)]
        cache.set_metas({key: json.dumps(value) for key, value in made.items()})
    return {s.name: (known[keys[s.name]][0], tuple(known[keys[s.name]][1])) for s in sites}


def sites_reading(repo: Path, config: Config, sites: tuple[Site, ...], files: list[Path]) -> tuple[Site, ...]:
    """The sites whose build reads the folder of one of ``files`` (every site when the config is one of
    them); a site whose inputs cannot be followed is included, so that validate names its problem."""
    repo = Path(repo).resolve()
    paths = [(Path.cwd() / f).resolve() for f in files]
    if any(p == repo / "gitops-mlops.yaml" for p in paths):
        return sites
    dirs = {p.parent for p in paths if p.is_relative_to(repo)}
    refs = References()
    found = []
    for site in sites:
        try:
            walk_references(repo, site, config.policy.remote_resources, refs)
        except GitOpsError:
            found.append(site)
            continue
        if any(d in dirs for d in closure(site_dir(repo, site, refs), refs)):
            found.append(site)
    return tuple(found)


def serving_objects(rendered: str) -> list[dict]:
    """The InferenceServices and ServingRuntimes of a rendered output, parsed."""
    objects = []
    for doc in split_documents(rendered):
        if any(kind in doc for kind in _SERVING_KINDS):
            try:
                obj = load_object(doc)
            except yaml.YAMLError:
                continue
            if isinstance(obj, dict):
                objects.append(obj)
    return objects


def schemas_for(repo: Path, config: Config, extra_crds: tuple[Path, ...] = (), cache: RenderCache | None = None) -> Schemas:
    """The schemas the config names (its CRD paths relative to the repository) and any given besides."""
    crds = tuple(Path(repo) / p for p in config.schemas.crds) + tuple(extra_crds)
    if cache is not None:
        return Schemas(config.schemas.kubernetes_version, crds, cache)
    with RenderCache(repo) as own:
        return Schemas(config.schemas.kubernetes_version, crds, own)


def repository_problems(repo: Path, config: Config, sites: tuple[Site, ...]) -> list[str]:
    """What is wrong with the repository as a whole: a configured stage without a site (the next
    stage's gate would have nothing to wait for) and an Argo CD Application syncing a folder that
    does not exist."""
    staged = {site.stage for site in sites}
    problems = [
        f"stage {stage.name}: no site (configured in gitops-mlops.yaml); the next stage's gate has nothing to wait for"
        for stage in config.stages
        if stage.name not in staged
    ]
    return problems + applications.missing_paths(repo)
