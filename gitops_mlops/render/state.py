"""What each site runs, read from what kustomize renders for it: the render truth.

A site runs the images its rendered output gives to its containers (``containers.py``); a
container belongs to a model by its image's name (``matcher.py``). Renders are cached by the
content of each site's inputs (``cache.py``), so an unchanged site is never rendered twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from gitops_mlops.config.load import Config
from gitops_mlops.config.sites import Site, kustomization_of
from gitops_mlops.core import settings
from gitops_mlops.core.errors import InputError
from gitops_mlops.pins.kustomization import read_text
from gitops_mlops.pins.sentinels import Forms, PinInvariant
from gitops_mlops.render.cache import Entry, RenderCache
from gitops_mlops.render.containers import (  # noqa: F401 (importable from here, as before the split)
    _POD_PATHS,
    STORAGE_URI,
    Container,
    _decode,
    _parsed,
    _scan,
    containers_of,
    decode_containers,
    encode_containers,
    split_image,
)
from gitops_mlops.render.inputs import References, buildable_sites, site_keys
from gitops_mlops.render.kustomize import Kustomize, Rendered, mirrorable, render_sites
from gitops_mlops.render.matcher import ModelMatcher  # noqa: F401 (importable from here, as before the split)

SCAN = "scan-3"  # what containers_of reads; part of every render key, so a cached scan of another kind is never reused


@dataclass(frozen=True)
class SiteRender:
    site: str
    key: str = ""
    containers: tuple[Container, ...] = ()
    output_sha: str = ""
    error: str = ""
    output: str | None = field(default=None, repr=False)  # when rendered by this command or asked for
    invariant: str = ""  # the key of its pin-invariant render, when it has one

    @property
    def ok(self) -> bool:
        return not self.error


def _salt(kustomize: Kustomize, allowed_remote: tuple[str, ...], cache: RenderCache) -> str:
    """What decides a render besides its inputs: the kustomize version (asked once per binary) and
    the remote resources allowed."""
    identity = kustomize.identity()
    version = cache.meta(f"version:{identity}")
    if version is None:
        version = kustomize.version()
        cache.set_meta(f"version:{identity}", version)
    return "\0".join((version, SCAN, *allowed_remote))


def render_state(
    repo: Path,
    config: Config,
    sites: tuple[Site, ...] | list[Site],
    outputs: bool = False,
    refs: References | None = None,
    kustomize: Kustomize | None = None,
    cache: RenderCache | None = None,
    invariants: bool = False,
    forms: Forms | None = None,
) -> dict[str, SiteRender]:
    """Every site's render: from the cache when its inputs are unchanged, else from kustomize.

    Each site has two keys: its inputs as they are, and its pin-invariant form (pin values
    replaced by sentinels, ``sentinels.py``). A site whose inputs changed only in pin values
    is its pin-invariant render with the values substituted, without running kustomize.
    With ``outputs`` each site's whole rendered output (and its sha256) is included too; with
    ``invariants`` every site that has a pin-invariant form gets its render cached and named.
    ``forms``: the run's pin-invariant forms, shared with its other renders and its history."""
    repo = Path(repo).resolve()
    kustomize = kustomize or Kustomize.find()
    settings.kustomize_timeout()  # a bad value is refused whether or not the cache serves every site
    own_cache = cache is None
    cache = RenderCache(repo) if cache is None else cache
    try:
        refs = References() if refs is None else refs
        if not refs.parsed:
            refs.parsed.update(cache.references())
        allowed = config.policy.remote_resources
        checked, errors = buildable_sites(repo, sites, allowed, refs)
        out: dict[str, SiteRender] = {name: SiteRender(name, error=error) for name, error in errors.items()}
        cache.store_references(refs.learned)
        refs.learned.clear()
        salt = _salt(kustomize, allowed, cache)
        keys = site_keys(repo, checked, refs, salt)
        known = cache.entries(list(keys.values()))
        texts = cache.outputs([keys[s.name] for s in checked if keys[s.name] in known]) if outputs else {}
        missing = [s for s in checked if keys[s.name] not in known or (outputs and keys[s.name] not in texts)]
        invariant = _invariant_forms(repo, checked if invariants else missing, refs, forms or Forms()) if missing or invariants else {}
        invariant_keys: dict[str, str] = {}
        if invariant:
            invariant_keys, missing = _serve_from_invariants(repo, checked, missing, invariant, refs, salt, cache, keys, known, texts, outputs, invariants)
        if missing:
            _render_missing(repo, config, missing, keys, invariant, refs, kustomize, cache, known, texts, out, salt)
        for site in checked:
            if site.name in out:
                continue
            key = keys[site.name]
            entry = known[key]
            out[site.name] = SiteRender(
                site.name, key, _decode(entry.containers), entry.output_sha, output=texts.get(key), invariant=invariant_keys.get(site.name, "")
            )
        return {site.name: out[site.name] for site in sites}
    finally:
        if own_cache:
            cache.close()


