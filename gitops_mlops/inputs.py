"""What a site's build reads: its references (checked to stay local), its closure of
directories, and a key made from the content of all of them.

A site's key is the same whenever kustomize would read the same bytes at the same
relative places, so it keys both the grouping of identical builds in one render and
the render cache that survives between commands (``rendercache.py``). Shared
directories are hashed once per command.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from gitops_mlops import kustomization
from gitops_mlops.errors import InputError
from gitops_mlops.sites import Site, contained, kustomization_of

_REMOTE_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|[\w.-]+\.[a-z]{2,}(?::\d+)?/[^?]*\?|github\.com/|gitlab\.com/|bitbucket\.org/)", re.I)


@dataclass
class References:
    """What is learned about one tree during one command, shared by all its sites: each
    directory's child directories, each checked reference, each closure and shared directory's key, and
    the references of each kustomization text seen (by content, so a cache can preload them)."""

    children: dict[Path, tuple[Path, ...]] = field(default_factory=dict)
    closures: dict[Path, tuple[Path, ...]] = field(default_factory=dict)
    parsed: dict[str, tuple[str, ...]] = field(default_factory=dict)  # sha1 of a kustomization text -> its references
    normal: dict[str, tuple[Path, bool]] = field(default_factory=dict)  # normalised path -> (resolved, is a directory)
    siblings: dict[tuple[str, tuple[str, ...]], tuple[Path, ...]] = field(default_factory=dict)  # (parent, references) -> children
    dir_keys: dict[Path, bytes] = field(default_factory=dict)  # a shared directory's part of a site key
    learned: dict[str, tuple[str, ...]] = field(default_factory=dict)  # parsed in this command (for the cache)


def is_remote(reference: str) -> bool:
    return bool(_REMOTE_RE.match(reference))


def _references_of(file: Path, source: str, refs: References) -> tuple[str, ...]:
    data = file.read_bytes() if file.stat().st_size <= kustomization.MAX_KUSTOMIZATION_BYTES else None
    if data is None:
        return kustomization.read(file, source).references  # raises: too large
    sha = hashlib.sha1(data).hexdigest()
    known = refs.parsed.get(sha)
    if known is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{source}: not UTF-8 text") from None
        known = refs.parsed[sha] = refs.learned[sha] = kustomization.parse(text, source).references
    return known


def check_references(repo: Path, site: Site, allowed_remote: tuple[str, ...] = (), refs: References | None = None) -> None:
    """Refuse, before any build, remote resources (unless allow-listed) and local references that leave the repository."""
    refs = References() if refs is None else refs
    root = repo.resolve()
    stack = [kustomization_of(repo, site).parent]
    while stack:
        directory = stack.pop()
        if directory in refs.children:
            continue
        file = kustomization.find_kustomization_file(directory)
        rel_dir = directory.relative_to(root).as_posix()
        entries = _references_of(file, f"{rel_dir}/{file.name}", refs) if file else ()
        shared = (rel_dir.rpartition("/")[0], entries) if entries and all(r.startswith("../") for r in entries) else None
        children = refs.siblings.get(shared) if shared else None  # sibling overlays reaching the same bases
        if children is None:
            children = _children(repo, site, rel_dir, file, entries, allowed_remote, refs)
            if shared:
                refs.siblings[shared] = children
        stack.extend(children)
        refs.children[directory] = children


def _children(repo: Path, site: Site, rel_dir: str, file: Path, entries: tuple[str, ...], allowed_remote: tuple[str, ...], refs: References) -> tuple[Path, ...]:
    """The directories a kustomization's references name (files are checked to exist)."""
    children = []
    for ref in entries:
        if is_remote(ref):
            if not any(ref.startswith(prefix) for prefix in allowed_remote):
                raise InputError(f"site {site.name}: {rel_dir}/{file.name}: remote resource {ref!r} is refused (allow it under policy.remoteResources)")
            continue
        normal = os.path.normpath(os.path.join(rel_dir, ref))
        known = refs.normal.get(normal)
        if known is None:
            where = f"site {site.name}: {rel_dir}/{file.name}: resource {ref!r}"
            try:
                target = contained(repo, normal, "path")
            except InputError as exc:
                raise InputError(f"{where}: {str(exc).split(': ', 1)[-1]}") from None
            if not target.is_dir() and not target.exists():
                raise InputError(f"{where}: does not exist")
            known = refs.normal[normal] = (target, target.is_dir())
        if known[1]:
            children.append(known[0])
    return tuple(children)


def closure(directory: Path, refs: References) -> tuple[Path, ...]:
    """``directory`` and every directory its build reads, after check_references walked it."""
    known = refs.closures.get(directory)
    if known is None:
        seen = {directory: None}
        for child in refs.children.get(directory, ()):
            for path in closure(child, refs):
                seen.setdefault(path, None)
        known = refs.closures[directory] = tuple(seen)
    return known


def site_closure(repo: Path, site: Site, refs: References) -> tuple[str, ...]:
    """The repository-relative directories a checked site's build reads, its own first."""
    root = repo.resolve()
    return tuple(d.relative_to(root).as_posix() for d in closure((root / site.path).resolve(), refs))


def without_header(data: bytes) -> bytes:
    """The file without its leading comment lines (a site's own header); nothing else is touched."""
    lines = data.split(b"\n")
    first = next((i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith(b"#")), len(lines))
    return b"\n".join(lines[first:])


def _tree_hash(directory: Path, strip_header: bool = False, kustomization_text: bytes | None = None) -> bytes:
    """Every file under ``directory`` (relative path and bytes), in a stable order; with
    ``kustomization_text``, that in place of the directory's own kustomization file."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            own_file = dirpath == str(directory) and name in kustomization.KUSTOMIZATION_FILES
            if own_file and kustomization_text is not None:
                data = kustomization_text
            else:
                with open(path, "rb") as handle:
                    data = handle.read()
            if strip_header and own_file:
                data = without_header(data)  # a header comment does not change the build
            digest.update(b"F" + os.path.relpath(path, directory).encode() + b"\0" + hashlib.sha1(data).digest())
    return digest.digest()


def site_keys(repo: Path, sites: list[Site] | tuple[Site, ...], refs: References, salt: str = "", texts: dict[str, bytes] | None = None) -> dict[str, str]:
    """A key per (checked) site: equal keys mean kustomize reads the same bytes and so renders the same.

    The key: every file under the site's own directory (relative path and bytes, the
    kustomization's header comment left out), and for each directory it reaches outside
    it, that directory's repository path and content. ``salt`` adds what else decides the
    output (the kustomize in use, allowed remote resources). ``texts`` stand in for the
    kustomization files of the sites they name (their pin-invariant forms)."""
    root = repo.resolve()
    keys = {}
    for site in sites:
        own = (root / site.path).resolve()
        inside = f"{own}{os.sep}"
        digest = hashlib.sha256(salt.encode())
        parts = []
        for directory in closure(own, refs):
            known = refs.dir_keys.get(directory)
            if known is None:
                known = refs.dir_keys[directory] = b"D" + directory.relative_to(root).as_posix().encode() + b"\0" + _tree_hash(directory)
            if directory != own and not str(directory).startswith(inside):
                parts.append(known)
        digest.update(b"".join(parts))
        digest.update(b"O" + _tree_hash(own, strip_header=True, kustomization_text=(texts or {}).get(site.name)))
        keys[site.name] = digest.hexdigest()
    return keys
