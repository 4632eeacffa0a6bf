"""What history holds, read in as few git processes as possible: files at a commit, which objects
exist, changed paths, and commits with their trailers (``Trailered``)."""

from __future__ import annotations

import io
import re
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
        args = ["log", "-z", f"--format={_FIELDS}", "--no-color"] + (["--first-parent"] if first_parent else [])
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
        tokens = self.run(*args).split("\0")
        commits, at = [], _next_commit(tokens, 0)
        while at < len(tokens):
            commits.append(_trailered(tokens[at : at + 5]))
            at = _next_commit(tokens, at + 5)
        return commits

    def log_changes(self, ref: str, paths: list[str], limit: int | None = None, skip: int = 0) -> list[tuple[Trailered, tuple[str, ...], tuple[str, ...]]]:
        """The first-parent commits reachable from ``ref`` that change ``paths`` (newest first), each
        with its trailers, the files it changed against its first parent and the object id of each
        after the commit (all zeros: deleted), in one git process; the first ``limit`` of them past
        the first ``skip`` (a walk read in pieces goes on from its oldest commit with ``skip=1``)."""
        args = ["log", "-z", f"--format={_FIELDS}", "--no-color", "--first-parent", "--diff-merges=first-parent", "--no-renames", "--raw", "--no-abbrev"]
        args += ([f"--max-count={limit}"] if limit else []) + ([f"--skip={skip}"] if skip else [])
        tokens = self.run(*args, ref, "--", *paths).split("\0")
        commits, at = [], _next_commit(tokens, 0)
        while at < len(tokens):
            commit, at = _trailered(tokens[at : at + 5]), at + 5
            entries = []
            while at + 1 < len(tokens) and tokens[at].lstrip("\n").startswith(":"):
                entries.append((tokens[at + 1], tokens[at].lstrip("\n").split(" ")[3]))
                at += 2
            commits.append((commit, tuple(path for path, _ in entries), tuple(oid for _, oid in entries)))
            at = _next_commit(tokens, at)
        return commits


# Every field NUL-separated (with -z): a commit message or an author name cannot hold a NUL, so
# no text anyone writes into a commit can shift a field.
_FIELDS = "%H%x00%aI%x00%an%x00%s%x00%(trailers:only,unfold)"
_SHA = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")


def _next_commit(tokens: list[str], at: int) -> int:
    """The index of the next commit's sha at or after ``at`` (past the separators between commits)."""
    while at < len(tokens) and not _SHA.match(tokens[at].strip("\n")):
        at += 1
    return at


def _trailered(fields: list[str]) -> Trailered:
    sha, date, author, subject, trailers = (fields + [""] * 5)[:5]
    return Trailered(sha=sha.strip("\n"), date=date, author=author, subject=subject, trailers=_pairs(trailers))


def _pairs(trailers: str) -> tuple[tuple[str, str], ...]:
    """``Key: value`` lines as (key, value) pairs."""
    return tuple(tuple(p.strip() for p in line.split(":", 1)) for line in trailers.splitlines() if ":" in line)


def _safe_members(archive: tarfile.TarFile):
    for member in archive:
        if member.isfile() or member.isdir():
            yield member
