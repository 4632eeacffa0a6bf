"""Temporary folders that a killed run does not leave behind for good.

Each folder's name carries the pid of the process that made it
(``gitops-mlops-render-<pid>-<random>``). Making one first removes the folders of the
same kind whose process is gone and that were last changed over a minute ago (a pid
used again is never that old), so a ``kill -9`` costs disk or memory (on /dev/shm)
only until the next run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

PREFIX = "gitops-mlops-"
GRACE = 60.0  # seconds


@contextmanager
def folder(kind: str, where: str | None = None) -> Iterator[str]:
    """A new temporary folder for ``kind`` (render, diff, history) under ``where`` (default: the temp dir)."""
    sweep(kind, where or tempfile.gettempdir())
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}{kind}-{os.getpid()}-", dir=where) as tmp:
        yield tmp


def sweep(kind: str, base: str, now: float | None = None) -> list[str]:
    """Remove the ``kind`` folders under ``base`` left by processes that are gone; the names removed."""
    start = f"{PREFIX}{kind}-"
    removed = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    for entry in entries:
        pid_text, dash, rest = entry.name[len(start) :].partition("-")
        if not entry.name.startswith(start) or not pid_text.isdigit() or not dash or not rest or "-" in rest:
            continue  # not ours, or named before folders carried a pid
        try:
            if not entry.is_dir(follow_symlinks=False) or (now or time.time()) - entry.stat(follow_symlinks=False).st_mtime < GRACE:
                continue
        except OSError:
            continue
        if int(pid_text) != os.getpid() and not _alive(int(pid_text)):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
