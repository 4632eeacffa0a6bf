"""The change transaction on its own: journal, write, verify, commit, put back on any failure,
publish with retries from intent, and a dry run that leaves everything as it was.

Real git (a bare remote and a clone of it); the change is a plain text edit, no kustomize.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from gitops_mlops.change.intents import Publish
from gitops_mlops.change.transaction import Change, Outcome, file_change, guard, run_change, transact
from gitops_mlops.change.write import FileEdit
from gitops_mlops.config.load import load_config
from gitops_mlops.core.errors import GitError, RenderError
from gitops_mlops.gitstore import journal as recovery
from gitops_mlops.gitstore.repo import GitRepo
from testing.repos import GitOpsRepo, git, make_repo_from
from tests.change.test_dry_run_parity import snapshot

CONFIG = "models:\n  - name: fraud-detector\n    repository: quay.io/acme/fraud-detector\n"
FILES = {"gitops-mlops.yaml": CONFIG, "notes/a.txt": "a: one\n", "notes/b.txt": "b: one\n"}


@dataclass(frozen=True)
class Done:
    """The smallest change set a command returns: what ``publish`` fills in."""

    commit: str | None
    pushed: bool = False
    branch: str | None = None
    attempts: int = 0


@pytest.fixture
def repo(tmp_path: Path) -> GitOpsRepo:
    return make_repo_from(tmp_path, FILES)


def edits(repo: GitOpsRepo, word: str = "two") -> list[FileEdit]:
    return [FileEdit(f, repo.read(f), repo.read(f).replace("one", word)) for f in ("notes/a.txt", "notes/b.txt")]


def _boom(error: BaseException):
    def fail(*_) -> None:
        raise error

    return fail


def _as_found(repo: GitOpsRepo, head: str) -> None:
    """Every file, the index and HEAD as the fixture made them; no journal left behind."""
    assert repo.head() == head
    assert {f: repo.read(f) for f in FILES} == FILES
    assert repo.git("status", "--porcelain", "--untracked-files=all") == ""
    assert not (repo.work / ".git" / recovery.FILE).exists()


def _run(repo: GitOpsRepo, change_of, options: Publish = Publish()) -> Done:
    """``change_of(git)`` run as a command runs it: guard, then publish under the journal."""
    git = GitRepo(repo.work)
    guard(git, ["notes"])

    def apply(dry_run: bool) -> Done:
        return Done(transact(git, change_of(git), dry_run).commit)

    return run_change(git, options, load_config(repo.work), apply, "test")


def test_a_change_is_written_verified_and_committed_with_its_message(repo):
    done = _run(repo, lambda git: file_change(repo.work, edits(repo), lambda: "change notes\n\nAction: test\n"))
    assert done.commit == repo.head()
    assert repo.read("notes/a.txt") == "a: two\n" and repo.read("notes/b.txt") == "b: two\n"
    assert repo.git("log", "-1", "--format=%B").strip() == "change notes\n\nAction: test"
    assert repo.git("status", "--porcelain") == ""


def test_a_failing_write_puts_every_file_back(repo):
    head = repo.head()

    def change_of(git: GitRepo) -> Change:
        change = file_change(repo.work, edits(repo), lambda: "never")
        return replace(change, write=lambda: (change.write(), _boom(GitError("disk full"))()))

    with pytest.raises(GitError, match="disk full"):
        _run(repo, change_of)
    _as_found(repo, head)


@pytest.mark.parametrize("error", [RenderError("site x renders nothing"), KeyboardInterrupt()], ids=["refused", "interrupted"])
def test_a_failing_verify_hook_puts_every_file_back(repo, error):
    head = repo.head()
    with pytest.raises(type(error)):
        _run(repo, lambda git: file_change(repo.work, edits(repo), lambda: "never", verify=_boom(error)))
    _as_found(repo, head)


def test_a_failure_after_the_commit_takes_the_commit_back(repo):
    head = repo.head()
    with pytest.raises(GitError, match="hydrated branch"):
        _run(repo, lambda git: file_change(repo.work, edits(repo), lambda: "taken back", after=_boom(GitError("hydrated branch refused"))))
    _as_found(repo, head)


def test_a_dry_run_leaves_tree_index_refs_and_remote_byte_identical(repo):
    before = snapshot(repo)
    seen = []

    def change_of(git: GitRepo) -> Change:
        return file_change(repo.work, edits(repo), lambda: "never", verify=lambda: seen.append(repo.read("notes/a.txt")))

    done = _run(repo, change_of, Publish(dry_run=True, push=True))
    assert done.commit is None
    assert seen == ["a: two\n"]  # the verify hook saw the change written, as in the real run
    assert snapshot(repo) == before
    assert not (repo.work / ".git" / recovery.FILE).exists()


def test_nothing_to_do_is_a_normal_result(repo):
    before = snapshot(repo)
    git = GitRepo(repo.work)
    assert transact(git, file_change(repo.work, [], lambda: "never")) == Outcome(None)
    done = _run(repo, lambda git: file_change(repo.work, [], lambda: "never"), Publish(push=True))
    assert (done.commit, done.pushed, done.branch) == (None, False, "main")
    assert snapshot(repo)["remote refs"] == before["remote refs"]
    assert repo.head() == before["head"][0]


def test_a_rejected_push_applies_the_change_again_on_the_new_tip(repo):
    other = repo.clone("other")
    attempts = []

    def change_of(git: GitRepo) -> Change:
        attempts.append(git.head())
        if len(attempts) == 1:  # another pipeline lands first, after this run fetched
            (other.work / "notes" / "c.txt").write_text("c\n")
            other.git("add", "notes/c.txt")
            other.git("commit", "--quiet", "-m", "another change")
            other.git("push", "--quiet", "origin", "main")
        return file_change(repo.work, edits(repo), lambda: "change notes\n")

    done = _run(repo, change_of, Publish(push=True))
    assert (done.pushed, done.attempts, done.branch) == (True, 2, "main")
    assert done.commit == repo.remote_head() == repo.head()
    assert git(repo.remote, "log", "--format=%s", "main").split("\n")[:2] == ["change notes", "another change"]
    assert attempts[1] == other.head()  # applied again from intent, on the remote's new tip
    assert repo.read("notes/c.txt") == "c\n" and repo.read("notes/a.txt") == "a: two\n"


def test_the_guard_refuses_a_dirty_tree_before_anything_is_written(repo):
    (repo.work / "notes" / "a.txt").write_text("a: by hand\n")
    with pytest.raises(GitError, match="uncommitted changes under the paths to change: notes/a.txt"):
        _run(repo, lambda git: pytest.fail("planned despite a dirty tree"))
    assert repo.read("notes/a.txt") == "a: by hand\n"
