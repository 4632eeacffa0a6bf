"""Render sites and check what they would deploy: every configured model pinned by a digest.

Images that are not configured models are not the tool's business: pinned by tag or
not at all, they are never reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitops_mlops import kustomization
from gitops_mlops.config import Config
from gitops_mlops.errors import GitOpsError
from gitops_mlops.names import DIGEST_RE
from gitops_mlops.rendering import Kustomize
from gitops_mlops.renders import Container, ModelMatcher, render_state
from gitops_mlops.scaffold import initial_digest
from gitops_mlops.sites import Site, kustomization_of


@dataclass(frozen=True)
class SiteReport:
    site: str
    errors: tuple[str, ...] = ()
    placeholders: tuple[str, ...] = ()  # models the site still runs at the stand-in digest ``init`` wrote

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_json(self) -> dict:
        return {"site": self.site, "ok": self.ok, "errors": list(self.errors), "placeholders": list(self.placeholders)}


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
    by_image.update({m.repository: m for m in config.models})
    try:
        text = kustomization.read_text(path, source)
        fields = kustomization.fast_pin_fields(text)
        if fields is not None and all(name not in by_image or (digest and DIGEST_RE.match(digest)) for name, _, _, digest in fields):
            return []  # the common case, without the full parse; anything else is reported with its line
        doc = kustomization.parse(text, source)
    except GitOpsError as exc:
        return [str(exc)]
    errors = []
    for pin in doc.pins:
        model = by_image.get(pin.name)
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


def validate_sites(repo: Path, config: Config, sites: tuple[Site, ...], kustomize: Kustomize | None = None) -> list[SiteReport]:
    rendered = render_state(repo, config, sites, kustomize=kustomize)
    matcher = ModelMatcher(config)
    reports = []
    for site in sites:
        errors = check_pins(repo, config, site)
        result = rendered[site.name]
        errors += [result.error] if result.error else rendered_errors(config, site, result.containers, matcher)
        waiting = () if result.error else placeholders(config, site, result.containers, matcher)
        reports.append(SiteReport(site=site.name, errors=tuple(errors), placeholders=waiting))
    return reports
