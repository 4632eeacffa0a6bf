"""A progress line on stderr for work that runs long, and only where a person watches.

The command line turns it on (``enable``) when stderr is a terminal; a pipe, a file or a
Tekton log never gets one. Nothing shows for work done within ``DELAY`` seconds, and the
line is wiped when the work ends, so output that follows starts clean.
"""

from __future__ import annotations

import sys
import time

DELAY = 2.0  # seconds of work before the line appears
WIDTH = 20  # characters of the bar

_enabled = False


def enable() -> None:
    """Show progress from now on in this process, if stderr is a terminal."""
    global _enabled
    _enabled = sys.stderr.isatty()


class Task:
    def __init__(self, what: str, total: int) -> None:
        self.what, self.total, self.done = what, total, 0
        self.start = self.last = time.monotonic()
        self.shown = False

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if not _enabled or now - self.start < DELAY or (now - self.last < 0.1 and self.done < self.total):
            return
        self.last = now
        filled = WIDTH * self.done // max(1, self.total)
        sys.stderr.write(f"\r{self.what} [{'#' * filled}{'.' * (WIDTH - filled)}] {self.done}/{self.total}")
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self.shown = False

    def __enter__(self) -> Task:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
