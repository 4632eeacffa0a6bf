"""A site's own folder read in one pass: the common shape of a fleet's overlay, walked without the
general walk's path resolution.

``walk_references`` learns, for a site's own folder, its references, the folders they name, its
checked files and (for ``site_keys``) each file's hash. For a folder that holds only regular files
(no subfolder, no symlink, one kustomization file, every file within the limits) all of that comes
from one ``scandir`` and one read of each file: a reference inside the folder names one of the files
listed, and one outside it is resolved as the general walk resolves it (once per command for every
site sharing it). Anything else (a subfolder, a symlink, a special or oversized file, a reference to
something missing, a remote one refused, a text the parser refuses) steps aside: the general walk
decides, and says what is wrong. The files' hashes are taken as the walk reads them, where
``site_keys`` would read them later in the same command; a command that edits files in between
renders afterwards with ``change.effect.pin_edited(refs)``, which drops them. Proven equal to the general walk on generated trees
(tests/render/test_ownfolder.py).
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from gitops_mlops.config.sites import Site
from gitops_mlops.core import repofiles
from gitops_mlops.core.errors import InputError
from gitops_mlops.pins import kustomization
from gitops_mlops.render import inputs

_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)


def _read(path: str, limit: int) -> bytes | None:
    """A regular file's bytes (at most ``limit``), or None for anything else."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        data = os.read(fd, info.st_size + 1)  # its size and one byte more: a buffer of the limit's size costs an mmap each time
        while len(data) <= limit and len(data) != info.st_size:  # a short read, or a file grown since: read on to its end
            more = os.read(fd, min(limit + 1 - len(data), 1 << 20))
            if not more:
                break
            data += more
        return data if len(data) <= limit else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _listing(own: str, contents: bool = True) -> list[tuple[str, bytes | None]] | None:
    """Every entry of ``own`` as (name, bytes) in name order, when each is a regular file within the limits;
    without ``contents`` only the kustomization file is read (of the others, None: their size is checked)."""
    try:
        with os.scandir(own) as found:
            entries = sorted(found, key=lambda e: e.name) if contents else list(found)  # the order matters to what is kept only
    except OSError:
        return None
    if len(entries) > repofiles.MAX_TREE_FILES:
        return None
    out = []
    for entry in entries:
        if not entry.is_file(follow_symlinks=False):  # a folder, a symlink, a special file: the general walk
            return None
        own_file = entry.name in kustomization.KUSTOMIZATION_FILES
        if not contents and not own_file:  # what the general walk checks of it: a regular file within the limit
            if _size(entry) > repofiles.MAX_FILE_BYTES:
                return None
            out.append((entry.name, None))
            continue
        data = _read(entry.path, kustomization.MAX_KUSTOMIZATION_BYTES if own_file else repofiles.MAX_FILE_BYTES)
        if data is None:
            return None
        out.append((entry.name, data))
    return out


def _size(entry: os.DirEntry) -> int:
    try:
        return entry.stat(follow_symlinks=False).st_size
    except OSError:
        return repofiles.MAX_FILE_BYTES + 1  # gone since it was listed: the general walk says so


def walk_own(repo: Path, site: Site, start: Path, allowed_remote: tuple[str, ...], refs: inputs.References, hashes: bool = True) -> bool:
    """Learn the site's own folder ``start`` into ``refs`` as ``walk_references`` would (its entries, children,
    checked files and, for ``site_keys``, its files' hashes); False, with nothing learned, when the folder is
    not of the plain shape. Without ``hashes`` only its entries and children are learned, and of its files
    only the kustomization is read: the folder is checked as the general walk checks it, but its checked
    files are not kept (a later walk of the site checks them again)."""
    root = inputs.resolved(repo, "", refs)
    if inputs.site_dir(repo, site, refs) != start:
        return False  # reached through a symlink: the general walk
    listing = _listing(str(start), hashes)
    if listing is None:
        return False
    names = {name for name, _ in listing}
    own_files = [name for name in kustomization.KUSTOMIZATION_FILES if name in names]
    if len(own_files) != 1:
        return False
    rel_dir = _relative(start, root, refs)
    data = next(d for n, d in listing if n == own_files[0])
    try:
        entries = inputs.parsed_references(data, f"{rel_dir}/{own_files[0]}", refs)
    except InputError:
        return False  # the general walk says what is wrong with it
    children = _children(repo, rel_dir, start, names, entries, allowed_remote, refs)
    if children is None:
        return False
    refs.entries[start] = entries
    refs.children[start] = children
    if not hashes:
        return True
    child = getattr(start, "_make_child_relpath", start.joinpath)  # pathlib's own cheap join of one plain name, where it has one
    refs.trees[start] = [(name, child(name)) for name, _ in listing]
    refs.files[start] = [
        (os.fsencode(name), hashlib.sha1(inputs.without_header(d) if name == own_files[0] else d).digest(), name == own_files[0]) for name, d in listing
    ]
    return True


def _relative(start: Path, root: Path, refs: inputs.References) -> str:
    """``inputs._relative`` by string: a folder under the resolved root is the root's path, a slash and its own."""
    text, top = str(start), str(root)
    if refs.relative.get(start) is None and top != "/" and text.startswith(f"{top}/"):
        refs.relative[start] = text[len(top) + 1 :]
    return inputs._relative(start, root, refs)


def _children(
    repo: Path, rel_dir: str, start: Path, names: set[str], entries: tuple[str, ...], allowed_remote: tuple[str, ...], refs: inputs.References
) -> tuple[Path, ...] | None:
    """The folders the references name, or None when one would be an error (the general walk says which)."""
    children, prefix = [], f"{rel_dir}/"
    for ref in entries:
        if inputs.is_remote(ref):
            if not any(ref.startswith(allowed) for allowed in allowed_remote):
                return None
            continue
        normal = os.path.normpath(os.path.join(rel_dir, ref))
        known = refs.normal.get(normal)
        if known is None:
            if normal.startswith(prefix) and "/" not in normal[len(prefix) :]:
                if normal[len(prefix) :] not in names:
                    return None  # missing (a subfolder would have sent the folder to the general walk)
                known = refs.normal[normal] = (start / normal[len(prefix) :], False)
            elif normal == rel_dir or normal.startswith(prefix) or os.path.isabs(normal) or "\x00" in normal or "\n" in normal:
                return None
            else:
                try:
                    known = refs.normal[normal] = inputs.resolve_reference(repo, normal, "")
                except InputError:
                    return None
        if known[1]:
            children.append(known[0])
    return tuple(children)
