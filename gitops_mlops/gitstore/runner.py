"""One git checkout opened and git run in it: every failure a GitError naming the command and git's reason.

``GitRunner`` holds the GitPython handle the other roles of ``repo.GitRepo`` (``worktree``,
``commits``, ``refs``, ``history``) run git through; credentials in any URL of an error are
redacted. Only gitstore/ imports GitPython.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Self

import git
from git.exc import GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from gitops_mlops.core.errors import GitError, InputError
from gitops_mlops.gitstore.identity import identity_env

_CREDENTIALS_RE = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.I)
_C_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never", "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")}


def redact(text: str) -> str:
    """Remove credentials from any URL in ``text``."""
    return _CREDENTIALS_RE.sub(lambda m: f"{m.group('scheme')}***@", text)


def git_version() -> str:
    """git's own version line (``git --version``), or that git is not found."""
    try:
        return subprocess.run(["git", "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return "git: not found"


def reason(exc: GitCommandError) -> str:
    """git's own reason for a failed command, on one line, credentials redacted."""
    stderr = exc.stderr if isinstance(exc.stderr, str) else str(exc.stderr or "")
    lines = [line.strip() for line in stderr.replace("stderr:", "").splitlines() if line.strip().strip("'")]
    text = " ".join(line.strip("'") for line in lines) or f"exit code {exc.status}"
    return redact(text)[:600]


class GitRunner:
    """An opened checkout (never bare): ``run`` git in it; HEAD and refs resolved."""

    def __init__(self, path: Path) -> None:
        try:
            self._repo = git.Repo(path, search_parent_directories=False)
        except (InvalidGitRepositoryError, NoSuchPathError):
            raise GitError(f"{path}: not a git repository (run 'gitops-mlops init' or 'git init')") from None
        if self._repo.bare:
            raise GitError(f"{path}: is a bare repository; promote needs a working tree")
        self.root = Path(self._repo.working_tree_dir).resolve()
        self._git = self._repo.git
        self._git.update_environment(**_GIT_ENV)

    @classmethod
    def init(cls, path: Path, branch: str = "main") -> Self:
        try:
            git.Repo.init(path, initial_branch=branch)
        except GitCommandError as exc:
            raise GitError(f"git init {path}: {reason(exc)}") from None
        return cls(path)

    def run(self, *args: str, stdin: str | None = None) -> str:
        try:
            if stdin is None:
                return self._git.execute(["git", *args], strip_newline_in_stdout=False)
            with stdin_file(stdin) as handle:
                return self._git.execute(["git", *args], istream=handle, strip_newline_in_stdout=False)
        except GitCommandError as exc:
            raise GitError(f"git {args[0]}: {reason(exc)}") from None

    @property
    def git_dir(self) -> Path:
        """This checkout's own git directory (``.git``, or ``.git/worktrees/NAME`` in a linked worktree)."""
        return Path(self._repo.git_dir)

    def head(self) -> str | None:
        try:
            return self._repo.head.commit.hexsha
        except ValueError:
            return None  # no commit yet

    def resolve(self, ref: str) -> str:
        if ref.startswith("-"):
            raise InputError(f"unknown git ref {ref!r}")
        try:
            return self._git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}").strip()
        except GitCommandError:
            raise InputError(f"unknown git ref {ref!r}") from None

    def try_resolve(self, ref: str) -> str | None:
        try:
            return self.resolve(ref)
        except InputError:
            return None

    def _identity_env(self) -> dict[str, str]:
        return identity_env(self.root)


def stdin_file(text: str):
    """A real file for GitPython's ``execute(istream=...)`` (it becomes the process's stdin)."""
    return stdin_bytes(text.encode("utf-8"))


def stdin_bytes(data: bytes):
    handle = tempfile.TemporaryFile()
    handle.write(data)
    handle.seek(0)
    return handle


def quote_path(path: str) -> str:
    """A path as git fast-import reads it: C-style quoted, so no byte of it is taken for syntax."""
    escaped = "".join(_C_ESCAPES.get(ch, ch if ch.isprintable() else "".join(f"\\{b:03o}" for b in ch.encode())) for ch in path)
    return f'"{escaped}"'
