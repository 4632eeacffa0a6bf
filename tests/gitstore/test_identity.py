"""Who commits: git's own identity, the author standing in for a committer, or a refusal with the way on."""

from __future__ import annotations

import pytest

from testing.repos import git
from tests.gitstore.test_repo import _repo


def test_no_identity_is_refused_with_the_way_to_set_one(tmp_path, monkeypatch):
    from gitops_mlops.core.errors import InputError
    from gitops_mlops.gitstore.identity import identity_env

    work = _repo(tmp_path, {"a": "a\n"})
    (tmp_path / "empty").write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "empty"))
    monkeypatch.delenv("EMAIL", raising=False)
    with pytest.raises(InputError, match=r"no git identity .*git config --global user.name .*--author"):
        identity_env(work)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "CI")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "ci@example.com")
    assert identity_env(work) == {
        "GIT_AUTHOR_NAME": "CI",
        "GIT_AUTHOR_EMAIL": "ci@example.com",
        "GIT_COMMITTER_NAME": "CI",
        "GIT_COMMITTER_EMAIL": "ci@example.com",
    }
    git(work, "config", "user.name", "Repo Bot")
    git(work, "config", "user.email", "bot@example.com")
    assert identity_env(work)["GIT_COMMITTER_NAME"] == "Repo Bot"  # git's committer stays its own
