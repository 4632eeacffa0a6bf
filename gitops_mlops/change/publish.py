"""Publish a change: commit in the checkout, push to the remote's branch with retries, or
commit on a new branch for a pull request.

With push the change is applied on the remote's tip, whatever the checkout (a CI's
detached HEAD included). A push rejected because the remote moved is retried: fetch,
reset to the new tip, apply the same intent again (not a textual rebase), push; with
jittered backoff, a bounded number of times; never force. A hook or protected branch
refusing the push fails at once, and the checkout is left where it was.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol, TypeVar

from gitops_mlops.change.intents import Publish
from gitops_mlops.config.load import Config
from gitops_mlops.core import settings
from gitops_mlops.core.errors import GitError, PushRejected
from gitops_mlops.forge import argocd
from gitops_mlops.gitstore import journal as recovery
from gitops_mlops.gitstore.localcommits import own_local_commits, replay
from gitops_mlops.gitstore.repo import GitRepo

# Sized for 8 pipelines promoting at once (tests/test_concurrency.py): every rejection means
# another promotion landed, so the count is bounded by what lands meanwhile. 8 racers x 6
# promotions on 2 busy cores needed up to 15 attempts for one promotion (with the old bound
# of 12, one gave up). A 0.5 s base (about one attempt's duration, so the first retries already spread out)
# cut the total attempts (175 with 0.2 s; 145 and 158 with 0.5 s). 30 (GITOPS_MLOPS_PUSH_ATTEMPTS) leaves
# a wide margin; the backoff (full jitter, capped) keeps the worst case near two minutes.
BACKOFF_BASE = 0.5
BACKOFF_CAP = 5.0


class Published(Protocol):
    commit: str | None
    pushed: bool
    branch: str | None
    attempts: int


R = TypeVar("R", bound=Published)


def journaled(git: GitRepo, run: Callable[[], R], command: str) -> R:
    """Run a publish; its journal (written by apply) goes once it has finished, well or not, unless
    a failed run could not put the checkout back: then it stays, and the error names ``command``,
    which (as any command that writes) undoes the run first."""
    try:
        result = run()
    except BaseException as exc:
        recovery.finish(git, exc, command)
        raise
    recovery.clear(git)
    return result


def publish(git: GitRepo, options: Publish, config: Config, apply: Callable[[], R]) -> R:
    """Commit locally, on a new branch, or on the remote's tip with push and retries."""
    options.check_for(config.hydrate.branch if config.hydrate else None)  # never the tool's own branch
    remote = options.remote or config.remote
    target = options.target_branch or config.target_branch
    if options.branch:
        return _on_new_branch(git, options, remote, target, apply)
    if not options.push:
        return apply()
    head = git.head()
    before = git.try_resolve(f"refs/remotes/{remote}/{target}")
    try:
        result = _push_with_retries(git, remote, target, apply)
    except BaseException as exc:
        if head and git.head() != head:  # a failed push leaves the checkout where it was: the unpushed commit is dropped
            recovery.undo(exc, lambda: git.reset_keep(head))
        raise
    if result.pushed:  # the remote-tracking branch is what was pushed (the tool's commits and any replayed before them)
        after = git.try_resolve(f"refs/remotes/{remote}/{target}") or result.commit or git.head()
        argocd.notify(git, config, before, after, target)
    return result


def _push_with_retries(git: GitRepo, remote: str, target: str, apply: Callable[[], R]) -> R:
    """Apply on the remote tip and push; when the remote moved, reset to the new tip and apply the intent again."""
    attempts = settings.push_attempts()
    head = git.head()
    tip = git.fetch(remote, target)
    where = f"{remote}/{target}"
    local = own_local_commits(git, head, tip, where)  # the tool's own earlier commits go first
    for attempt in range(1, attempts + 1):
        if local and git.is_ancestor(tip, head):  # the remote has not moved past them: they go as they are
            git.reset_keep(head)
            replayed = local
        else:
            git.reset_keep(tip)
            replayed = replay(git, local, where)
        result = apply()
        if result.commit is None and not replayed:
            return replace(result, attempts=attempt, branch=target)
        top = result.commit or git.head()
        also = getattr(result, "also", ())
        try:
            if also:  # the hydrated branch goes with its source commit, or neither does
                git.push_atomic(remote, [(top, target), *also])
                for sha, branch in also:
                    git.run("update-ref", f"refs/remotes/{remote}/{branch}", sha)
            else:
                git.push(remote, top, target)
            return replace(result, pushed=True, attempts=attempt, branch=target)
        except PushRejected:
            if attempt == attempts:
                raise GitError(f"push to {remote}/{target} still rejected after {attempt} attempts: the branch keeps moving; nothing was pushed") from None
            time.sleep(random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))))
            tip = git.fetch(remote, target)
    raise AssertionError("unreachable")


def _on_new_branch(git: GitRepo, options: Publish, remote: str, target: str, apply: Callable[[], R]) -> R:
    name = options.branch
    earlier = git.resolve(f"refs/heads/{name}") if git.local_branch_exists(name) else None
    base = git.head()
    if options.push:
        if git.remote_branch_exists(remote, name):
            earlier = earlier or git.fetch(remote, name)
        base = git.fetch(remote, target)
    if base is None:
        raise GitError("the repository has no commit yet")
    if earlier is not None:
        return _reuse_branch(git, options, remote, name, base, earlier, apply)
    git.checkout_new_branch(name, base)
    result = apply()
    if result.commit is None:
        return replace(result, branch=name)
    if options.push:
        git.push(remote, result.commit, name)
    return replace(result, pushed=options.push, branch=name)


def _reuse_branch(git: GitRepo, options: Publish, remote: str, name: str, base: str, earlier: str, apply: Callable[[], R]) -> R:
    """``--branch`` names a branch that exists: when it makes the same change this run makes (equal
    patch ids of everything each adds to its base: one commit, or update's several), that branch is the
    result (pushed when the remote lacks it); else refused."""
    where, head = git.branch(), git.head()
    git.run("checkout", "--quiet", "--detach", base)
    try:
        result = apply()
        fork = git.run("merge-base", earlier, base).strip()
        same = result.commit is not None and git.patch_id(result.commit, since=base) == git.patch_id(earlier, since=fork)
    finally:
        git.run("checkout", "--quiet", where or head)
    if result.commit is None:  # the target branch already has the change: nothing to propose
        return replace(result, branch=name)
    if not same:
        raise GitError(f"branch {name!r} already exists with another change; choose another --branch (or delete it: git branch -D {name})")
    if git.local_branch_exists(name):
        git.run("checkout", "--quiet", name)
    else:
        git.checkout_new_branch(name, earlier)
    if options.push and git.remote_branch_sha(remote, name) != earlier:
        git.push(remote, earlier, name)
    return replace(result, commit=earlier, pushed=options.push, branch=name)
