"""Branches and remotes: ancestry, moving a branch only from where it was, fetching, and pushing
without force (PushRejected, the one retryable case, when the remote moved)."""

from __future__ import annotations

from git.exc import GitCommandError

from gitops_mlops.core.errors import GitError, InputError, PushRejected
from gitops_mlops.gitstore.runner import GitRunner, reason

_NON_FAST_FORWARD = ("non-fast-forward", "fetch first", "[rejected]", "failed to update ref", "cannot lock ref", "stale info")
_HOOK_OR_POLICY = ("hook declined", "protected branch", "permission", "denied", "not allowed")


class Refs(GitRunner):
    """Local branches, remote branches, fetch and push."""

    def remote_url(self, name: str) -> str | None:
        """The URL of remote ``name``, or None when there is no such remote."""
        try:
            return self.run("remote", "get-url", name).strip()
        except GitError:
            return None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        try:
            self._git.merge_base("--is-ancestor", ancestor, descendant)
            return True
        except GitCommandError as exc:
            if exc.status == 1:
                return False
            raise GitError(f"git merge-base: {reason(exc)}") from None

    def merge_base(self, a: str, b: str) -> str:
        try:
            return self._git.merge_base(a, b).strip()
        except GitCommandError:
            raise InputError(f"{a[:12]} and {b[:12]} have no common ancestor; pass --base REF") from None

    def set_branch(self, branch: str, new: str, old: str | None) -> None:
        """Point ``refs/heads/branch`` at ``new`` if it is still at ``old`` (None: it must not exist)."""
        self.run("update-ref", "-m", "gitops-mlops", f"refs/heads/{branch}", new, old or "0" * 40)

    def local_branch_exists(self, name: str) -> bool:
        return any(head.name == name for head in self._repo.heads)

    def has_remote(self, remote: str) -> bool:
        return any(r.name == remote for r in self._repo.remotes)

    def fetch(self, remote: str, branch: str) -> str:
        """Fetch ``branch`` from ``remote``; return the sha of its tip."""
        if not self.has_remote(remote):
            raise GitError(f"no git remote named {remote!r} (see 'git remote -v')")
        try:
            self._git.fetch("--quiet", "--no-tags", remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}")
        except GitCommandError as exc:
            if "couldn't find remote ref" in reason(exc).lower():
                raise GitError(
                    f"remote {remote} has no branch {branch} yet: publish this repository's commits with 'gitops-mlops push', then run again"
                ) from None
            raise GitError(f"git fetch {remote} {branch}: {reason(exc)}") from None
        return self.resolve(f"refs/remotes/{remote}/{branch}")

    def fetch_if_exists(self, remote: str, branch: str) -> str | None:
        """Fetch ``remote``'s ``branch`` when it has one; its sha, or None."""
        try:
            self._git.fetch("--quiet", "--no-tags", remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}")
        except GitCommandError as exc:
            if "couldn't find remote ref" in reason(exc).lower():
                return None
            raise GitError(f"git fetch {remote} {branch}: {reason(exc)}") from None
        return self.resolve(f"refs/remotes/{remote}/{branch}")

    def branch_tip(self, remote: str, branch: str, fetch: bool = True) -> str | None:
        """A side branch's tip: the remote's when there is a remote (fetched), else the local branch,
        else the remote-tracking one; None when there is none."""
        if fetch and self.has_remote(remote):
            found = self.fetch_if_exists(remote, branch)
            if found:
                return found
        return self.try_resolve(f"refs/heads/{branch}") or self.try_resolve(f"refs/remotes/{remote}/{branch}")

    def remote_branch_sha(self, remote: str, branch: str) -> str | None:
        """The sha of ``branch`` on ``remote`` (asked now), or None."""
        try:
            out = self._git.ls_remote("--heads", remote, f"refs/heads/{branch}")
        except GitCommandError as exc:
            raise GitError(f"git ls-remote {remote}: {reason(exc)}") from None
        return out.split()[0] if out.strip() else None

    def remote_branch_exists(self, remote: str, branch: str) -> bool:
        try:
            out = self._git.ls_remote("--heads", remote, f"refs/heads/{branch}")
        except GitCommandError as exc:
            raise GitError(f"git ls-remote {remote}: {reason(exc)}") from None
        return bool(out.strip())

    def push(self, remote: str, sha: str, branch: str) -> None:
        """Push ``sha`` to ``remote``'s ``branch`` without force; PushRejected when the remote moved."""
        self._push(remote, [(sha, branch)])

    def push_atomic(self, remote: str, updates: list[tuple[str, str]]) -> None:
        """Push (sha, branch) pairs in one all-or-nothing push (``git push --atomic``), never forced."""
        self._push(remote, updates, atomic=True)

    def _push(self, remote: str, updates: list[tuple[str, str]], atomic: bool = False) -> None:
        specs = [f"{sha}:refs/heads/{branch}" for sha, branch in updates]
        where = f"{remote}/{updates[0][1]}" if len(updates) == 1 else f"{remote} ({' and '.join(b for _, b in updates)})"
        try:
            self._git.push("--porcelain", *(["--atomic"] if atomic else []), remote, *specs)
        except GitCommandError as exc:
            why = reason(exc)
            text = f"{exc.stdout or ''} {why}".lower()
            if any(marker in text for marker in _HOOK_OR_POLICY):
                raise GitError(f"push to {where} refused by the remote: {why}") from None
            if any(marker in text for marker in _NON_FAST_FORWARD):
                moved = "the remote branch moved" if len(updates) == 1 else "a branch moved"
                raise PushRejected(f"push to {where} rejected: {moved} ({why})") from None
            raise GitError(f"push to {where} failed: {why}") from None
