"""The work tree and the index of a checkout: what is dirty, what git is in the middle of, putting
files back, moving HEAD, linked worktrees."""

from __future__ import annotations

import contextlib
from pathlib import Path

from git.exc import GitCommandError

from gitops_mlops.core.errors import GitError
from gitops_mlops.gitstore.identity import identity_env
from gitops_mlops.gitstore.runner import GitRunner

_IN_PROGRESS = (  # git's own markers in the checkout's git directory: (file, what, how to leave it)
    ("rebase-merge", "rebase", "'git rebase --abort'"),
    ("rebase-apply", "rebase or git am", "'git rebase --abort' or 'git am --abort'"),
    ("MERGE_HEAD", "merge", "'git merge --abort'"),
    ("CHERRY_PICK_HEAD", "cherry-pick", "'git cherry-pick --abort'"),
    ("REVERT_HEAD", "revert", "'git revert --abort'"),
    ("sequencer", "cherry-pick or revert", "'git cherry-pick --abort' or 'git revert --abort'"),
    ("BISECT_LOG", "bisect", "'git bisect reset'"),
)


class WorkTree(GitRunner):
    """The files of the checkout and its index."""

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

    def reset_keep(self, sha: str) -> None:
        """Move HEAD (and the current branch) to ``sha``, keeping unrelated local changes.

        The index's file times are refreshed first: ``reset --keep`` does not, and takes a file
        that was only touched (a restored CI cache, a copied checkout) for a local change."""
        with contextlib.suppress(GitError):
            self.run("update-index", "-q", "--refresh")
        self.run("reset", "--quiet", "--keep", sha)

    def checkout_new_branch(self, name: str, sha: str) -> None:
        self.run("checkout", "--quiet", "-b", name, sha)

    def add_worktree(self, path: Path, sha: str) -> None:
        self.run("worktree", "add", "--quiet", "--detach", str(path), sha)

    def remove_worktree(self, path: Path) -> None:
        try:
            self._git.worktree("remove", "--force", str(path))
        except GitCommandError:
            self._git.worktree("prune")


def _under(path: str, prefixes: set[str]) -> bool:
    parts = path.split("/")
    return any("/".join(parts[:i]) in prefixes for i in range(1, len(parts) + 1))
