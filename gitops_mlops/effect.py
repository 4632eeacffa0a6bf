"""Render and verify a written change before it is committed: its effect, and nothing past it.

Every changed site must render the promoted reference at every workload of the model
(else exit 4, naming what it renders instead and why). Every other site whose render
changed is named, and if it was not selected the change is refused (exit 3): nothing
reaches a site past its stage gate through a shared folder. A change may not bring a
validation problem that was not there before — a missing digest, an object its schema
refuses, serving that does not make sense; old problems are not its business.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitops_mlops.config import Config, Model
from gitops_mlops.errors import PolicyError, RenderError
from gitops_mlops.inputs import References, closure, site_dir
from gitops_mlops.rendercache import RenderCache
from gitops_mlops.rendering import split_documents
from gitops_mlops.renders import ModelMatcher, SiteRender, render_state
from gitops_mlops.schemas import Schemas
from gitops_mlops.serving import serving_errors
from gitops_mlops.sites import Site
from gitops_mlops.validate import rendered_errors, serving_objects


@dataclass(frozen=True)
class Expected:
    """What a changed site must render for the model afterwards: the repository and digest."""

    repository: str
    digest: str
    version: str = ""

    def matches(self, repository: str, tag: str, digest: str) -> bool:
        if repository != self.repository or digest != self.digest:
            return False
        return not (self.version and tag and tag != self.version)

    def __str__(self) -> str:
        return f"{self.repository}{':' + self.version if self.version else ''}@{self.digest}"


def verify(
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
    # Pin edits change kustomization texts, never which files exist: closures and keys are read
    # again, while what was learned about paths and about each text's references still holds.
    fresh = References(parsed=refs.parsed, normal=refs.normal, resolved=refs.resolved, siblings=refs.siblings)
    changed = [sites[name] for name in expected]
    after = render_state(repo_dir, config, changed, refs=fresh, cache=cache, outputs=schemas is not None)
    if others:  # their whole output, to compare with before
        after |= render_state(repo_dir, config, others, outputs=True, refs=fresh, cache=cache)
    matcher = ModelMatcher(config)
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
    moved = [s.name for s in others if before.get(s.name) is not None and after[s.name].output_sha != before[s.name].output_sha]
    if moved:
        via = ", ".join(_shared_folders(repo_dir, refs, [s for s in others if s.name in moved], [sites[n] for n in expected]))
        shown = ", ".join(moved[:5]) + (f" and {len(moved) - 5} more" if len(moved) > 5 else "")
        raise PolicyError(f"would also change {shown} through {via}, which the selected sites share; select those sites too (nothing changed)")
    for name in expected:
        new = set(rendered_errors(config, sites[name], after[name].containers)) - set(
            rendered_errors(config, sites[name], before[name].containers if name in before else ())
        )
        if new:
            raise RenderError(f"validation failed, nothing changed: {sorted(new)[0]}")
        if schemas is not None:
            old = before.get(name)
            old_output = old.output if old is not None and old.output is not None else _cached_output(cache, old)
            introduced = introduced_errors(config, schemas, name, old_output, after[name].output or "")
            if introduced:
                raise RenderError(f"validation failed, nothing changed: site {name}: {introduced[0]}")
    return after


def introduced_errors(config: Config, schemas: Schemas, site: str, before: str | None, after: str) -> list[str]:
    """The schema and serving problems of ``after`` that ``before`` did not have; only documents the change touched are checked."""
    old_docs = set(split_documents(before)) if before is not None else set()
    touched = [doc for doc in split_documents(after) if doc not in old_docs]
    if not touched:
        return []
    found = [str(f) for f in schemas.check_docs(touched).errors] + serving_errors(config, site, serving_objects(after))
    if not found or before is None:
        return found
    had = {str(f) for f in schemas.check(before).errors} | set(serving_errors(config, site, serving_objects(before)))
    return [e for e in found if e not in had]


def _cached_output(cache: RenderCache | None, state: SiteRender | None) -> str | None:
    if cache is None or state is None or not state.key:
        return None
    return cache.outputs([state.key]).get(state.key)


def _shared_folders(repo_dir: Path, refs: References, readers: list[Site], changed: list[Site]) -> list[str]:
    """The changed sites' folders that the readers' builds read (from the closures walked before the edit)."""
    folders = {site_dir(repo_dir, s, refs): s.path for s in changed}
    shared = {folders[d] for site in readers for d in closure(site_dir(repo_dir, site, refs), refs) if d in folders}
    return [f"{path}/" for path in sorted(shared)][:5]
