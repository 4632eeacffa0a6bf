"""Publishing a change: in the checkout, on the remote's tip with push (the intent applied again when
the remote moved, never forced), or on a new branch (reused when it holds the same change).
Real repositories: a bare remote and clones."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gitops_mlops.change.intents import Publish
from gitops_mlops.change.publish import journaled, publish
from gitops_mlops.config.load import load_config
from gitops_mlops.core.errors import GitError
from gitops_mlops.gitstore.repo import GitRepo
from testing.repos import git


@dataclass(frozen=True)
class Made:
    commit: str | None
    pushed: bool = False
    branch: str | None = None
    attempts: int = 1


class Apply:
    """The intent: append a line to notes.txt and commit it (nothing when the line is there); counts its runs."""

    def __init__(self, repo, line: str = "one\n", before=None) -> None:
        self.repo, self.line, self.before, self.runs = repo, line, before, 0

    def __call__(self) -> Made:
        self.runs += 1
        if self.before:
            self.before(self.runs)
        path = self.repo.work / "notes.txt"
        text = path.read_text() if path.exists() else ""
        if self.line in text:
            return Made(None)
        path.write_text(text + self.line)
        self.repo.git("add", "notes.txt")
        self.repo.git("commit", "-qm", f"note {self.line.strip()}\n\nAction: promote")
        return Made(self.repo.head())


def run(repo, options: Publish, apply: Apply) -> Made:
    return publish(GitRepo(repo.work), options, load_config(repo.work), apply)


def test_without_push_the_change_is_committed_in_the_checkout_only(gitops_repo):
    remote = gitops_repo.remote_head()
    result = run(gitops_repo, Publish(), Apply(gitops_repo))
    assert result.commit == gitops_repo.head() and not result.pushed
    assert gitops_repo.remote_head() == remote


def test_with_push_the_commit_goes_to_the_remotes_branch(gitops_repo):
    result = run(gitops_repo, Publish(push=True), Apply(gitops_repo))
    assert result.pushed and result.branch == "main" and result.attempts == 1
    assert gitops_repo.remote_head() == result.commit == gitops_repo.head()


def test_when_the_remote_moved_the_intent_is_applied_again_on_its_tip(gitops_repo):
    other = gitops_repo.clone("other")

    def race(attempt: int) -> None:
        if attempt == 1:  # another promoter lands first: our push is rejected once
            (other.work / "theirs.txt").write_text("theirs\n")
            other.git("add", "theirs.txt")
            other.git("commit", "-qm", "theirs")
            other.git("push", "-q", "origin", "main")

    apply = Apply(gitops_repo, before=race)
    result = run(gitops_repo, Publish(push=True), apply)
    assert apply.runs == 2 and result.attempts == 2 and result.pushed
    assert gitops_repo.remote_head() == gitops_repo.head()
    assert git(gitops_repo.remote, "show", "main:theirs.txt") == "theirs\n"  # theirs kept: never forced
    assert git(gitops_repo.remote, "show", "main:notes.txt") == "one\n"


def test_nothing_to_do_on_the_remotes_tip_pushes_nothing(gitops_repo):
    run(gitops_repo, Publish(push=True), Apply(gitops_repo))
    tip = gitops_repo.remote_head()
    result = run(gitops_repo, Publish(push=True), Apply(gitops_repo))
    assert result.commit is None and not result.pushed and gitops_repo.remote_head() == tip


def test_a_rejected_push_that_is_not_a_race_fails_and_leaves_the_checkout(gitops_repo):
    hook = gitops_repo.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch' >&2\nexit 1\n")
    hook.chmod(0o755)
    head = gitops_repo.head()
    apply = Apply(gitops_repo)
    with pytest.raises(GitError):
        run(gitops_repo, Publish(push=True), apply)
    assert apply.runs == 1 and gitops_repo.head() == head  # no retry; the unpushed commit dropped


def test_on_a_new_branch_the_checkout_moves_to_it(gitops_repo):
    main = gitops_repo.head()
    result = run(gitops_repo, Publish(branch="review/notes"), Apply(gitops_repo))
    assert result.branch == "review/notes" and not result.pushed
    assert gitops_repo.git("branch", "--show-current").strip() == "review/notes"
    assert gitops_repo.git("rev-parse", "HEAD~1").strip() == main


def test_the_same_change_on_an_existing_branch_is_reused_and_another_refused(gitops_repo):
    first = run(gitops_repo, Publish(branch="review/notes", push=True), Apply(gitops_repo))
    gitops_repo.git("checkout", "-q", "main")
    again = run(gitops_repo, Publish(branch="review/notes", push=True), Apply(gitops_repo))
    assert again.commit == first.commit and git(gitops_repo.remote, "rev-parse", "review/notes").strip() == first.commit
    gitops_repo.git("checkout", "-q", "main")
    with pytest.raises(GitError, match="branch 'review/notes' already exists with another change"):
        run(gitops_repo, Publish(branch="review/notes"), Apply(gitops_repo, "two\n"))
    assert gitops_repo.git("branch", "--show-current").strip() == "main"


def test_journaled_returns_the_result_and_reraises_a_failure(gitops_repo):
    repo = GitRepo(gitops_repo.work)
    assert journaled(repo, lambda: Made("x"), "promote") == Made("x")

    def fail() -> Made:
        raise GitError("the remote is gone")

    with pytest.raises(GitError, match="the remote is gone"):
        journaled(repo, fail, "promote")
