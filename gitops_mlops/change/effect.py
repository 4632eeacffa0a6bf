"""Render and verify a written change before it is committed: its effect, and nothing past it.

Every changed site must render the promoted reference at every workload of the model
(else exit 4, naming what it renders instead and why). Every other site whose render
changed is named, and if it was not selected the change is refused (exit 3): nothing
reaches a site past its stage gate through a shared folder. A change may not bring a
validation problem that was not there before — a missing digest, an object its schema
refuses, serving that does not make sense; old problems are not its business. A reference
expected without a digest (a rollback offline to a state pinned by tag alone) is that tag on purpose.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from gitops_mlops.config.load import Config, Model
from gitops_mlops.config.sites import Site
from gitops_mlops.core.errors import PolicyError, RenderError
from gitops_mlops.core.imageref import same_repository
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.inputs import References, closure, site_dir
from gitops_mlops.render.kustomize import split_documents
from gitops_mlops.render.schemafast import KnownValid
from gitops_mlops.render.schemas import Schemas
from gitops_mlops.render.serving import serving_errors
from gitops_mlops.render.state import ModelMatcher, SiteRender, render_state
from gitops_mlops.render.validate import rendered_errors, serving_objects


@dataclass(frozen=True)
class Expected:
    """What a changed site must render for the model afterwards: the repository (any spelling of it)
    and digest, and the tag the pin gives it."""

    repository: str
    digest: str
    tag: str = ""

    def matches(self, repository: str, tag: str, digest: str) -> bool:
        if not same_repository(repository, self.repository) or digest != self.digest:
            return False
        return not (self.tag and tag and tag != self.tag)

    def __str__(self) -> str:
        return f"{self.repository}{':' + self.tag if self.tag else ''}@{self.digest}"


def pin_edited(refs: References) -> References:
    """What ``refs`` learned that still holds after pin edits: they change the values of pins in
    kustomization texts, never which files exist nor what a kustomization references (resources,
    components, bases). Paths and the graph of references are kept; the files' content, and so the
    keys, are read again."""
    return References(
        parsed=refs.parsed,
        normal=refs.normal,
        resolved=refs.resolved,
        siblings=refs.siblings,
        children=refs.children,
        closures=refs.closures,
        entries=refs.entries,
        trees=refs.trees,
    )


def render_effect(
    repo_dir: Path,
    config: Config,
    model: Model,
    expected: dict[str, Expected],
    sites: dict[str, Site],
    others: tuple[Site, ...],
    before: dict[str, SiteRender],
    refs: References,
    cache: RenderCache | None = None,
    schemas: Schemas | None = None,
) -> dict[str, SiteRender]:
    """Render the changed sites and the others that read their folders; raise unless the effect is exactly the intended one."""
    return verify_models(repo_dir, config, ((model, expected),), sites, others, before, refs, cache, schemas)


def verify_models(
    repo_dir: Path,
    config: Config,
    wants: tuple[tuple[Model, dict[str, Expected]], ...],
    sites: dict[str, Site],
    others: tuple[Site, ...],
    before: dict[str, SiteRender],
    refs: References,
    cache: RenderCache | None = None,
    schemas: Schemas | None = None,
) -> dict[str, SiteRender]:
    """``verify`` for several models changed in one write (a release's members): every changed site is
    rendered once, each model's effect checked at its sites, and each site's new problems once."""
    fresh = pin_edited(refs)
    names = list(dict.fromkeys(name for _, expected in wants for name in expected))
    after = render_state(repo_dir, config, [sites[name] for name in names], refs=fresh, cache=cache, outputs=schemas is not None)
    if others:  # their whole output, to compare with before
        after |= render_state(repo_dir, config, others, outputs=True, refs=fresh, cache=cache)
    matcher = ModelMatcher(config)
    for model, expected in wants:
        _check_effect(matcher, model, expected, after)
    moved = [s.name for s in others if before.get(s.name) is not None and after[s.name].output_sha != before[s.name].output_sha]
    if moved:
        via = ", ".join(_shared_folders(repo_dir, refs, [s for s in others if s.name in moved], [sites[n] for n in names]))
        shown = ", ".join(moved[:5]) + (f" and {len(moved) - 5} more" if len(moved) > 5 else "")
        raise PolicyError(f"would also change {shown} through {via}, which the selected sites share; select those sites too (nothing changed)")
    _check_introduced(config, wants, names, sites, before, after, cache, schemas)
    return after


def _check_effect(matcher: ModelMatcher, model: Model, expected: dict[str, Expected], after: dict[str, SiteRender]) -> None:
    """Every changed site renders the expected reference at every workload of the model."""
    for name, want in expected.items():
        state = after[name]
        if not state.ok:
            raise RenderError(f"validation failed, nothing changed: {state.error}")
        containers = matcher.by_model(name, state.containers).get(model.name, [])
        wrong = [c for c in containers if not want.matches(c.repository, c.tag, c.digest)]
        if not containers or wrong:
            shown = f"{wrong[0].resource} renders {wrong[0].image}" if wrong else f"no workload renders {model.name}"
            raise RenderError(
                f"site {name}: after the edit {shown}, not {want}: the image is set outside this site's pin (a wrapped overlay, a patch or a generator); nothing changed"
            )


def _check_introduced(config, wants, names, sites, before, after, cache, schemas) -> None:
    """No changed site has a validation problem it did not have before (a reference expected without a
    digest is that tag on purpose)."""
    checks = Introduced(config, schemas, cache) if schemas is not None else None
    by_site: dict[str, list[Expected]] = {}
    for _, expected in wants:
        for site, want in expected.items():
            by_site.setdefault(site, []).append(want)
    try:
        for name in names:
            _check_site(config, name, by_site[name], sites, before, after, checks)
    finally:
        if checks is not None:
            checks.known.flush()  # the verdicts found valid, in one write


def _check_site(config, name, here, sites, before, after, checks) -> None:
    """One changed site: no validation problem it did not have before."""
    meant = [c for c in after[name].containers if any(not w.digest and w.matches(c.repository, c.tag, c.digest) for w in here)]  # a tag alone, on purpose
    new = set(rendered_errors(config, sites[name], tuple(c for c in after[name].containers if c not in meant))) - set(
        rendered_errors(config, sites[name], before[name].containers if name in before else ())
    )
    if new:
        raise RenderError(f"validation failed, nothing changed: {sorted(new)[0]}")
    if checks is not None:
        introduced = checks.introduced(name, before.get(name), after[name])
        if introduced:
            raise RenderError(f"validation failed, nothing changed: site {name}: {introduced[0]}")


def introduced_errors(config: Config, schemas: Schemas, site: str, before: str | None, after: str) -> list[str]:
    """The schema and serving problems of ``after`` that ``before`` did not have; only documents the change touched are checked."""
    return Introduced(config, schemas).errors(site, before, after)


class Introduced:
    """``introduced_errors`` over many sites: each distinct pair of outputs is split and checked once
    (sites of one template share them), and an earlier output is read from the cache only then."""

    def __init__(self, config: Config, schemas: Schemas, cache: RenderCache | None = None) -> None:
        self.config, self.schemas, self.cache = config, schemas, cache
        self.known = KnownValid(schemas, cache, deferred=True)  # an object whose pin edit changed only its image strings is not checked again
        self._touched: dict[tuple[str, str], list[str] | None] = {}  # (before, after) sha -> schema errors of the touched documents (None: none touched)
        self._had: dict[str, set[str]] = {}  # before sha -> its schema errors
        self._objects: dict[str, list[dict]] = {}  # output sha -> its serving objects

    def introduced(self, site: str, old: SiteRender | None, new: SiteRender) -> list[str]:
        """``errors`` for a site's renders before and after, by their output sha256 where known."""
        read = lambda: None if old is None else old.output if old.output is not None else _cached_output(self.cache, old)  # noqa: E731
        if (old is not None and not old.output_sha) or not new.output_sha:
            return self.errors(site, read(), new.output or "")
        return self._errors(site, old.output_sha if old is not None else "", read, new.output_sha, new.output or "")

    def errors(self, site: str, before: str | None, after: str) -> list[str]:
        sha = lambda text: hashlib.sha256(text.encode()).hexdigest()  # noqa: E731
        return self._errors(site, sha(before) if before is not None else "", lambda: before, sha(after), after)

    def _errors(self, site: str, before_sha: str, read_before, after_sha: str, after: str) -> list[str]:
        key = (before_sha, after_sha)
        text = functools.cache(read_before)  # the earlier output: read at most once, and only when needed
        if key not in self._touched:
            old_list = split_documents(text()) if before_sha and text() is not None else []
            old_docs, new_list = set(old_list), split_documents(after)
            same = len(old_list) == len(new_list)  # a pin edit keeps the objects and their order: each new one is paired with the one it replaces
            touched = [(old_list[i] if same else None, doc) for i, doc in enumerate(new_list) if doc not in old_docs]
            self._touched[key] = [str(f) for f in self.known.check_pairs(touched).errors] if touched else None
        schema_found = self._touched[key]
        if schema_found is None:
            return []
        found = schema_found + serving_errors(self.config, site, self._serving(after_sha, lambda: after))
        if not found or not before_sha or (before_sha not in self._had and text() is None):
            return found
        if before_sha not in self._had:
            self._had[before_sha] = {str(f) for f in self.schemas.check(text()).errors}
        had = self._had[before_sha] | set(serving_errors(self.config, site, self._serving(before_sha, text)))
        return [e for e in found if e not in had]

    def _serving(self, sha: str, read) -> list[dict]:
        if sha not in self._objects:
            self._objects[sha] = serving_objects(read() or "")
        return self._objects[sha]


def _cached_output(cache: RenderCache | None, state: SiteRender | None) -> str | None:
    if cache is None or state is None or not state.key:
        return None
    return cache.outputs([state.key]).get(state.key)


def _shared_folders(repo_dir: Path, refs: References, readers: list[Site], changed: list[Site]) -> list[str]:
    """The changed sites' folders that the readers' builds read (from the closures walked before the edit)."""
    folders = {site_dir(repo_dir, s, refs): s.path for s in changed}
    shared = {folders[d] for site in readers for d in closure(site_dir(repo_dir, site, refs), refs) if d in folders}
    return [f"{path}/" for path in sorted(shared)][:5]
