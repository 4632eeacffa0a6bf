"""Parse and format container image references.

Grammar (as the distribution reference spec):
``[registry[:port]/]path[:tag][@sha256:<64 lowercase hex>]``. The first path
segment is a registry only when it holds a ``.`` or a ``:`` or is ``localhost``,
so ``localhost:5000/model@sha256:...`` has a port, never a tag. A registry host
is lowercase (``Quay.io`` is refused, not guessed).

Names are compared as container runtimes resolve them (``canonical``): ``docker.io``
is the default registry, ``index.docker.io`` and ``registry-1.docker.io`` are its
aliases, and a one-segment name on Docker Hub is in ``library/``. So ``nginx``,
``library/nginx``, ``docker.io/nginx`` and ``index.docker.io/library/nginx`` are one
repository. Comparing is all it is for: what the tool writes keeps the user's
spelling, and kustomize's ``images[].name`` matches literally (``pins`` use names
as they are rendered).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from gitops_mlops.core.errors import InputError
from gitops_mlops.core.names import DIGEST_RE

DEFAULT_REGISTRY = "docker.io"
DOCKER_HUB_ALIASES = ("index.docker.io", "registry-1.docker.io")  # the same registry as docker.io
OFFICIAL_NAMESPACE = "library"  # Docker Hub's namespace for one-segment names

_DOMAIN_COMPONENT = r"(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])"
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

    @property
    def canonical(self) -> str:
        """The repository as a container runtime pulls it: ``docker.io/library/nginx`` for ``nginx``."""
        registry, path = canonical_registry(self.registry), self.path
        if registry == DEFAULT_REGISTRY and "/" not in path:
            path = f"{OFFICIAL_NAMESPACE}/{path}"
        return f"{registry}/{path}"


def check_registry(host: str) -> str:
    """A registry host as images name it (``quay.io``, ``localhost:5000``); InputError otherwise."""
    if not _DOMAIN_RE.match(host):
        lower = " (a registry host is lowercase)" if host != host.lower() else ""
        raise InputError(f"registry {host!r} is not a registry host[:port]{lower}")
    return host


def canonical_registry(host: str) -> str:
    """``docker.io`` for its aliases, any other host as it is."""
    return DEFAULT_REGISTRY if host in DOCKER_HUB_ALIASES else host


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
        lower = " (a registry host is lowercase)" if registry != registry.lower() else ""
        raise InputError(f"image reference {text!r}: invalid registry {registry!r}{lower}")
    if not path or not all(_PATH_COMPONENT_RE.match(part) for part in path.split("/")):
        raise InputError(f"image reference {text!r}: invalid repository path {path!r} (lowercase letters, digits and . _ - separators)")
    return ImageRef(registry=registry, path=path, tag=tag, digest=digest or None)


def parse_repository(text: str) -> ImageRef:
    """Parse a repository name (no tag, no digest), as used in config ``repository:``."""
    ref = parse_image(text)
    if ref.tag or ref.digest:
        raise InputError(f"repository {text!r}: must not carry a tag or digest")
    return ref


@lru_cache(maxsize=4096)
def canonical(name: str) -> str:
    """The canonical repository of a repository name (no tag, no digest); a name that is not one
    (a placeholder such as ``MODEL_IMAGE``, a tagged reference) is itself, compared literally."""
    try:
        return parse_repository(name).canonical
    except InputError:
        return name


def same_repository(a: str, b: str) -> bool:
    """True when two repository names denote the same repository, as a container runtime resolves them."""
    return canonical(a) == canonical(b)


def spellings(name: str) -> tuple[str, ...]:
    """The usual ways to write the repository ``name`` (itself first): what a text search for it looks for."""
    found = canonical(name)
    registry, _, path = found.partition("/")
    if registry != DEFAULT_REGISTRY:
        return tuple(dict.fromkeys((name, found)))
    paths = (path, path.removeprefix(f"{OFFICIAL_NAMESPACE}/")) if path.startswith(f"{OFFICIAL_NAMESPACE}/") else (path,)
    hosts = ("", *(f"{h}/" for h in (DEFAULT_REGISTRY, *DOCKER_HUB_ALIASES)))
    return tuple(dict.fromkeys((name, *(host + p for host in hosts for p in paths))))
