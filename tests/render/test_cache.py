"""The render cache: entries and outputs kept by key, where the settings say (the git directory by
default, shared by linked worktrees; a named directory; off), and a cache that cannot be used or a row
that does not check out is a miss, never an error."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from gitops_mlops.render import cache
from gitops_mlops.render.cache import Entry, RenderCache
from testing.repos import git

OUTPUT = "apiVersion: v1\nkind: ConfigMap\n"
ENTRY = Entry("Deployment/app\tserver\tquay.io/acme/app@sha256:aa\n", hashlib.sha256(OUTPUT.encode()).hexdigest())


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.delenv("GITOPS_MLOPS_RENDER_CACHE", raising=False)  # the default: under the git directory
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    return work


def test_the_default_cache_lives_under_the_git_directory_never_in_the_work_tree(repo):
    assert cache.cache_path(repo) == repo / ".git" / "gitops-mlops" / "renders.sqlite"
    with RenderCache(repo) as c:
        assert c.enabled
        c.store({"k": (ENTRY, OUTPUT)})
    assert (repo / ".git/gitops-mlops/renders.sqlite").is_file()
    assert git(repo, "status", "--porcelain") == ""


def test_a_linked_worktree_shares_the_main_cache(repo):
    git(repo, "commit", "-q", "--allow-empty", "-m", "start")
    git(repo, "worktree", "add", "-q", str(repo.parent / "linked"))
    assert cache.git_common_dir(repo.parent / "linked") == (repo / ".git").resolve()
    assert cache.cache_path(repo.parent / "linked") == (repo / ".git").resolve() / "gitops-mlops" / "renders.sqlite"


def test_a_named_directory_or_off(repo, tmp_path, monkeypatch):
    monkeypatch.setenv("GITOPS_MLOPS_RENDER_CACHE", str(tmp_path / "shared"))
    assert cache.cache_path(repo) == tmp_path / "shared" / "renders.sqlite"
    monkeypatch.setenv("GITOPS_MLOPS_RENDER_CACHE", "off")
    assert cache.cache_path(repo) is None
    with RenderCache(repo) as c:
        assert not c.enabled
        c.store({"k": (ENTRY, OUTPUT)})  # nothing to keep it in: skipped, no error
        assert c.entries(["k"]) == {} and c.meta("x") is None


def test_what_is_stored_is_read_back_by_key(repo):
    with RenderCache(repo) as c:
        c.store({"k1": (ENTRY, OUTPUT), "k2": (ENTRY, None)})
    with RenderCache(repo) as c:
        assert c.entries(["k1", "k2", "missing"]) == {"k1": ENTRY, "k2": ENTRY}
        assert c.outputs(["k1", "k2"]) == {"k1": OUTPUT}  # an entry stored without its output has none


def test_many_keys_are_read_in_chunks(repo):
    with RenderCache(repo) as c:
        c.store({f"k{n}": (ENTRY, None) for n in range(1200)})
        assert len(c.entries([f"k{n}" for n in range(1200)])) == 1200


def test_an_output_that_does_not_match_its_sha_is_a_miss(repo):
    with RenderCache(repo) as c:
        c.store({"k": (Entry(ENTRY.containers, "0" * 64), OUTPUT)})
        assert c.outputs(["k"]) == {}


def test_metas_and_references(repo):
    with RenderCache(repo) as c:
        c.set_metas({"verdict:a": "ok", "verdict:b": "bad", "other": "1"})
        c.drop_metas("verdict:")
        assert c.metas(["verdict:a", "verdict:b", "other"]) == {"other": "1"}
        c.store_references({"sha1": ("../base", "patch.yaml"), "sha2": ()})
        assert c.references() == {"sha1": ("../base", "patch.yaml"), "sha2": ()}


def test_a_cache_of_another_schema_is_dropped_and_made_anew(repo):
    with RenderCache(repo) as c:
        c.store({"k": (ENTRY, OUTPUT)})
    db = sqlite3.connect(cache.cache_path(repo))
    db.execute(f"PRAGMA user_version={cache.SCHEMA + 1}")
    db.close()
    with RenderCache(repo) as c:
        assert c.enabled and c.entries(["k"]) == {}


def test_a_cache_file_that_is_not_a_database_is_skipped(repo):
    path = cache.cache_path(repo)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not sqlite at all" * 100)
    with RenderCache(repo) as c:
        assert not c.enabled and c.entries(["k"]) == {}


def test_clear_removes_the_cache(repo):
    with RenderCache(repo) as c:
        c.store({"k": (ENTRY, OUTPUT)})
    cache.clear(repo)
    assert not cache.cache_path(repo).exists()
    cache.clear(repo)  # twice: nothing to remove is no error
