"""Repository content is read by type first, inside the repository, and bounded: a symlink that leaves,
a FIFO, a device or a file over the limit is refused with one line naming it, never opened or loaded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitops_mlops.core import repofiles
from gitops_mlops.core.errors import InputError
from testing.repos import build_tree


@pytest.fixture
def repo(tmp_path) -> Path:
    root = tmp_path / "repo"
    build_tree(root, {"base/a.yaml": "a: 1\n", "base/sub/b.yaml": "b: 2\n", "overlays/x/kustomization.yaml": "resources: []\n"})
    (tmp_path / "outside.txt").write_text("secret\n")
    return root.resolve()


def test_a_regular_file_is_read(repo):
    assert repofiles.read_bytes(repo / "base/a.yaml", "base/a.yaml", repo) == b"a: 1\n"


def test_a_symlink_inside_the_repository_is_followed(repo):
    os.symlink(repo / "base/a.yaml", repo / "link.yaml")
    assert repofiles.check(repo / "link.yaml", "link.yaml", repo) == repo / "base/a.yaml"
    assert repofiles.read_bytes(repo / "link.yaml", "link.yaml", repo) == b"a: 1\n"


def test_a_symlink_that_leaves_the_repository_is_refused(repo):
    os.symlink(repo.parent / "outside.txt", repo / "leak.yaml")
    with pytest.raises(InputError, match=r"^leak.yaml: a symlink that leaves the repository$"):
        repofiles.read_bytes(repo / "leak.yaml", "leak.yaml", repo)


def test_a_fifo_is_refused_without_opening_it(repo):
    os.mkfifo(repo / "pipe.yaml")
    with pytest.raises(InputError, match=r"pipe.yaml: is a FIFO, not a regular file"):
        repofiles.read_bytes(repo / "pipe.yaml", "pipe.yaml", repo)  # a read would hang: the test would not end


def test_a_device_reached_by_a_symlink_is_refused_as_leaving(repo):
    os.symlink("/dev/zero", repo / "zero.yaml")
    with pytest.raises(InputError, match="leaves the repository"):
        repofiles.read_bytes(repo / "zero.yaml", "zero.yaml", repo)


def test_a_device_is_named_by_its_kind_when_no_root_bounds_it(tmp_path):
    with pytest.raises(InputError, match="is a character device, not a regular file"):
        repofiles.check(Path("/dev/null"), "null")


def test_a_directory_is_refused(repo):
    with pytest.raises(InputError, match="base: is a directory, not a regular file"):
        repofiles.check(repo / "base", "base", repo)


def test_a_missing_file_is_one_line_naming_it(repo):
    with pytest.raises(InputError, match="nope.yaml: cannot read: No such file or directory"):
        repofiles.read_bytes(repo / "nope.yaml", "nope.yaml", repo)


def test_a_file_over_the_limit_is_refused_not_loaded(repo):
    (repo / "big.yaml").write_bytes(b"x" * 101)
    with pytest.raises(InputError, match=r"big.yaml: 101 bytes is larger than the 100 byte limit"):
        repofiles.read_bytes(repo / "big.yaml", "big.yaml", repo, limit=100)
    assert repofiles.read_bytes(repo / "big.yaml", "big.yaml", repo, limit=101) == b"x" * 101


def test_walk_lists_every_file_in_a_stable_order(repo):
    found = [relative for relative, _, _ in repofiles.walk(repo / "base", repo, "base")]
    assert found == ["a.yaml", "sub/b.yaml"]  # files of a folder first, then its subfolders


def test_walk_follows_a_symlinked_folder_inside_the_repository_where_it_stands(repo):
    os.symlink(repo / "base/sub", repo / "base/alias")
    found = {relative: symlink for relative, _, symlink in repofiles.walk(repo / "base", repo, "base")}
    assert found == {"a.yaml": False, "sub/b.yaml": False, "alias/b.yaml": False}


def test_walk_refuses_a_symlink_that_leaves(repo):
    os.symlink(repo.parent, repo / "base/up")
    with pytest.raises(InputError, match=r"base/up: a symlink that leaves the repository"):
        list(repofiles.walk(repo / "base", repo, "base"))


def test_walk_refuses_a_symlink_loop(repo):
    os.symlink(repo / "base", repo / "base/sub/loop")
    with pytest.raises(InputError, match=r"base/sub/loop: a symlink loop"):
        list(repofiles.walk(repo / "base", repo, "base"))


def test_walk_refuses_more_entries_than_the_limit(repo, monkeypatch):
    monkeypatch.setattr(repofiles, "MAX_TREE_FILES", 2)
    with pytest.raises(InputError, match="more than the 2 entry limit"):
        list(repofiles.walk(repo / "base", repo, "base"))


def test_copy_folder_keeps_symlinks_as_symlinks(repo, tmp_path):
    own = repo / "overlays/x"
    os.symlink(own / "kustomization.yaml", own / "inner.yaml")
    os.symlink(repo / "base/a.yaml", own / "outer.yaml")
    target = tmp_path / "copy"
    repofiles.copy_folder(own, target)
    assert (target / "kustomization.yaml").read_text() == "resources: []\n"
    assert os.readlink(target / "inner.yaml") == str(target / "kustomization.yaml")  # inside: to the copy
    assert os.readlink(target / "outer.yaml") == str(repo / "base/a.yaml")  # outside: where it resolves
