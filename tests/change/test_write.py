"""Writing a change's files: each one atomically, symlinks refused before anything is written, and
everything written put back exactly when a later step fails."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from gitops_mlops.change.write import FileEdit, refuse_links, restore, write_all, write_atomic
from gitops_mlops.core.errors import GitError, InputError
from testing.repos import build_tree


@pytest.fixture
def repo(tmp_path):
    build_tree(tmp_path, {"overlays/a/kustomization.yaml": "a: 1\r\n", "overlays/b/kustomization.yaml": "b: 1\n"})
    return tmp_path


def test_write_atomic_replaces_the_bytes_and_keeps_the_mode_and_leaves_no_temp_file(repo):
    path = repo / "overlays/a/kustomization.yaml"
    os.chmod(path, 0o640)
    write_atomic(path, "a: 2\r\n")
    assert path.read_bytes() == b"a: 2\r\n"  # written as given: no newline translation
    assert path.stat().st_mode & 0o777 == 0o640
    assert os.listdir(path.parent) == ["kustomization.yaml"]


def test_write_all_writes_every_edit_and_records_it(repo):
    edits = [FileEdit("overlays/a/kustomization.yaml", "a: 1\r\n", "a: 2\r\n"), FileEdit("overlays/b/kustomization.yaml", "b: 1\n", "b: 2\n")]
    written: list[FileEdit] = []
    write_all(repo, edits, written)
    assert sorted(e.file for e in written) == sorted(e.file for e in edits)
    assert (repo / "overlays/b/kustomization.yaml").read_text() == "b: 2\n"


def test_many_edits_are_written_in_threads_all_the_same(repo):
    files = {f"overlays/s{n}/kustomization.yaml": f"n: {n}\n" for n in range(80)}
    build_tree(repo, files)
    edits = [FileEdit(f, t, t.replace("n:", "m:")) for f, t in files.items()]
    written: list[FileEdit] = []
    write_all(repo, edits, written)
    assert len(written) == 80 and all((repo / f).read_text().startswith("m:") for f in files)


def test_a_symlinked_file_is_refused_before_anything_is_written(repo):
    os.symlink(repo / "overlays/b/kustomization.yaml", repo / "overlays/link.yaml")
    edits = [FileEdit("overlays/a/kustomization.yaml", "a: 1\r\n", "a: 2\r\n"), FileEdit("overlays/link.yaml", "b: 1\n", "b: 9\n")]
    written: list[FileEdit] = []
    with pytest.raises(InputError, match=r"^overlays/link.yaml: is a symlink; edits go to regular files only"):
        write_all(repo, edits, written)
    assert written == [] and (repo / "overlays/a/kustomization.yaml").read_bytes() == b"a: 1\r\n"
    assert (repo / "overlays/b/kustomization.yaml").read_text() == "b: 1\n"


def test_a_missing_file_is_refused_as_not_regular(repo):
    with pytest.raises(InputError, match="overlays/c/kustomization.yaml: is not a regular file"):
        refuse_links(repo, [FileEdit("overlays/c/kustomization.yaml", "", "x")])


@pytest.mark.parametrize(
    "mode",
    [0o555, 0o000, 0o600],
    ids=["folder-not-writable", "folder-no-access", "folder-not-enterable"],
)
def test_a_file_that_cannot_be_written_is_a_git_error_naming_it(mode):
    """Permissions stop the write (a folder that may not be written, or not even entered): one line
    naming the file, not a traceback, and nothing written. Run as root, the write runs as nobody
    (root's permissions stop nothing), in a folder nobody may enter (the tests' own folders are their
    owner's alone)."""
    repo = Path(tempfile.mkdtemp(prefix="unwritable-"))
    os.chmod(repo, 0o755)
    build_tree(repo, {"overlays/b/kustomization.yaml": "b: 1\n"})
    os.chmod(repo / "overlays/b", mode)
    as_nobody = os.geteuid() == 0
    try:
        if as_nobody:
            os.seteuid(65534)
        written: list[FileEdit] = []
        with pytest.raises(GitError, match="^cannot write overlays/b/kustomization.yaml: Permission denied$"):
            write_all(repo, [FileEdit("overlays/b/kustomization.yaml", "b: 1\n", "b: 2\n")], written)
        assert written == []
    finally:
        if as_nobody:
            os.seteuid(0)
        os.chmod(repo / "overlays/b", 0o755)
    assert (repo / "overlays/b/kustomization.yaml").read_text() == "b: 1\n"
    shutil.rmtree(repo)


def test_restore_puts_back_every_file_written(repo):
    edits = [FileEdit("overlays/a/kustomization.yaml", "a: 1\r\n", "a: 2\r\n"), FileEdit("overlays/b/kustomization.yaml", "b: 1\n", "b: 2\n")]
    written: list[FileEdit] = []
    write_all(repo, edits, written)
    restore(repo, written)
    assert (repo / "overlays/a/kustomization.yaml").read_bytes() == b"a: 1\r\n"
    assert (repo / "overlays/b/kustomization.yaml").read_bytes() == b"b: 1\n"


def test_restore_goes_on_after_a_failure_and_raises_the_first(repo):
    edits = [FileEdit("overlays/gone/kustomization.yaml", "x", "y"), FileEdit("overlays/b/kustomization.yaml", "b: 1\n", "b: 2\n")]
    (repo / "overlays/b/kustomization.yaml").write_text("b: 2\n")
    with pytest.raises(GitError, match="cannot put back overlays/gone/kustomization.yaml"):
        restore(repo, edits)
    assert (repo / "overlays/b/kustomization.yaml").read_text() == "b: 1\n"  # the other went back all the same
