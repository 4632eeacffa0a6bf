"""The containers a rendered output runs: every container and initContainer of every Pod template
(Deployment, StatefulSet, DaemonSet, Job, CronJob, Pod, ...) and every modelcar (an
InferenceService predictor's ``oci://`` storageUri). Read by the line scanner (``blockscan``)
where the document is in kustomize's block form, by the YAML parser otherwise; and their
encoded form, as the render cache stores it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ruamel.yaml.error import YAMLError

from gitops_mlops.render.blockscan import POD_PATHS, scan
from gitops_mlops.render.kustomize import split_documents

try:
    from ruamel.yaml.cyaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from ruamel.yaml.loader import SafeLoader as _Loader

_POD_PATHS = POD_PATHS
STORAGE_URI = "storageUri"  # the name of the Container a modelcar's oci:// storageUri is read as


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


@lru_cache(maxsize=4096)
def split_image(image: str) -> tuple[str, str, str]:
    """(repository, tag, digest) of a rendered image string; '' for what it lacks."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :], digest
    return name, "", digest


def _scan(doc: str) -> list[Container] | None:
    """The Pod-template containers of one document by the line scanner; None when the parser must decide."""
    found = scan(doc)
    return None if found is None else [Container(*row) for row in found]


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
    for path in POD_PATHS:
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
