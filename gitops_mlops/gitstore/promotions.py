"""A model's promotion and rollback records with the time each was committed: what waves and soak
times are measured from.

Soak is counted from the committer time of the commit that brought a digest to a site (when it
reached the branch Argo CD watches, not when it was written), read from the trailers the tool
writes (``trailers.py``); one ``git log`` for every site of a fleet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo, Trailered

_SHA = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")


@dataclass(frozen=True)
class Recorded:
    """One promotion or rollback commit of a model and when it was committed."""

    sha: str
    committed: datetime
    record: trailers.Record

    def digests(self) -> dict[str, str]:
        """site -> the digest this commit gave it."""
        return {site: image.partition("@")[2] for image, sites in self.record.images for site in sites}


def records(git: GitRepo, model: str, ref: str = "HEAD", limit: int = 500) -> list[Recorded]:
    """The model's promotion and rollback commits reachable from ``ref``, newest first (at most ``limit``)."""
    if git.head() is None:
        return []
    sep = "\x1f"  # only the sha and the date come before the trailers: no free text can shift a field
    pattern = f"^Model: {re.escape(model)}$"
    out = git.run(
        "log", "-z", f"--format=%H{sep}%cI{sep}%(trailers:only,unfold)", "--no-color", f"--max-count={limit}", "--extended-regexp", "--grep", pattern, ref
    )
    found = []
    for chunk in out.split("\0"):
        sha, date, text = (chunk.strip("\n").split(sep, 2) + ["", ""])[:3]
        try:
            committed = datetime.fromisoformat(date)
        except ValueError:
            continue  # not the start of a commit's record
        if not _SHA.match(sha):
            continue
        pairs = tuple(tuple(p.strip() for p in line.split(":", 1)) for line in text.splitlines() if ":" in line)
        record = trailers.read(Trailered(sha=sha, date=date, author="", subject="", trailers=pairs), model)  # its block of a release's commit
        if record is not None and record.model == model:
            found.append(Recorded(sha, committed, record))
    return found


def arrivals(found: list[Recorded], digest: str, sites: set[str] | frozenset[str]) -> dict[str, datetime]:
    """site -> when the newest promotion that gave it ``digest`` was committed, for the sites whose newest
    record is that promotion (a rollback after it means the digest left)."""
    out: dict[str, datetime] = {}
    seen: set[str] = set()
    for entry in found:  # newest first
        for site, given in entry.digests().items():
            if site in seen or site not in sites:
                continue
            seen.add(site)
            if entry.record.action == "promote" and given == digest:
                out[site] = entry.committed
    return out
