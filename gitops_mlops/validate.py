"""Render sites and check what they would deploy: every model pinned by digest."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ruamel.yaml.error import YAMLError

from gitops_mlops import kustomization
from gitops_mlops.config import Config
from gitops_mlops.errors import GitOpsError
from gitops_mlops.imageref import DIGEST_RE
from gitops_mlops.kustomize import Kustomize, render_sites, split_documents
from gitops_mlops.sites import Site, kustomization_of

try:
    from ruamel.yaml.cyaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from ruamel.yaml.loader import SafeLoader as _Loader

_POD_PATHS = (("spec", "template", "spec"), ("spec", "jobTemplate", "spec", "template", "spec"), ("spec",))


@dataclass(frozen=True)
class SiteReport:
    site: str
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_json(self) -> dict:
        return {"site": self.site, "ok": self.ok, "errors": list(self.errors)}


def check_pins(repo: Path, config: Config, site: Site) -> list[str]:
    """Errors in the site's ``images:`` pins: unknown images, missing or malformed digests."""
    path = kustomization_of(repo, site)
    source = path.relative_to(repo.resolve()).as_posix()
    by_image = {m.image: m for m in config.models}
    try:
        text = kustomization.read_text(path, source)
        fields = kustomization.fast_pin_fields(text)
        if fields is not None and all(name in by_image and digest and DIGEST_RE.match(digest) for name, _, _, digest in fields):
            return []  # the common case, without the full parse; anything else is reported with its line
        doc = kustomization.parse(text, source)
    except GitOpsError as exc:
        return [str(exc)]
    errors = []
    for pin in doc.pins:
        model = by_image.get(pin.name)
        if model is None:
            errors.append(f"{source}:{pin.line}: pin {pin.name!r} belongs to no configured model")
        elif not pin.digest:
            errors.append(f"{source}:{pin.line}: model {model.name} is not pinned by digest")
        elif not DIGEST_RE.match(pin.digest):
            errors.append(f"{source}:{pin.line}: model {model.name}: malformed digest {pin.digest!r}")
    return errors


@lru_cache(maxsize=256)
def container_images(rendered: str) -> tuple[tuple[str, str], ...]:
    """(resource, image) for every container and initContainer in a rendered output.

    Cached by output: sites with identical builds share one output string."""
    found = []
    for doc in split_documents(rendered):
        if "image:" not in doc:
            continue
        loader = _Loader(doc)
        try:
            obj = loader.get_single_data()
        except YAMLError:
            continue
        finally:
            loader.dispose()
        if not isinstance(obj, dict):
            continue
        name = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
        for path in _POD_PATHS:
            spec = obj
            for key in path:
                spec = spec.get(key) if isinstance(spec, dict) else None
            if isinstance(spec, dict) and ("containers" in spec or "initContainers" in spec):
                for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
                    if isinstance(container, dict) and isinstance(container.get("image"), str):
                        found.append((name, container["image"]))
                break
    return tuple(found)


def check_rendered(config: Config, site: Site, rendered: str) -> list[str]:
    """Errors in what the site would deploy: a model image without a well-formed digest."""
    names = {}
    for model in config.models:
        names[model.image] = model
        names[model.repository] = model
    errors = []
    for resource, image in container_images(rendered):
        repository, _, digest = image.partition("@")
        last = repository.rsplit("/", 1)[-1]
        if ":" in last:
            repository = repository[: repository.rfind(":")]
        model = names.get(repository)
        if model is None:
            continue
        if not digest or not DIGEST_RE.match(digest):
            errors.append(f"site {site.name}: {resource}: model {model.name} image {image!r} is not pinned by a sha256 digest")
    return errors


def validate_sites(repo: Path, config: Config, sites: tuple[Site, ...], kustomize: Kustomize | None = None) -> list[SiteReport]:
    rendered = render_sites(repo, sites, config.policy.remote_resources, kustomize=kustomize)
    reports = []
    for site in sites:
        errors = check_pins(repo, config, site)
        result = rendered[site.name]
        errors += [result.error] if result.error else check_rendered(config, site, result.output)
        reports.append(SiteReport(site=site.name, errors=tuple(errors)))
    return reports
