"""A change proposed for review: committed on ``--branch``; with ``--open-pr`` also pushed there and
opened as a pull request (or merge request) on the forge, or the one already open updated.

The forge is asked for the repository before anything is written, so a refused token or an unknown
repository fails with nothing committed or pushed. If opening the pull request fails after the push,
the branch is deleted from the remote again (when this run created it) and the checkout returns to
where it was: a failed command leaves nothing behind.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol, TypeVar

from gitops_mlops.change.intents import Publish
from gitops_mlops.config.load import Config
from gitops_mlops.core.errors import GitError, GitOpsError
from gitops_mlops.forge import clients as forge
from gitops_mlops.gitstore.repo import GitRepo


class Proposable(Protocol):
    commit: str | None
    pr_title: str
    pr_body: str
    pull_request: str


R = TypeVar("R", bound=Proposable)


def propose(git: GitRepo, options: Publish, config: Config, run: Callable[[Publish], R], text: Callable[[R, str, str], tuple[str, str]]) -> R:
    """Publish by ``run``; on a branch, give the result its pull request's title and body, and open it when asked.

    ``text(result, base, head)`` writes the title and the markdown body.
    """
    options.check_for(config.hydrate.branch if config.hydrate else None)  # before the forge is asked
    if not options.branch:
        return run(options)
    remote = options.remote or config.remote
    base = options.target_branch or config.target_branch
    head = options.branch
    if not options.open_pr:
        result = run(options)
        return _with_text(result, text, f"{remote}/{base}", head)
    client, labels = ask_forge(git, options, config)  # 401/404 here, before any write
    where = git.branch() or git.head()
    had_local, had_remote = git.local_branch_exists(head), git.remote_branch_exists(remote, head)
    result = run(replace(options, push=True))
    if result.commit is None:
        return result
    result = _with_text(result, text, f"{remote}/{base}", head)
    try:
        opened = client.open(head, base, result.pr_title, result.pr_body, labels)
    except GitOpsError:
        _take_back(git, remote, head, where, had_local, had_remote)
        raise
    return replace(result, pull_request=opened.url)


def ask_forge(git: GitRepo, options: Publish, config: Config):
    """The forge client and the pull request's labels, once the forge has shown it knows the token and
    the repository; a dry run with ``--open-pr`` asks it too, so it fails as the real run would."""
    labels = tuple(dict.fromkeys((*(config.forge.labels if config.forge else ()), *options.labels)))
    remote = options.remote or config.remote
    return forge.connect(config.forge, config.repo_url or git.remote_url(remote), labels), labels


def _with_text(result: R, text: Callable[[R, str, str], tuple[str, str]], base: str, head: str) -> R:
    if result.commit is None:
        return result
    title, body = text(result, base, head)
    return replace(result, pr_title=title, pr_body=body)


def _take_back(git: GitRepo, remote: str, head: str, where: str | None, had_local: bool, had_remote: bool) -> None:
    """Undo this run's push and branch after the forge refused the pull request."""
    try:
        if not had_remote:
            git.run("push", "--quiet", remote, "--delete", head)
        if where:
            git.run("checkout", "--quiet", where)
        if not had_local:
            git.run("branch", "--quiet", "-D", head)
    except GitError as exc:  # the forge's refusal is the error to report; a failed clean-up must not hide it
        sys.stderr.write(f"warning: could not take back branch {head}: {exc}\n")
