"""What each site runs, read from what kustomize renders for it: the render truth.

A site runs the images its rendered output gives to the containers and
initContainers of Pod templates (Deployment, StatefulSet, DaemonSet, Job, CronJob,
Pod, ...). A container belongs to a model when its image's repository is the
model's repository, or is the model's placeholder image name (not yet pinned) at a
site the model is configured for; names compare as a container runtime resolves them
(``imageref.canonical``: ``team/app`` is ``docker.io/team/app``). Renders are cached
by the content of each site's inputs (``rendercache.py``), so an unchanged site is
never rendered twice.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ruamel.yaml.error import YAMLError

from gitops_mlops.config.load import Config, Model
from gitops_mlops.config.sites import Site, kustomization_of, matches
from gitops_mlops.core import settings
from gitops_mlops.core.errors import InputError
from gitops_mlops.core.imageref import canonical, same_repository
from gitops_mlops.pins.kustomization import read_text
from gitops_mlops.pins.sentinels import PinInvariant, pin_invariant_shared
from gitops_mlops.render.cache import Entry, RenderCache
from gitops_mlops.render.inputs import References, buildable_sites, site_keys
from gitops_mlops.render.kustomize import Kustomize, Rendered, mirrorable, render_sites, split_documents

try:
    from ruamel.yaml.cyaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from ruamel.yaml.loader import SafeLoader as _Loader

_POD_PATHS = (("spec", "template", "spec"), ("spec", "jobTemplate", "spec", "template", "spec"), ("spec", "predictor"), ("spec",))
STORAGE_URI = "storageUri"  # the name of the Container a modelcar's oci:// storageUri is read as
SCAN = "scan-3"  # what containers_of reads; part of every render key, so a cached scan of another kind is never reused


@dataclass(frozen=True)
class Container:
    resource: str  # Kind/name
    name: str  # the container's name
    image: str  # as rendered
    mode: str = ""  # a modelcar's InferenceService: its deployment mode annotation ('' when it has none)
    canary: str = ""  # a modelcar's InferenceService: its predictor's canaryTrafficPercent ('' when it has none)

    @property
    def repository(self) -> str:
        return split_image(self.image)[0]

    @property
    def tag(self) -> str:
        return split_image(self.image)[1]

    @property
    def digest(self) -> str:
        return split_image(self.image)[2]


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


@lru_cache(maxsize=4096)
def split_image(image: str) -> tuple[str, str, str]:
    """(repository, tag, digest) of a rendered image string; '' for what it lacks."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :], digest
    return name, "", digest


_POD_KEYS = set(_POD_PATHS)
_KEY_LINE = re.compile(r"( *)(- )?([A-Za-z0-9_][A-Za-z0-9_./-]*):(?: +(.*))?$")
_PLAIN = re.compile(r"[A-Za-z0-9_./:@+-]+$")


def _scalar(value: str) -> str | None:
    """A plain or simply quoted scalar; None for anything a parser must decide."""
    if " #" in value:
        value = value.split(" #", 1)[0]
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        return inner if "\\" not in inner and value[0] not in inner else None
    return value if _PLAIN.match(value) else None


