"""The only module that imports GitPython: clean checks, commits, fetch/push, log.

Every git failure becomes a GitError (exit 5) whose text names the command and
git's own reason, with credentials in URLs redacted. A push refused because the
remote moved raises PushRejected, the one retryable case.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import git
from git.exc import GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from gitops_mlops.core.errors import GitError, InputError, PushRejected
from gitops_mlops.gitstore.identity import identity_env

_CREDENTIALS_RE = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.I)
_NON_FAST_FORWARD = ("non-fast-forward", "fetch first", "[rejected]", "failed to update ref", "cannot lock ref", "stale info")
_HOOK_OR_POLICY = ("hook declined", "protected branch", "permission", "denied", "not allowed")
_COMMIT_HOOKS = ("pre-commit", "prepare-commit-msg", "commit-msg", "post-commit")
_CONTENT_ATTRIBUTES = ("text", "eol", "crlf", "filter", "ident", "working-tree-encoding")
_IN_PROGRESS = (  # git's own markers in the checkout's git directory: (file, what, how to leave it)
    ("rebase-merge", "rebase", "'git rebase --abort'"),
    ("rebase-apply", "rebase or git am", "'git rebase --abort' or 'git am --abort'"),
    ("MERGE_HEAD", "merge", "'git merge --abort'"),
    ("CHERRY_PICK_HEAD", "cherry-pick", "'git cherry-pick --abort'"),
    ("REVERT_HEAD", "revert", "'git revert --abort'"),
    ("sequencer", "cherry-pick or revert", "'git cherry-pick --abort' or 'git revert --abort'"),
    ("BISECT_LOG", "bisect", "'git bisect reset'"),
)
_C_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}
# fast-import grows and trims its heap in small steps; with glibc's default trim threshold
# that costs tens of thousands of page faults on a thousand-file commit (~0.2 s -> ~0.05 s).
_MALLOC_ENV = {"MALLOC_TOP_PAD_": str(64 << 20)}
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


def _reason(exc: GitCommandError) -> str:
    stderr = exc.stderr if isinstance(exc.stderr, str) else str(exc.stderr or "")
    lines = [line.strip() for line in stderr.replace("stderr:", "").splitlines() if line.strip().strip("'")]
    text = " ".join(line.strip("'") for line in lines) or f"exit code {exc.status}"
    return redact(text)[:600]


@dataclass(frozen=True)
class Trailered:
    """One commit with its trailers, as history reads it."""

    sha: str
    date: str
    author: str
    subject: str
    trailers: tuple[tuple[str, str], ...]


class GitRepo:
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
    def init(cls, path: Path, branch: str = "main") -> GitRepo:
        try:
            git.Repo.init(path, initial_branch=branch)
        except GitCommandError as exc:
            raise GitError(f"git init {path}: {_reason(exc)}") from None
        return cls(path)

    def run(self, *args: str, stdin: str | None = None) -> str:
        try:
            if stdin is None:
                return self._git.execute(["git", *args], strip_newline_in_stdout=False)
            with _stdin(stdin) as handle:
                return self._git.execute(["git", *args], istream=handle, strip_newline_in_stdout=False)
        except GitCommandError as exc:
            raise GitError(f"git {args[0]}: {_reason(exc)}") from None

    # ------------------------------------------------------------ state

    def remote_url(self, name: str) -> str | None:
        """The URL of remote ``name``, or None when there is no such remote."""
        try:
            return self.run("remote", "get-url", name).strip()
        except GitError:
            return None

    @property
    def git_dir(self) -> Path:
        """This checkout's own git directory (``.git``, or ``.git/worktrees/NAME`` in a linked worktree)."""
        return Path(self._repo.git_dir)

    def head(self) -> str | None:
        try:
            return self._repo.head.commit.hexsha
        except ValueError:
            return None  # no commit yet

    def branch(self) -> str | None:
        """The checked-out branch, or None on a detached HEAD."""
        return None if self._repo.head.is_detached else self._repo.active_branch.name

    def dirty(self, paths: list[str] | None = None) -> list[str]:
        """Paths with uncommitted changes (staged, unstaged or untracked) under ``paths``."""
        lock = self.git_dir / "index.lock"
        if lock.exists():
            raise GitError(f"{lock} exists: another git process is running, or one crashed; if none is running, delete the file")
        args = ["status", "--porcelain=v1", "-z", "--untracked-files=all"]
        many = paths is not None and len(paths) > 64  # thousands of pathspecs cost git more than one walk
        if paths is not None:
            args += ["--", *(sorted({p.split("/")[0] for p in paths}) if many else paths)]
        try:
            out = self.run(*args)
        except GitError:  # status saves the index it refreshed, an optimisation; where it cannot (a full disk), ask without
            with self._git.custom_environment(GIT_OPTIONAL_LOCKS="0"):
                out = self.run(*args)
        found = [entry[3:] for entry in out.split("\0") if len(entry) > 3]
        if many:
            wanted = {p.rstrip("/") for p in paths}
            found = [f for f in found if _under(f, wanted)]
        return found

    def resolve(self, ref: str) -> str:
        if ref.startswith("-"):
            raise InputError(f"unknown git ref {ref!r}")
        try:
            return self._git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}").strip()
        except GitCommandError:
            raise InputError(f"unknown git ref {ref!r}") from None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        try:
            self._git.merge_base("--is-ancestor", ancestor, descendant)
            return True
        except GitCommandError as exc:
            if exc.status == 1:
                return False
            raise GitError(f"git merge-base: {_reason(exc)}") from None

    def show_file(self, ref: str, path: str) -> str | None:
        try:
            return self._git.show(f"{ref}:{path}", strip_newline_in_stdout=False)
        except GitCommandError:
            return None

    def merge_base(self, a: str, b: str) -> str:
        try:
            return self._git.merge_base(a, b).strip()
        except GitCommandError:
            raise InputError(f"{a[:12]} and {b[:12]} have no common ancestor; pass --base REF") from None

    def changed_paths(self, base: str, head: str) -> list[str]:
        return [p for p in self.run("diff", "--name-only", "-z", "--no-renames", base, head).split("\0") if p]

    def add_worktree(self, path: Path, sha: str) -> None:
        self.run("worktree", "add", "--quiet", "--detach", str(path), sha)

    def remove_worktree(self, path: Path) -> None:
        try:
            self._git.worktree("remove", "--force", str(path))
        except GitCommandError:
            self._git.worktree("prune")

    # ------------------------------------------------------------ writes

    def commit(self, paths: list[str], message: str) -> str:
        """Commit exactly ``paths`` (changes staged elsewhere stay out; a path gone from the work tree is
        deleted) with ``message``; return the new sha.

        The commit is written as one pack by ``git fast-import`` on top of HEAD: a thousand
        changed files cost one pack instead of two thousand loose objects. Where that would
        differ from ``git commit`` (no HEAD yet, commit hooks, signing, content filters) the
        porcelain is used instead.
        """
        head = self.head()
        if head is None or not self._plain_commit_ok(paths):
            return self._commit_porcelain(paths, message)
        return self._commit_fast(head, paths, message)

    def _plain_commit_ok(self, paths: list[str]) -> bool:
        """True when a commit built from the files' bytes equals what ``git commit`` would make."""
        reader = self._repo.config_reader()
        if reader.get_value("commit", "gpgsign", False) or str(reader.get_value("core", "autocrlf", "false")).lower() != "false":
            return False
        hooks = Path(self.run("rev-parse", "--git-path", "hooks").strip())
        hooks = hooks if hooks.is_absolute() else self.root / hooks
        if any(os.access(hooks / name, os.X_OK) for name in _COMMIT_HOOKS):
            return False
        attributes = self.run("check-attr", "-z", "--stdin", *_CONTENT_ATTRIBUTES, stdin="\0".join(paths)).split("\0")
        return all(value == "unspecified" for value in attributes[2::3])

    def _commit_fast(self, head: str, paths: list[str], message: str) -> str:
        temp_ref = f"refs/gitops-mlops/commit-{os.getpid()}-{secrets.token_hex(4)}"
        with self._git.custom_environment(**self._identity_env()):
            author = self.run("var", "GIT_AUTHOR_IDENT").strip()
            committer = self.run("var", "GIT_COMMITTER_IDENT").strip()
        encoded = message.encode("utf-8")
        stream = [f"commit {temp_ref}\nauthor {author}\ncommitter {committer}\ndata {len(encoded)}\n".encode(), encoded, f"\nfrom {head}\n".encode()]
        for path in paths:
            if not (self.root / path).exists():  # deleted from the work tree: deleted in the commit
                stream.append(f"D {_quote_path(path)}\n".encode())
                continue
            data = (self.root / path).read_bytes()
            mode = "100755" if os.stat(self.root / path).st_mode & 0o111 else "100644"
            stream += [f"M {mode} inline {_quote_path(path)}\ndata {len(data)}\n".encode(), data, b"\n"]
        stream.append(b"done\n")
        try:
            with self._git.custom_environment(**_MALLOC_ENV), _stdin_bytes(b"".join(stream)) as handle:
                self._git.execute(["git", "fast-import", "--quiet", "--done"], istream=handle)
            sha = self.resolve(temp_ref)
            subject = message.split("\n", 1)[0]
            self.run("update-ref", "-m", f"commit: {subject}", "--stdin", stdin=f"update HEAD {sha} {head}\n")
        except GitCommandError as exc:
            raise GitError(f"git commit: {_reason(exc)}") from None
        finally:
            with contextlib.suppress(GitCommandError):
                self._git.update_ref("-d", temp_ref)
        self.run("update-index", "--add", "--remove", "-z", "--stdin", stdin="\0".join(paths))  # index follows HEAD
        with contextlib.suppress(GitError):
            self.run("maintenance", "run", "--auto", "--quiet")  # as git commit does: packs do not pile up
        return sha

    def commit_tree(self, parent: str | None, files: dict[str, bytes | None], message: str, replace_all: bool = False) -> str:
        """A commit of ``files`` (path -> bytes; None deletes) on ``parent`` (or a root commit), written
        by fast-import without touching the work tree, the index or any branch; its sha."""
        temp_ref = f"refs/gitops-mlops/tree-{os.getpid()}-{secrets.token_hex(4)}"
        with self._git.custom_environment(**self._identity_env()):
            author = self.run("var", "GIT_AUTHOR_IDENT").strip()
            committer = self.run("var", "GIT_COMMITTER_IDENT").strip()
        encoded = message.encode("utf-8")
        stream = [f"commit {temp_ref}\nauthor {author}\ncommitter {committer}\ndata {len(encoded)}\n".encode(), encoded, b"\n"]
        if parent:
            stream.append(f"from {parent}\n".encode())
        if replace_all:
            stream.append(b"deleteall\n")
        for path, data in sorted(files.items()):
            if data is None:
                stream.append(f"D {_quote_path(path)}\n".encode())
            else:
                stream += [f"M 100644 inline {_quote_path(path)}\ndata {len(data)}\n".encode(), data, b"\n"]
        stream.append(b"done\n")
        try:
            with self._git.custom_environment(**_MALLOC_ENV), _stdin_bytes(b"".join(stream)) as handle:
                self._git.execute(["git", "fast-import", "--quiet", "--done"], istream=handle)
            return self.resolve(temp_ref)
        except GitCommandError as exc:
            raise GitError(f"git fast-import: {_reason(exc)}") from None
        finally:
            with contextlib.suppress(GitCommandError):
                self._git.update_ref("-d", temp_ref)

    def set_branch(self, branch: str, new: str, old: str | None) -> None:
        """Point ``refs/heads/branch`` at ``new`` if it is still at ``old`` (None: it must not exist)."""
        self.run("update-ref", "-m", "gitops-mlops", f"refs/heads/{branch}", new, old or "0" * 40)

    def try_resolve(self, ref: str) -> str | None:
        try:
            return self.resolve(ref)
        except InputError:
            return None

    def fetch_if_exists(self, remote: str, branch: str) -> str | None:
        """Fetch ``remote``'s ``branch`` when it has one; its sha, or None."""
        try:
            self._git.fetch("--quiet", "--no-tags", remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}")
        except GitCommandError as exc:
            if "couldn't find remote ref" in _reason(exc).lower():
                return None
            raise GitError(f"git fetch {remote} {branch}: {_reason(exc)}") from None
        return self.resolve(f"refs/remotes/{remote}/{branch}")

    def branch_tip(self, remote: str, branch: str, fetch: bool = True) -> str | None:
        """A side branch's tip: the remote's when there is a remote (fetched), else the local branch,
        else the remote-tracking one; None when there is none."""
        if fetch and self.has_remote(remote):
            found = self.fetch_if_exists(remote, branch)
            if found:
                return found
        return self.try_resolve(f"refs/heads/{branch}") or self.try_resolve(f"refs/remotes/{remote}/{branch}")

    def push_atomic(self, remote: str, updates: list[tuple[str, str]]) -> None:
        """Push (sha, branch) pairs in one all-or-nothing push (``git push --atomic``), never forced."""
        self._push(remote, updates, atomic=True)

    def _commit_porcelain(self, paths: list[str], message: str) -> str:
        spec = "\0".join(paths)
        others = set(self.run("diff", "--cached", "--name-only", "-z").split("\0")) - set(paths) - {""}
        self.run("update-index", "--add", "--remove", "-z", "--stdin", stdin=spec)  # exact paths: no pathspec matching
        argv = ["git", "commit", "--quiet", "--file=-"]
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".pathspec") as pathspec:
            if others:  # only then pay for a commit limited to our paths
                pathspec.write(spec)
                pathspec.flush()
                argv += [f"--pathspec-from-file={pathspec.name}", "--pathspec-file-nul"]
            try:
                with self._git.custom_environment(**self._identity_env()), _stdin(message) as handle:
                    self._git.execute(argv, istream=handle)
            except GitCommandError as exc:
                raise GitError(f"git commit: {_reason(exc)}") from None
        return self.head()

    def _identity_env(self) -> dict[str, str]:
        return identity_env(self.root)

    def refuse_in_progress(self) -> None:
        """Refuse to write while git is in the middle of something (a rebase, merge, cherry-pick, revert,
        bisect): a commit then would mix the tool's change into it."""
        for marker, what, way_out in _IN_PROGRESS:
            if (self.git_dir / marker).exists():
                raise GitError(f"a {what} is in progress in {self.root} ({marker}): finish it or run {way_out} first; nothing was changed")

    def check_identity(self) -> None:
        """Refuse, before anything is written, when there is no identity to commit as."""
        identity_env(self.root)

    def move_head(self, new: str, old: str) -> None:
        """Point HEAD (its branch, when on one) at ``new`` if it is still at ``old``; the files stay."""
        self.run("update-ref", "-m", "gitops-mlops: undo an interrupted run", "HEAD", new, old)

    def restore_paths(self, paths: list[str]) -> None:
        """Put ``paths`` back, in the index and the working tree, as HEAD has them."""
        with self._git.custom_environment(GIT_LITERAL_PATHSPECS="1"):
            self.run("checkout", "--quiet", "HEAD", "--pathspec-from-file=-", "--pathspec-file-nul", stdin="\0".join(paths))

    def cherry_pick(self, sha: str) -> str | None:
        """Apply commit ``sha`` on HEAD with its message and author; the new sha, or None when HEAD
        already has its change. GitError (and nothing changed) when it does not apply cleanly."""
        try:
            self.run("cherry-pick", "--no-commit", sha)
        except GitError as exc:
            with contextlib.suppress(GitError):
                self.run("reset", "--quiet", "--merge")
            raise GitError(str(exc).split("\n")[0]) from None
        if not self.run("diff", "--cached", "--name-only", "HEAD"):
            return None
        with self._git.custom_environment(**self._identity_env()):
            self.run("commit", "--quiet", "--no-verify", "--reuse-message", sha)
        return self.head()

    def reset_keep(self, sha: str) -> None:
        """Move HEAD (and the current branch) to ``sha``, keeping unrelated local changes.

        The index's file times are refreshed first: ``reset --keep`` does not, and takes a file
        that was only touched (a restored CI cache, a copied checkout) for a local change."""
        with contextlib.suppress(GitError):
            self.run("update-index", "-q", "--refresh")
        self.run("reset", "--quiet", "--keep", sha)

    def checkout_new_branch(self, name: str, sha: str) -> None:
        self.run("checkout", "--quiet", "-b", name, sha)

    def patch_id(self, sha: str, since: str | None = None) -> str:
        """The stable patch id of a commit's change, or of everything from ``since`` to ``sha`` (equal
        for the same change on another base)."""
        if since is None:
            diff = self.run("diff-tree", "--patch", "--no-color", "--full-index", "--root", sha)
        else:
            diff = self.run("diff", "--no-color", "--full-index", since, sha)
        return self.run("patch-id", "--stable", stdin=diff).split(" ", 1)[0]

    def remote_branch_sha(self, remote: str, branch: str) -> str | None:
        """The sha of ``branch`` on ``remote`` (asked now), or None."""
        try:
            out = self._git.ls_remote("--heads", remote, f"refs/heads/{branch}")
        except GitCommandError as exc:
            raise GitError(f"git ls-remote {remote}: {_reason(exc)}") from None
        return out.split()[0] if out.strip() else None

    def local_branch_exists(self, name: str) -> bool:
        return any(head.name == name for head in self._repo.heads)

    # ------------------------------------------------------------ remote

    def has_remote(self, remote: str) -> bool:
        return any(r.name == remote for r in self._repo.remotes)

    def fetch(self, remote: str, branch: str) -> str:
        """Fetch ``branch`` from ``remote``; return the sha of its tip."""
        if not self.has_remote(remote):
            raise GitError(f"no git remote named {remote!r} (see 'git remote -v')")
        try:
            self._git.fetch("--quiet", "--no-tags", remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}")
        except GitCommandError as exc:
            if "couldn't find remote ref" in _reason(exc).lower():
                raise GitError(
                    f"remote {remote} has no branch {branch} yet: publish this repository's commits with 'gitops-mlops push', then run again"
                ) from None
            raise GitError(f"git fetch {remote} {branch}: {_reason(exc)}") from None
        return self.resolve(f"refs/remotes/{remote}/{branch}")

    def remote_branch_exists(self, remote: str, branch: str) -> bool:
        try:
            out = self._git.ls_remote("--heads", remote, f"refs/heads/{branch}")
        except GitCommandError as exc:
            raise GitError(f"git ls-remote {remote}: {_reason(exc)}") from None
        return bool(out.strip())

    def push(self, remote: str, sha: str, branch: str) -> None:
        """Push ``sha`` to ``remote``'s ``branch`` without force; PushRejected when the remote moved."""
        self._push(remote, [(sha, branch)])

    def _push(self, remote: str, updates: list[tuple[str, str]], atomic: bool = False) -> None:
        specs = [f"{sha}:refs/heads/{branch}" for sha, branch in updates]
        where = f"{remote}/{updates[0][1]}" if len(updates) == 1 else f"{remote} ({' and '.join(b for _, b in updates)})"
        try:
            self._git.push("--porcelain", *(["--atomic"] if atomic else []), remote, *specs)
        except GitCommandError as exc:
            reason = _reason(exc)
            text = f"{exc.stdout or ''} {reason}".lower()
            if any(marker in text for marker in _HOOK_OR_POLICY):
                raise GitError(f"push to {where} refused by the remote: {reason}") from None
            if any(marker in text for marker in _NON_FAST_FORWARD):
                moved = "the remote branch moved" if len(updates) == 1 else "a branch moved"
                raise PushRejected(f"push to {where} rejected: {moved} ({reason})") from None
            raise GitError(f"push to {where} failed: {reason}") from None

    # ------------------------------------------------------------ history

    def extract(self, sha: str, paths: list[str], dest: Path) -> None:
        """The files under ``paths`` at commit ``sha`` written below ``dest`` (regular files only)."""
        try:
            data = self._git.execute(["git", "archive", "--format=tar", sha, "--", *paths], stdout_as_string=False)
        except GitCommandError as exc:
            raise GitError(f"git archive: {_reason(exc)}") from None
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            archive.extractall(dest, members=_safe_members(archive), filter="data")

    def show_files(self, sha: str, paths: list[str]) -> dict[str, str]:
        """The text of each of ``paths`` at commit ``sha`` (missing ones left out), read in one git process."""
        found = self.show_objects([f"{sha}:{path}" for path in paths])
        return {path: found[f"{sha}:{path}"] for path in paths if f"{sha}:{path}" in found}

    def show_objects(self, specs: list[str]) -> dict[str, str]:
        """The text of each ``REV:PATH`` in ``specs`` (missing ones left out), read in one git process."""
        request = "".join(f"{spec}\n" for spec in specs).encode()
        try:
            with _stdin_bytes(request) as handle:
                data = self._git.execute(["git", "cat-file", "--batch"], istream=handle, stdout_as_string=False, strip_newline_in_stdout=False)
        except GitCommandError as exc:
            raise GitError(f"git cat-file: {_reason(exc)}") from None
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
            with _stdin_bytes(request) as handle:
                out = self._git.execute(["git", "cat-file", "--batch-check=%(objecttype)"], istream=handle, strip_newline_in_stdout=False)
        except GitCommandError as exc:
            raise GitError(f"git cat-file: {_reason(exc)}") from None
        return {spec for spec, line in zip(specs, out.split("\n")[: len(specs)], strict=True) if not line.endswith("missing")}

    def paths_at(self, sha: str, paths: list[str]) -> list[str]:
        """Which of ``paths`` exist at commit ``sha``."""
        out = self.run("ls-tree", "--name-only", sha, "--", *paths)
        return [line for line in out.splitlines() if line]

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
            pairs = tuple(tuple(p.strip() for p in line.split(":", 1)) for line in trailers.splitlines() if ":" in line)
            commits.append(Trailered(sha=sha, date=date, author=author, subject=subject, trailers=pairs))
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
            pairs = tuple(tuple(p.strip() for p in line.split(":", 1)) for line in trailers.splitlines() if ":" in line)
            fields = raw.removeprefix("\0").removeprefix("\n").split("\0")
            entries = [(fields[i + 1], fields[i].split(" ")[3]) for i in range(0, len(fields) - 1, 2) if fields[i].startswith(":")]
            changed, objects = tuple(path for path, _ in entries), tuple(oid for _, oid in entries)
            commits.append((Trailered(sha=sha, date=date, author=author, subject=subject, trailers=pairs), changed, objects))
        return commits


def _under(path: str, prefixes: set[str]) -> bool:
    parts = path.split("/")
    return any("/".join(parts[:i]) in prefixes for i in range(1, len(parts) + 1))


def _safe_members(archive: tarfile.TarFile):
    for member in archive:
        if member.isfile() or member.isdir():
            yield member


def _stdin(text: str):
    """A real file for GitPython's ``execute(istream=...)`` (it becomes the process's stdin)."""
    return _stdin_bytes(text.encode("utf-8"))


def _stdin_bytes(data: bytes):
    handle = tempfile.TemporaryFile()
    handle.write(data)
    handle.seek(0)
    return handle


def _quote_path(path: str) -> str:
    """A path as git fast-import reads it: C-style quoted, so no byte of it is taken for syntax."""
    escaped = "".join(_C_ESCAPES.get(ch, ch if ch.isprintable() else "".join(f"\\{b:03o}" for b in ch.encode())) for ch in path)
    return f'"{escaped}"'
