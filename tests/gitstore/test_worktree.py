"""gitstore.worktree: the work tree and index of a checkout."""

from __future__ import annotations

import os

import pytest

from gitops_mlops.core.errors import GitError
from gitops_mlops.gitstore.repo import GitRepo
from testing.repos import git
from tests.gitstore.test_commits import _repo


def test_reset_keep_moves_past_files_that_were_only_touched_and_keeps_real_changes(tmp_path):
    work = _repo(tmp_path, {"a": "1\n", "b": "1\n", "c": "1\n"})
    first = git(work, "rev-parse", "HEAD").strip()
    (work / "a").write_text("2\n")
    (work / "b").write_text("2\n")
    git(work, "commit", "-qam", "second")
    for name in ("a", "b"):
        os.utime(work / name, (1_000_000_000, 1_000_000_000))  # same bytes, another time: the index is stale
    (work / "c").write_text("mine\n")
    GitRepo(work).reset_keep(first)
    assert git(work, "rev-parse", "HEAD").strip() == first
    assert (work / "a").read_text() == "1\n" and (work / "c").read_text() == "mine\n"
    (work / "a").write_text("edited\n")
    with pytest.raises(GitError, match="reset"):  # a real local change to a file the reset moves: refused, kept
        GitRepo(work).reset_keep(git(work, "rev-parse", "main@{1}").strip())
    assert (work / "a").read_text() == "edited\n"


def test_dirty_names_changed_and_untracked_paths_under_the_given_ones(tmp_path):
    work = _repo(tmp_path, {"a/x.yaml": "1\n", "b/y.yaml": "1\n"})
    (work / "a/x.yaml").write_text("2\n")
    (work / "b/new.yaml").write_text("new\n")
    repo = GitRepo(work)
    assert sorted(repo.dirty()) == ["a/x.yaml", "b/new.yaml"]
    assert repo.dirty(["a"]) == ["a/x.yaml"]
    many = [f"b/{i}" for i in range(70)] + ["b"]  # past 64 pathspecs: one walk, filtered here
    assert repo.dirty(many) == ["b/new.yaml"]


def test_a_merge_in_progress_is_refused_by_name(tmp_path):
    work = _repo(tmp_path, {"a": "1\n"})
    repo = GitRepo(work)
    repo.refuse_in_progress()
    (repo.git_dir / "MERGE_HEAD").write_text(git(work, "rev-parse", "HEAD"))
    with pytest.raises(GitError, match=r"a merge is in progress .*'git merge --abort'"):
        repo.refuse_in_progress()


def test_restore_paths_puts_back_what_head_has(tmp_path):
    work = _repo(tmp_path, {"a": "1\n", "b": "1\n"})
    (work / "a").write_text("2\n")
    (work / "b").write_text("2\n")
    GitRepo(work).restore_paths(["a"])
    assert (work / "a").read_text() == "1\n" and (work / "b").read_text() == "2\n"