def _scan(doc: str) -> list[Container] | None:
    """The Pod-template containers of one document in the block form kustomize writes, read line by
    line; None when anything is not in that form, and the YAML parser decides."""
    if "\t" in doc or "\r" in doc:
        return None
    kind = name = ""
    path: list[tuple[int, str]] = []  # (indent, key) of the mappings enclosing the current line
    found: list[tuple[str, str]] = []  # (container name, image)
    dash: int | None = None  # in a containers list: the indent of its items' dashes (None: not yet known)
    listing = False
    item: dict[str, str] | None = None
    block = -1  # inside a block scalar: lines indented past this are its text
    for line in doc.split("\n"):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if not stripped or stripped.startswith("#") or indent > block >= 0:
            continue
        block = -1
        match = _KEY_LINE.match(line)
        if listing:
            if dash is None and match and match.group(2) and indent >= path[-1][0]:
                dash = indent
            if dash is not None and match and match.group(2) and indent == dash:
                if item and "image" in item:
                    found.append((item.get("name", ""), item["image"]))
                item = {}
                key_indent = indent + 2
            elif dash is not None and indent > dash:
                key_indent = indent
            else:
                if item and "image" in item:
                    found.append((item.get("name", ""), item["image"]))
                listing, item, dash = False, None, None
            if listing:
                if match and key_indent == dash + 2 and match.group(3) in ("image", "name"):
                    value = _scalar(match.group(4) or "")
                    if value is None:
                        return None
                    item[match.group(3)] = value
                elif match and match.group(4) and match.group(4)[:1] in "|>":
                    block = key_indent
                continue
        if match is None:
            if stripped.startswith("- ") or stripped == "-":
                continue  # an item of a list of scalars
            return None
        key_indent = indent + 2 if match.group(2) else indent
        key, value = match.group(3), match.group(4)
        while path and path[-1][0] >= key_indent:
            path.pop()
        if key_indent == 0 and key == "kind":
            kind = _scalar(value or "") or ""
        elif key_indent == 2 and key == "name" and [k for _, k in path] == ["metadata"]:
            name = _scalar(value or "") or ""
        if not value:
            if key in ("containers", "initContainers") and tuple(k for _, k in path) in _POD_KEYS:
                path.append((key_indent, key))
                listing, dash, item = True, None, None
                continue
            path.append((key_indent, key))
        elif value[:1] in "|>":
            block = key_indent
        elif value[:1] in "[{&*!" and key in ("containers", "initContainers", "image"):
            return None
    if listing and item and "image" in item:
        found.append((item.get("name", ""), item["image"]))
    return [Container(f"{kind}/{name}", container, image) for container, image in found]


def containers_of(rendered: str) -> tuple[Container, ...]:
    """Every container and initContainer of every Pod template in a rendered output, and every
    modelcar: an InferenceService predictor's ``oci://`` storageUri, read as a Container named
    ``storageUri`` whose image is the URI without its scheme."""
    found: list[Container] = []
    for doc in split_documents(rendered):
        if "storageUri: oci://" in doc or 'storageUri: "oci://' in doc or "storageUri: 'oci://" in doc:
            found += _parsed(doc)
        elif "image:" in doc:
            scanned = _scan(doc)
            found += scanned if scanned is not None else _parsed(doc)
    return tuple(found)


def _parsed(doc: str) -> list[Container]:
    """The containers of one document, by the YAML parser."""
    loader = _Loader(doc)
    try:
        obj = loader.get_single_data()
    except YAMLError:
        return []
    finally:
        loader.dispose()
    if not isinstance(obj, dict):
        return []
    resource = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
    found = []
    for path in _POD_PATHS:
        spec = obj
        for key in path:
            spec = spec.get(key) if isinstance(spec, dict) else None
        if isinstance(spec, dict) and ("containers" in spec or "initContainers" in spec):
            for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
                if isinstance(container, dict) and isinstance(container.get("image"), str):
                    found.append(Container(resource, str(container.get("name") or ""), container["image"]))
            break
    if obj.get("kind") == "InferenceService":
        mode, canary = _serving_of(obj)
        found += [Container(resource, STORAGE_URI, uri[len("oci://") :], mode, canary) for uri in _storage_uris(obj) if uri.startswith("oci://")]
    return found


def _storage_uris(obj: dict) -> list[str]:
    """The storageUri of an InferenceService's predictor: ``model.storageUri`` (or a framework's, or the predictor's own)."""
    predictor = (obj.get("spec") or {}).get("predictor")
    if not isinstance(predictor, dict):
        return []
    places = [predictor, *(v for v in predictor.values() if isinstance(v, dict))]
    return [p["storageUri"] for p in places if isinstance(p.get("storageUri"), str)]


def _serving_of(obj: dict) -> tuple[str, str]:
    """(deployment mode annotation, predictor canaryTrafficPercent) of an InferenceService, as text ('' for what it lacks)."""
    annotations = (obj.get("metadata") or {}).get("annotations")
    mode = annotations.get("serving.kserve.io/deploymentMode") if isinstance(annotations, dict) else None
    predictor = (obj.get("spec") or {}).get("predictor")
    canary = predictor.get("canaryTrafficPercent") if isinstance(predictor, dict) else None
    text = lambda value: "" if value is None else " ".join(str(value).split())  # noqa: E731  (one line, no tab: it is encoded in a line)
    return text(mode), text(canary)


