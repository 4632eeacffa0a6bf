"""Parse and format container image references.

Grammar (as the distribution reference spec):
``[registry[:port]/]path[:tag][@sha256:<64 lowercase hex>]``. The first path
segment is a registry only when it holds a ``.`` or a ``:`` or is ``localhost``,
so ``localhost:5000/model@sha256:...`` has a port, never a tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitops_mlops.errors import InputError
from gitops_mlops.names import DIGEST_RE

DEFAULT_REGISTRY = "docker.io"

_DOMAIN_COMPONENT = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_DOMAIN_RE = re.compile(rf"^{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]{{1,5}})?$")
_PATH_COMPONENT_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class ImageRef:
    registry: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repository(self) -> str:
        """``registry/path``: what a kustomize ``newName`` holds."""
        return f"{self.registry}/{self.path}"

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _split_registry(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DEFAULT_REGISTRY, name


def parse_image(text: str) -> ImageRef:
    """Parse an image reference; raise InputError naming the exact fault."""
    if not text or any(c.isspace() or ord(c) < 32 for c in text):
        raise InputError(f"image reference {text!r}: empty or contains whitespace/control characters")
    name, at, digest = text.partition("@")
    if at:
        if not digest.startswith("sha256:"):
            raise InputError(f"image reference {text!r}: digest algorithm must be sha256")
        if not DIGEST_RE.match(digest):
            raise InputError(f"image reference {text!r}: digest must be sha256: followed by 64 lowercase hex characters")
    registry, remainder = _split_registry(name)
    if ":" in remainder:
        path, _, tag = remainder.rpartition(":")
        if "/" in tag or not _TAG_RE.match(tag):
            raise InputError(f"image reference {text!r}: invalid tag {tag!r}")
    else:
        path, tag = remainder, None
    if not _DOMAIN_RE.match(registry):
        raise InputError(f"image reference {text!r}: invalid registry {registry!r}")
    if not path or not all(_PATH_COMPONENT_RE.match(part) for part in path.split("/")):
        raise InputError(f"image reference {text!r}: invalid repository path {path!r} (lowercase letters, digits and . _ - separators)")
    return ImageRef(registry=registry, path=path, tag=tag, digest=digest or None)


def parse_repository(text: str) -> ImageRef:
    """Parse a repository name (no tag, no digest), as used in config ``repository:``."""
    ref = parse_image(text)
    if ref.tag or ref.digest:
        raise InputError(f"repository {text!r}: must not carry a tag or digest")
    return ref


def same_repository(a: str, b: str) -> bool:
    """True when two repository names denote the same repository (exact, normalized)."""
    try:
        return parse_repository(a).repository == parse_repository(b).repository
    except InputError:
        return a == b
