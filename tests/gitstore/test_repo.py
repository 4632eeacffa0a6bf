"""gitstore.repo: GitRepo holds every role of a checkout under the names callers have always used."""

from __future__ import annotations

from gitops_mlops.gitstore import commits, history, refs, runner, worktree
from gitops_mlops.gitstore.repo import GitRepo, Trailered, _quote_path, git_version, redact
from tests.gitstore.test_commits import _repo


def test_git_repo_is_every_role_of_one_checkout(tmp_path):
    repo = GitRepo(_repo(tmp_path, {"a": "1\n"}))
    for role in (worktree.WorkTree, commits.Commits, refs.Refs, history.History, runner.GitRunner):
        assert isinstance(repo, role)
    assert repo.branch() and repo.head() == repo.resolve("HEAD") and repo.dirty() == []


def test_the_names_callers_import_from_repo_stay():
    assert Trailered is history.Trailered and redact is runner.redact and _quote_path is runner.quote_path
    assert git_version().startswith("git version")
