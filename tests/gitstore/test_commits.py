"""gitstore.commits: the fast-import path and the porcelain path make the same commit."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_mlops.core.errors import GitError
from gitops_mlops.gitstore.repo import GitRepo
from testing.repos import git


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    work = tmp_path / "work"
    work.mkdir(parents=True)
    git(work, "init", "-q")
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_bytes(text.encode())
    git(work, "add", "-A")
    git(work, "commit", "-qm", "initial")
    return work


def _commit_both_ways(tmp_path: Path, files: dict[str, str], edits: dict[str, str], prepare=lambda work: None) -> tuple[str, str]:
    """Tree ids of the same edit committed through GitRepo.commit and through plain git commit."""
    trees = []
    for name in ("ours", "theirs"):
        work = _repo(tmp_path / name, files)
        prepare(work)
        for path, text in edits.items():
            (work / path).write_bytes(text.encode())
        if name == "ours":
            GitRepo(work).commit(sorted(edits), "edit\n\nAction: promote\n")
        else:
            git(work, "commit", "-qam", "edit")
        assert git(work, "status", "--porcelain") == "", "index and working tree must match HEAD after the commit"
        trees.append(git(work, "rev-parse", "HEAD^{tree}").strip())
    return trees[0], trees[1]


def test_fast_commit_matches_git_commit_and_keeps_history_clean(tmp_path):
    files = {
        f"overlays/edge/s{i}/kustomization.yaml": f"images:\n- name: m\n  digest: sha256:{i}\n" for i in range(120)
    }  # over fast-import's unpack limit (100 objects)
    edits = {path: text.replace("sha256:", "sha256:new") for path, text in files.items()}
    ours, theirs = _commit_both_ways(tmp_path, {**files, "README.md": "x\n"}, edits)
    assert ours == theirs
    work = tmp_path / "ours" / "work"
    assert "packs: 1\n" in git(work, "count-objects", "-v"), "the commit was written as one pack (the fast path)"
    assert "packs: 0\n" in git(tmp_path / "theirs" / "work", "count-objects", "-v")
    assert git(work, "log", "-1", "--format=%B") == "edit\n\nAction: promote\n\n"
    assert git(work, "log", "-1", "--format=%an <%ae>").strip() == "Test Pipeline <pipeline@example.test>"
    assert "commit: edit" in git(work, "reflog", "-1")
    assert git(work, "for-each-ref", "refs/gitops-mlops") == "", "the temporary ref is gone"
    git(work, "fsck", "--strict")


def test_fast_commit_keeps_modes_crlf_and_unusual_paths(tmp_path):
    odd = 'dir with space/"quoted" é\\n.yaml'
    files = {"run.sh": "#!/bin/sh\n", odd: "a: 1\r\n", "plain.yaml": "b: 1\n"}

    def make_executable(work):
        (work / "run.sh").chmod(0o755)
        git(work, "update-index", "--chmod=+x", "run.sh")
        git(work, "commit", "-qm", "exec")

    ours, theirs = _commit_both_ways(tmp_path, files, {"run.sh": "#!/bin/sh\necho\n", odd: "a: 2\r\n"}, make_executable)
    assert ours == theirs
    assert git(tmp_path / "ours" / "work", "ls-tree", "HEAD", "run.sh").startswith("100755")


def test_staged_unrelated_change_stays_staged_and_out_of_the_commit(tmp_path):
    work = _repo(tmp_path, {"a.yaml": "a: 1\n", "b.yaml": "b: 1\n"})
    (work / "b.yaml").write_text("b: 2\n")
    git(work, "add", "b.yaml")
    (work / "a.yaml").write_text("a: 2\n")
    GitRepo(work).commit(["a.yaml"], "edit a\n")
    assert git(work, "show", "--name-only", "--format=", "HEAD").split() == ["a.yaml"]
    assert git(work, "diff", "--cached", "--name-only").split() == ["b.yaml"]


def test_detached_head_commit_moves_head_not_the_branch(tmp_path):
    work = _repo(tmp_path, {"a.yaml": "a: 1\n"})
    main = git(work, "rev-parse", "main").strip()
    git(work, "checkout", "-q", "--detach")
    (work / "a.yaml").write_text("a: 2\n")
    sha = GitRepo(work).commit(["a.yaml"], "edit a\n")
    assert git(work, "rev-parse", "HEAD").strip() == sha
    assert git(work, "rev-parse", "main").strip() == main
    assert git(work, "rev-parse", "HEAD^").strip() == main


def test_commit_hooks_still_run(tmp_path):
    """With a commit hook installed the porcelain path is taken, so the hook runs and can refuse."""
    work = _repo(tmp_path, {"a.yaml": "a: 1\n"})
    hook = work / ".git" / "hooks" / "commit-msg"
    hook.write_text('#!/bin/sh\necho "Signed-off-by: hook" >> "$1"\n')
    hook.chmod(0o755)
    (work / "a.yaml").write_text("a: 2\n")
    GitRepo(work).commit(["a.yaml"], "edit a\n")
    assert "Signed-off-by: hook" in git(work, "log", "-1", "--format=%B")

    hook.write_text("#!/bin/sh\necho refused by policy >&2\nexit 1\n")
    before = git(work, "rev-parse", "HEAD")
    (work / "a.yaml").write_text("a: 3\n")
    with pytest.raises(GitError, match="refused by policy"):
        GitRepo(work).commit(["a.yaml"], "edit again\n")
    assert git(work, "rev-parse", "HEAD") == before


def test_content_filters_take_the_porcelain_path(tmp_path):
    """With eol attributes git normalises content; the commit must hold what git add would store."""
    files = {".gitattributes": "*.yaml text eol=crlf\n", "a.yaml": "a: 1\n"}
    ours, theirs = _commit_both_ways(tmp_path, files, {"a.yaml": "a: 2\r\n"})
    assert ours == theirs
    assert git(tmp_path / "ours" / "work", "cat-file", "-p", "HEAD:a.yaml") == "a: 2\n"


def test_first_commit_of_an_empty_repository(tmp_path):
    work = tmp_path / "fresh"
    work.mkdir()
    git(work, "init", "-q")
    (work / "a.yaml").write_text("a: 1\n")
    sha = GitRepo(work).commit(["a.yaml"], "first\n")
    assert git(work, "rev-parse", "HEAD").strip() == sha
    assert git(work, "status", "--porcelain") == ""


def test_a_deleted_path_is_deleted_in_the_commit_both_ways(tmp_path):
    for name, prepare in (("fast", lambda work: None), ("porcelain", lambda work: (work / ".gitattributes").write_text("*.yaml text\n"))):
        work = _repo(tmp_path / name, {"a.yaml": "a\n", "b.yaml": "b\n"})
        prepare(work)
        (work / "a.yaml").unlink()
        (work / "c.yaml").write_text("c\n")
        GitRepo(work).commit(["a.yaml", "c.yaml"], "swap\n")
        assert git(work, "ls-tree", "--name-only", "HEAD").split() == ["b.yaml", "c.yaml"], name
        assert git(work, "status", "--porcelain", "--", "a.yaml", "c.yaml") == ""