def _serve_from_invariants(repo, checked, missing, invariant, refs, salt, cache, keys, known, texts, outputs, invariants) -> tuple[dict[str, str], list[Site]]:
    """Serve from cached pin-invariant renders what their own keys do not (stored under the site's own key for the
    next command); returns each site's pin-invariant key and the sites still missing a render."""
    invariant_keys = site_keys(repo, [s for s in checked if s.name in invariant], refs, salt, {n: f.text.encode() for n, f in invariant.items()})
    found = cache.entries(list(invariant_keys.values()))
    wanted = [key for name, key in invariant_keys.items() if key in found and not (keys[name] in known and (not outputs or keys[name] in texts))]
    outs = cache.outputs(wanted)  # the output too when only containers are asked: an entry is never kept without its sha
    derived: dict[str, tuple[Entry, str | None]] = {}
    for name, key in invariant_keys.items():
        if keys[name] in known and (not outputs or keys[name] in texts):
            continue
        if key in outs:
            form = invariant[name]
            output = form.substitute(outs[key])
            entry = Entry(form.substitute(found[key].containers), hashlib.sha256(output.encode()).hexdigest())
            known[keys[name]] = entry
            derived[keys[name]] = (entry, output)  # the next command finds it by its own key
            if outputs:
                texts[keys[name]] = output
    cache.store(derived)
    missing = [s for s in missing if keys[s.name] not in known or (outputs and keys[s.name] not in texts)]
    if invariants:  # sites served by their own key whose pin-invariant render is not cached yet
        missing += [s for s in checked if s.name in invariant and invariant_keys[s.name] not in found and s not in missing]
    return invariant_keys, missing


def _invariant_forms(repo: Path, sites: list[Site], refs: References, shared: Forms) -> dict[str, PinInvariant]:
    forms = {}
    for site in sites:
        path = kustomization_of(repo, site)
        try:
            text = read_text(path, site.path)
        except InputError:
            continue
        form = shared.of(text, site.path)
        if form is not None and mirrorable(repo, site, refs):
            forms[site.name] = form
    return forms


def _render_missing(repo, config, missing, keys, invariant, refs, kustomize, cache, known, texts, out, salt) -> None:
    """Render what no cache entry serves: pin-invariant forms where there are some (stored under both
    keys), the files as they are otherwise."""
    allowed = config.policy.remote_resources
    forms = {s.name: invariant[s.name] for s in missing if s.name in invariant}
    invariant_keys = site_keys(repo, [s for s in missing if s.name in forms], refs, salt, {n: f.text.encode() for n, f in forms.items()}) if forms else {}
    render_keys = {s.name: invariant_keys.get(s.name, keys[s.name]) for s in missing}
    scanned: dict[str, tuple[Container, ...]] = {}  # each output's containers, read while later batches render

    def scan(result: Rendered) -> None:
        scanned[result.site] = containers_of(result.output)

    rendered = render_sites(
        repo, missing, allowed, kustomize=kustomize, refs=refs, keys=render_keys, texts={n: f.text for n, f in forms.items()}, on_rendered=scan
    )
    fresh: dict[str, tuple[Entry, str]] = {}
    for site in missing:
        result = rendered[site.name]
        key = keys[site.name]
        if not result.ok:
            out[site.name] = SiteRender(site.name, key, error=result.error)
            continue
        form = forms.get(site.name)
        if form is not None and invariant_keys[site.name] not in fresh:
            sentinel_entry = Entry(encode_containers(_containers(result, scanned)), hashlib.sha256(result.output.encode()).hexdigest())
            fresh[invariant_keys[site.name]] = (sentinel_entry, result.output)
        if key not in fresh:
            output = form.substitute(result.output) if form is not None else result.output
            containers = (
                form.substitute(fresh[invariant_keys[site.name]][0].containers) if form is not None else encode_containers(_containers(result, scanned))
            )
            fresh[key] = (Entry(containers, hashlib.sha256(output.encode()).hexdigest()), output)
        known[key] = fresh[key][0]
        texts[key] = fresh[key][1]
    cache.store(fresh)


def _containers(result: Rendered, scanned: dict[str, tuple[Container, ...]]) -> tuple[Container, ...]:
    """The containers of a render: read already as its batch finished, else now (a site that shared another's build)."""
    found = scanned.get(result.site)
    return found if found is not None else containers_of(result.output)