def encode_containers(containers: tuple[Container, ...]) -> str:
    return "".join(f"{c.resource}\t{c.name}\t{c.image}" + (f"\t{c.mode}\t{c.canary}" if c.mode or c.canary else "") + "\n" for c in containers)


@lru_cache(maxsize=64)
def _decode(text: str) -> tuple[Container, ...]:
    return tuple(Container(*line.split("\t")) for line in text.split("\n") if line)


def decode_containers(text: str) -> tuple[Container, ...]:
    """The containers ``encode_containers`` wrote."""
    return _decode(text)


class ModelMatcher:
    """Which model a rendered container belongs to, at a given site."""

    def __init__(self, config: Config) -> None:
        self.by_repository: dict[str, list[Model]] = {}
        self.by_placeholder: dict[str, list[Model]] = {}
        for model in config.models:  # keyed by canonical names: 'team/app' is 'docker.io/team/app'
            self.by_repository.setdefault(canonical(model.repository), []).append(model)
            if not same_repository(model.image, model.repository):
                self.by_placeholder.setdefault(canonical(model.image), []).append(model)
        self._anywhere: dict[str, tuple[Model | None, bool]] = {}  # names whose model does not depend on the site
        for table, pinned in ((self.by_placeholder, False), (self.by_repository, True)):
            for name, models in table.items():
                if len(models) == 1 and not models[0].sites:
                    self._anywhere[name] = (models[0], pinned)

    def model_of(self, site: str, repository: str) -> tuple[Model | None, bool]:
        """(model, pinned): pinned is False when the image is still the placeholder name."""
        repository = canonical(repository)
        known = self._anywhere.get(repository)
        if known is not None:
            return known
        for table, pinned in ((self.by_repository, True), (self.by_placeholder, False)):
            candidates = table.get(repository)
            if candidates:
                chosen = [m for m in candidates if not m.sites or any(matches(site, s) for s in m.sites)]
                if chosen:
                    return chosen[0], pinned
        return None, False

    def by_model(self, site: str, containers: tuple[Container, ...]) -> dict[str, list[Container]]:
        out: dict[str, list[Container]] = {}
        for container in containers:
            model, _ = self.model_of(site, container.repository)
            if model is not None:
                out.setdefault(model.name, []).append(container)
        return out


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
) -> dict[str, SiteRender]:
    """Every site's render: from the cache when its inputs are unchanged, else from kustomize.

    Each site has two keys: its inputs as they are, and its pin-invariant form (pin values
    replaced by sentinels, ``sentinels.py``). A site whose inputs changed only in pin values
    is its pin-invariant render with the values substituted, without running kustomize.
    With ``outputs`` each site's whole rendered output (and its sha256) is included too; with
    ``invariants`` every site that has a pin-invariant form gets its render cached and named."""
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
        invariant = _invariant_forms(repo, checked if invariants else missing, refs) if missing or invariants else {}
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
    outs = cache.outputs([k for k in invariant_keys.values() if k in found]) if outputs else {}
    derived: dict[str, tuple[Entry, str | None]] = {}
    for name, key in invariant_keys.items():
        if keys[name] in known and (not outputs or keys[name] in texts):
            continue
        if key in found and (not outputs or key in outs):
            form = invariant[name]
            output = form.substitute(outs[key]) if outputs else None
            entry = Entry(form.substitute(found[key].containers), hashlib.sha256(output.encode()).hexdigest() if outputs else "")
            known[keys[name]] = entry
            derived[keys[name]] = (entry, output)  # the next command finds it by its own key
            if outputs:
                texts[keys[name]] = output
    cache.store(derived)
    missing = [s for s in missing if keys[s.name] not in known or (outputs and keys[s.name] not in texts)]
    if invariants:  # sites served by their own key whose pin-invariant render is not cached yet
        missing += [s for s in checked if s.name in invariant and invariant_keys[s.name] not in found and s not in missing]
    return invariant_keys, missing


def _invariant_forms(repo: Path, sites: list[Site], refs: References) -> dict[str, PinInvariant]:
    forms = {}
    memo: dict[str, PinInvariant | None] = {}
    for site in sites:
        path = kustomization_of(repo, site)
        try:
            text = read_text(path, site.path)
        except InputError:
            continue
        form = pin_invariant_shared(text, site.path, memo)
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
