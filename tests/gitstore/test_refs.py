"""gitstore.refs: branches moved only from where they were, fetch, and push without force."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_mlops.core.errors import GitError, PushRejected
from gitops_mlops.gitstore.repo import GitRepo
from testing.repos import git
from tests.gitstore.test_commits import _repo


def _clone_pair(tmp_path: Path) -> tuple[Path, Path]:
    """Two clones of one bare remote holding one commit on main."""
    first = _repo(tmp_path / "first", {"a": "1\n"})
    git(first, "branch", "-M", "main")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(first), str(remote))
    git(first, "remote", "add", "origin", str(remote))
    git(first, "fetch", "-q", "origin")
    second = tmp_path / "second"
    git(tmp_path, "clone", "-q", str(remote), str(second))
    return first, second


def test_a_push_after_the_remote_moved_is_rejected_and_retryable(tmp_path):
    first, second = _clone_pair(tmp_path)
    (second / "a").write_text("theirs\n")
    GitRepo(second).commit(["a"], "theirs\n")
    GitRepo(second).push("origin", GitRepo(second).head(), "main")
    (first / "a").write_text("ours\n")
    ours = GitRepo(first).commit(["a"], "ours\n")
    with pytest.raises(PushRejected, match="push to origin/main rejected: the remote branch moved"):
        GitRepo(first).push("origin", ours, "main")
    assert GitRepo(first).fetch("origin", "main") == GitRepo(second).head()


def test_a_missing_remote_branch_is_named_or_none(tmp_path):
    first, _ = _clone_pair(tmp_path)
    repo = GitRepo(first)
    with pytest.raises(GitError, match="remote origin has no branch nope yet"):
        repo.fetch("origin", "nope")
    with pytest.raises(GitError, match="no git remote named 'elsewhere'"):
        repo.fetch("elsewhere", "main")
    assert repo.fetch_if_exists("origin", "nope") is None
    assert repo.remote_branch_sha("origin", "main") == repo.head() and repo.remote_branch_exists("origin", "main")
    assert repo.branch_tip("origin", "nope") is None


def test_set_branch_moves_a_branch_only_from_where_it_was(tmp_path):
    work = _repo(tmp_path, {"a": "1\n"})
    repo = GitRepo(work)
    first = repo.head()
    (work / "a").write_text("2\n")
    second = repo.commit(["a"], "second\n")
    repo.set_branch("side", first, None)
    assert repo.local_branch_exists("side") and repo.is_ancestor(first, second) and not repo.is_ancestor(second, first)
    with pytest.raises(GitError, match="update-ref"):
        repo.set_branch("side", second, second)  # it is at first, not second
    repo.set_branch("side", second, first)
    assert repo.resolve("side") == second and repo.merge_base(first, second) == first
