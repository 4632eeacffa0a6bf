"""The hostile catalogue's fixtures: one pristine clone and remote, copied fresh for each case."""

from __future__ import annotations

import shutil

import pytest

from testing.repos import GitOpsRepo, git, make_gitops_repo


@pytest.fixture(scope="package")
def pristine(tmp_path_factory):
    return make_gitops_repo(tmp_path_factory.mktemp("pristine"))


@pytest.fixture
def fresh(pristine, tmp_path) -> GitOpsRepo:
    """A copy of the pristine clone and remote (faster than building one per case)."""
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    shutil.copytree(pristine.remote, remote, symlinks=True)
    shutil.copytree(pristine.work, work, symlinks=True)
    git(work, "remote", "set-url", "origin", str(remote))
    return GitOpsRepo(work=work, remote=remote)
