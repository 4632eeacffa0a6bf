"""The one way repository content is read: by type first, within the repository, and bounded.

Everything in a repository is untrusted input. Before a byte is read, a path is
``lstat``-ed: a symlink is followed only when its target resolves inside the
repository (and is then held to the same rules), and only a regular file is ever
opened (a FIFO would hang a read, a device such as ``/dev/zero`` never ends it).
A read stops at its limit: a file larger than that is refused, never loaded.

Errors are ``InputError`` (exit 2) naming the file and the cause; where the file is
one a site's build reads, the caller reports it as that site's render error (exit 4).
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from gitops_mlops.core.errors import InputError

MAX_FILE_BYTES = 16 * 1024 * 1024  # any one file a build reads (manifests, patches, generator files)
MAX_TREE_FILES = 20_000  # files under one directory a build reads (its subfolders included)

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def kind_of(mode: int) -> str:
    """What a file of this mode is, in words (for a refusal)."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def check(path: Path, source: str, root: Path | None = None, limit: int = MAX_FILE_BYTES) -> Path:
    """``path`` made safe to read: a regular file of at most ``limit`` bytes, or a symlink resolving to
    one inside ``root`` (the resolved path is returned). Refuses anything else with one line."""
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            real = Path(os.path.realpath(path))
            if root is not None and not _inside(real, root):
                raise InputError(f"{source}: a symlink that leaves the repository")
            info = os.stat(real)
            path = real
    except OSError as exc:
        raise InputError(f"{source}: cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{source}: is {'a directory' if stat.S_ISDIR(info.st_mode) else kind_of(info.st_mode)}, not a regular file")
    if info.st_size > limit:
        raise InputError(f"{source}: {info.st_size} bytes is larger than the {limit} byte limit")
    return path


def read_bytes(path: Path, source: str, root: Path | None = None, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file (see ``check``), never more than ``limit`` in memory."""
    real = check(path, source, root, limit)
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))  # swapped for a FIFO since: no hang
    except OSError as exc:
        raise InputError(f"{source}: cannot read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{source}: is {kind_of(info.st_mode)}, not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{source}: {info.st_size} bytes is larger than the {limit} byte limit")
    return data


def walk(directory: Path, root: Path, source: str) -> Iterator[tuple[str, Path, bool]]:
    """Every file under ``directory`` as (relative path, path to read, whether it is a symlink), in a stable
    order, each checked (``check``); symlinked folders inside ``root`` are walked where they stand. Refuses
    a special file, a symlink that leaves ``root`` or loops, and more than MAX_TREE_FILES entries."""
    count = [0]
    real = Path(os.path.realpath(directory))
    yield from _walk(real, "", (real,), root, source, count)


def _walk(folder: Path, prefix: str, chain: tuple[Path, ...], root: Path, source: str, count: list[int]) -> Iterator[tuple[str, Path, bool]]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise InputError(f"{source}/{prefix}: cannot read: {exc.strerror}") from None
    folders = []
    for entry in entries:
        relative, where = f"{prefix}{entry.name}", f"{source}/{prefix}{entry.name}"
        count[0] += 1
        if count[0] > MAX_TREE_FILES:
            raise InputError(f"{source}: more than the {MAX_TREE_FILES} entry limit under one folder a build reads")
        if entry.is_symlink():
            real = Path(os.path.realpath(entry.path))
            if not _inside(real, root):
                raise InputError(f"{where}: a symlink that leaves the repository")
            if not real.exists():
                continue  # dangling: kustomize says so if the build reads it
            if real.is_dir():
                if any(real == c or real in c.parents for c in chain):
                    raise InputError(f"{where}: a symlink loop")
                folders.append((f"{relative}/", real))
                continue
        elif entry.is_dir(follow_symlinks=False):
            folders.append((f"{relative}/", folder / entry.name))
            continue
        yield relative, check(Path(entry.path), where, root), entry.is_symlink()
    for relative, real in folders:
        yield from _walk(real, relative, (*chain, real), root, source, count)


def copy_folder(own: Path, target: Path) -> None:
    """A copy of a site's folder (checked by ``inputs.walk_references``) in which kustomize's load
    restrictor sees what it sees in the repository: a symlink stays a symlink, to the same place in
    the copy when it resolves inside the folder and to where it resolves otherwise (which kustomize
    refuses, as it does in the repository). A symlink is never turned into a copy of its target."""
    for dirpath, dirnames, filenames in os.walk(own):
        here = Path(dirpath)
        there = target / here.relative_to(own)
        there.mkdir(parents=True, exist_ok=True)
        for name in (*dirnames, *filenames):
            source = here / name
            if source.is_symlink():
                real = Path(os.path.realpath(source))
                os.symlink(target / real.relative_to(own) if real == own or own in real.parents else real, there / name)
            elif name in filenames:
                shutil.copyfile(source, there / name, follow_symlinks=False)
