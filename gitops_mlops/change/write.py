"""Write the files of a change: each one atomically (temp file + rename), several at a time,
and put them back exactly as they were when anything after the write fails.

A file that cannot be written (a full disk, a read-only file system) is a GitError (exit 5:
the checkout failed) naming the file and the cause, never a traceback."""

from __future__ import annotations

import itertools
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gitops_mlops.core.errors import GitError, InputError

WRITE_THREADS = 4
_TEMP_TAG = secrets.token_hex(4)  # temp names: pid, this tag and a counter; no random draw per file
_temp_count = itertools.count()


@dataclass(frozen=True)
class FileEdit:
    file: str  # repository-relative
    before: str = field(repr=False)
    after: str = field(repr=False)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` via a temp file + rename: a crash never leaves it half-written."""
    tmp = f"{path.parent}/.{path.name}.{os.getpid()}.{_TEMP_TAG}.{next(_temp_count)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, path.stat().st_mode & 0o7777)
    try:
        try:
            data = memoryview(text.encode("utf-8"))
            while data:
                data = data[os.write(fd, data) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_all(repo_dir: Path, edits: list[FileEdit], written: list[FileEdit]) -> None:
    """Write every edit (in a few threads: each file costs a create and a rename, mostly kernel
    time); ``written`` collects those that landed, for ``restore`` on failure."""

    refuse_links(repo_dir, edits)

    def write(edit: FileEdit) -> None:
        try:
            write_atomic(repo_dir / edit.file, edit.after)
        except OSError as exc:
            raise GitError(f"cannot write {edit.file}: {exc.strerror or exc}") from None
        written.append(edit)

    if len(edits) < 64:
        for edit in edits:
            write(edit)
        return
    with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
        futures = [pool.submit(write, edit) for edit in edits]
    for future in futures:
        future.result()  # the first failure, once every write has finished or failed


def refuse_links(repo_dir: Path, edits: list[FileEdit]) -> None:
    """Before anything is written: every file to edit is a regular file. A symlinked kustomization is
    refused, never replaced by a regular file (a type change in the commit) nor written through (its
    target may be another site's)."""
    for edit in edits:
        path = repo_dir / edit.file
        try:
            link, regular = path.is_symlink(), path.is_file()
        except OSError as exc:  # a folder on the way that cannot be entered
            raise GitError(f"cannot write {edit.file}: {exc.strerror or exc}") from None
        if link or not regular:
            what = "a symlink" if link else "not a regular file"
            raise InputError(f"{edit.file}: is {what}; edits go to regular files only (replace the link with the file it points to)")


def restore(repo_dir: Path, written: list[FileEdit]) -> None:
    """Put back every file written (each one, even after one fails: the others still go back); the
    first failure is raised. On a full disk this can fail too, for each rename needs a new temp file."""
    failed: GitError | None = None
    for edit in written:
        try:
            write_atomic(repo_dir / edit.file, edit.before)
        except OSError as exc:
            failed = failed or GitError(f"cannot put back {edit.file}: {exc.strerror or exc}")
    if failed is not None:
        raise failed
