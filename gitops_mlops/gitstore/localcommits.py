"""The tool's own commits that the remote lacks: found, and replayed onto the remote's tip.

A promotion committed without ``--push`` (or an earlier push that failed) leaves local
commits. They are published when every one is the tool's own (its trailers say what it
did) and each applies cleanly on the remote's tip; a commit whose change the tip already
has is dropped. Anything else (a hand-made commit, a merge, a conflict) is refused with
the way out, and the checkout is left as it was.
"""

from __future__ import annotations

from gitops_mlops.core.errors import GitError
from gitops_mlops.gitstore.repo import GitRepo

TOOL_ACTIONS = ("init", "promote", "rollback", "release-hold", "add-site", "remove-site")


def own_local_commits(git: GitRepo, head: str | None, tip: str | None, where: str) -> list[str]:
    """The commits of HEAD that ``tip`` lacks (every one when there is no tip), oldest first;
    GitError unless all are the tool's own."""
    if head is None or (tip is not None and git.is_ancestor(head, tip)):
        return []
    span = f"{tip}..{head}" if tip else head
    commits = git.log_trailers(span)
    shas = git.run("rev-list", "--reverse", "--no-merges", span).split()
    if len(shas) != len(commits):
        raise GitError(f"HEAD has merge commits that {where} does not; push or drop them before using --push")
    for commit in commits:
        action = dict(commit.trailers).get("Action")
        if action not in TOOL_ACTIONS:
            raise GitError(
                f"HEAD has commit {commit.sha[:12]} ({commit.subject}) that {where} does not and gitops-mlops did not make; "
                f"push it yourself, or drop it (git reset --keep {where}), then run again"
            )
    return shas


def replay(git: GitRepo, shas: list[str], where: str) -> list[str]:
    """Cherry-pick ``shas`` onto HEAD (the remote's tip); the new commits (those already there dropped)."""
    new = []
    for sha in shas:
        try:
            made = git.cherry_pick(sha)
        except GitError as exc:
            raise GitError(f"local commit {sha[:12]} does not apply on {where} ({exc}); drop it (git reset --keep {where}) and promote again") from None
        if made:
            new.append(made)
    return new
