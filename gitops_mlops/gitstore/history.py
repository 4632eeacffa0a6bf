"""What history holds, read in as few git processes as possible: files at a commit, which objects
exist, changed paths, and commits with their trailers (``Trailered``)."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

from git.exc import GitCommandError

from gitops_mlops.core.errors import GitError
from gitops_mlops.gitstore.runner import GitRunner, reason, stdin_bytes


@dataclass(frozen=True)
class Trailered:
    """One commit with its trailers, as history reads it."""

    sha: str
    date: str
    author: str
    subject: str
    trailers: tuple[tuple[str, str], ...]


class History(GitRunner):
    """Reads of commits and of the files they hold; nothing here writes."""

    def show_file(self, ref: str, path: str) -> str | None:
        try:
            return self._git.show(f"{ref}:{path}", strip_newline_in_stdout=False)
        except GitCommandError:
            return None

    def show_files(self, sha: str, paths: list[str]) -> dict[str, str]:
        """The text of each of ``paths`` at commit ``sha`` (missing ones left out), read in one git process."""
        found = self.show_objects([f"{sha}:{path}" for path in paths])
        return {path: found[f"{sha}:{path}"] for path in paths if f"{sha}:{path}" in found}

    def show_objects(self, specs: list[str]) -> dict[str, str]:
        """The text of each ``REV:PATH`` in ``specs`` (missing ones left out), read in one git process."""
        request = "".join(f"{spec}\n" for spec in specs).encode()
        try:
            with stdin_bytes(request) as handle:
                data = self._git.execute(["git", "cat-file", "--batch"], istream=handle, stdout_as_string=False, strip_newline_in_stdout=False)
        except GitCommandError as exc:
            raise GitError(f"git cat-file: {reason(exc)}") from None
        out, at = {}, 0
        for spec in specs:
            end = data.index(b"\n", at)
            header = data[at:end].split()
            at = end + 1
            if len(header) < 3 or header[-1] == b"missing":
                continue
            size = int(header[2])
            out[spec] = data[at : at + size].decode("utf-8", errors="replace")
            at += size + 1
        return out

    def existing(self, specs: list[str]) -> set[str]:
        """Which ``REV:PATH`` of ``specs`` name an object, asked of one git process."""
        request = "".join(f"{spec}\n" for spec in specs).encode()
        try:
            with stdin_bytes(request) as handle:
                out = self._git.execute(["git", "cat-file", "--batch-check=%(objecttype)"], istream=handle, strip_newline_in_stdout=False)
        except GitCommandError as exc:
            raise GitError(f"git cat-file: {reason(exc)}") from None
        return {spec for spec, line in zip(specs, out.split("\n")[: len(specs)], strict=True) if not line.endswith("missing")}

    def paths_at(self, sha: str, paths: list[str]) -> list[str]:
        """Which of ``paths`` exist at commit ``sha``."""
        out = self.run("ls-tree", "--name-only", sha, "--", *paths)
        return [line for line in out.splitlines() if line]

    def changed_paths(self, base: str, head: str) -> list[str]:
        return [p for p in self.run("diff", "--name-only", "-z", "--no-renames", base, head).split("\0") if p]

    def extract(self, sha: str, paths: list[str], dest: Path) -> None:
        """The files under ``paths`` at commit ``sha`` written below ``dest`` (regular files only)."""
        try:
            data = self._git.execute(["git", "archive", "--format=tar", sha, "--", *paths], stdout_as_string=False)
        except GitCommandError as exc:
            raise GitError(f"git archive: {reason(exc)}") from None
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            archive.extractall(dest, members=_safe_members(archive), filter="data")

    def log_trailers(
        self, ref: str, grep: list[str] | None = None, paths: list[str] | None = None, limit: int | None = None, skip: int = 0, first_parent: bool = False
    ) -> list[Trailered]:
        """Commits reachable from ``ref`` (newest first) with their trailers."""
        sep, end = "\x1f", "\x1e"
        fmt = f"%H{sep}%aI{sep}%an{sep}%s{sep}%(trailers:only,unfold){end}"
        args = ["log", f"--format={fmt}", "--no-color"] + (["--first-parent"] if first_parent else [])
        for pattern in grep or []:
            args += ["--grep", pattern]
        if grep:
            args += ["--all-match", "--extended-regexp"]
        if limit:
            args.append(f"--max-count={limit}")
        if skip:
            args.append(f"--skip={skip}")
        args.append(ref)
        if paths:
            args += ["--", *paths]
        out = self.run(*args)
        commits = []
        for record in out.split(end):
            record = record.strip("\n")
            if not record:
                continue
            sha, date, author, subject, trailers = record.split(sep, 4)
            commits.append(Trailered(sha=sha, date=date, author=author, subject=subject, trailers=_pairs(trailers)))
        return commits

    def log_changes(self, ref: str, paths: list[str]) -> list[tuple[Trailered, tuple[str, ...], tuple[str, ...]]]:
        """The first-parent commits reachable from ``ref`` that change ``paths`` (newest first), each
        with its trailers, the files it changed against its first parent and the object id of each
        after the commit (all zeros: deleted), in one git process."""
        sep, start = "\x1f", "\x1e"
        fmt = f"{start}%H{sep}%aI{sep}%an{sep}%s{sep}%(trailers:only,unfold){sep}"
        args = ["log", f"--format={fmt}", "--no-color", "-z", "--first-parent", "--diff-merges=first-parent", "--no-renames", "--raw", "--no-abbrev"]
        out = self.run(*args, ref, "--", *paths)
        commits = []
        for record in out.split(start)[1:]:
            sha, date, author, subject, trailers, raw = record.split(sep, 5)
            fields = raw.removeprefix("\0").removeprefix("\n").split("\0")
            entries = [(fields[i + 1], fields[i].split(" ")[3]) for i in range(0, len(fields) - 1, 2) if fields[i].startswith(":")]
            changed, objects = tuple(path for path, _ in entries), tuple(oid for _, oid in entries)
            commits.append((Trailered(sha=sha, date=date, author=author, subject=subject, trailers=_pairs(trailers)), changed, objects))
        return commits


def _pairs(trailers: str) -> tuple[tuple[str, str], ...]:
    """``Key: value`` lines as (key, value) pairs."""
    return tuple(tuple(p.strip() for p in line.split(":", 1)) for line in trailers.splitlines() if ":" in line)


def _safe_members(archive: tarfile.TarFile):
    for member in archive:
        if member.isfile() or member.isdir():
            yield member
