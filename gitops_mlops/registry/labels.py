"""An image's labels, read from its config blob in the registry (``config.Labels`` of the OCI image config).

The manifest is fetched by digest (a tag is resolved first), an index narrowed to its
``linux/amd64`` manifest (else its first), then the config blob named by the manifest; every
body is hashed and checked against its digest and bounded in size (``client.fetch``). What the
registry answers is untrusted: a digest that is not ``sha256:<64 hex>``, a body that is not the
JSON expected, labels that are not strings: one line naming registry, repository and cause (exit 6).
"""

from __future__ import annotations

import json

from gitops_mlops.core.errors import RegistryError
from gitops_mlops.core.imageref import ImageRef
from gitops_mlops.core.names import DIGEST_RE
from gitops_mlops.registry.client import DOCKER_LIST, OCI_INDEX, RegistryClient

MAX_CONFIG_BYTES = 4 * 1024 * 1024  # an image config holds history and labels, not layers
MAX_LABELS = 1024


def image_labels(client: RegistryClient, ref: ImageRef) -> dict[str, str]:
    """The labels of ``ref``'s image config ({} when it has none)."""
    digest = ref.digest or client.resolve(ref).digest
    manifest = _json(ref, client.fetch(ref, "manifests", digest), f"manifest {digest}")
    if manifest.get("mediaType") in (OCI_INDEX, DOCKER_LIST) or "manifests" in manifest:
        digest = _platform(ref, manifest)
        manifest = _json(ref, client.fetch(ref, "manifests", digest), f"manifest {digest}")
    config = manifest.get("config")
    blob = config.get("digest") if isinstance(config, dict) else None
    if not isinstance(blob, str) or not DIGEST_RE.match(blob):
        raise _error(ref, f"manifest {digest}: no config digest")
    data = _json(ref, client.fetch(ref, "blobs", blob, MAX_CONFIG_BYTES), f"config {blob}")
    inner = data.get("config") or {}
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    if labels is None:
        return {}
    if not isinstance(labels, dict) or len(labels) > MAX_LABELS or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise _error(ref, f"config {blob}: Labels is not a mapping of at most {MAX_LABELS} strings")
    return labels


def _platform(ref: ImageRef, index: dict) -> str:
    """The index's linux/amd64 manifest, else its first."""
    listed = index.get("manifests")
    entries = [m for m in listed if isinstance(m, dict) and isinstance(m.get("digest"), str)] if isinstance(listed, list) else []
    if not entries:
        raise _error(ref, "image index lists no manifests")
    amd64 = [m for m in entries if isinstance(m.get("platform"), dict) and (m["platform"].get("os"), m["platform"].get("architecture")) == ("linux", "amd64")]
    digest = (amd64 or entries)[0]["digest"]
    if not DIGEST_RE.match(digest):
        raise _error(ref, f"image index names {digest[:80]!r}, not a sha256 digest")
    return digest


def _json(ref: ImageRef, body: bytes, what: str) -> dict:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise _error(ref, f"{what}: not a JSON object")
    return data


def _error(ref: ImageRef, cause: str) -> RegistryError:
    return RegistryError(f"registry {ref.registry}: repository {ref.path}: {cause}")
