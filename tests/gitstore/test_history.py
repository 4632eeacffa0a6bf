"""gitstore.history: commits with their trailers, and files at a commit, read in one git process."""

from __future__ import annotations

from gitops_mlops.gitstore.repo import GitRepo
from tests.gitstore.test_commits import _repo


def test_log_trailers_and_log_changes_read_each_commit_with_its_trailers(tmp_path):
    work = _repo(tmp_path, {"a/x": "1\n", "b/y": "1\n"})
    repo = GitRepo(work)
    (work / "a/x").write_text("2\n")
    sha = repo.commit(["a/x"], "promote x\n\nModel: x\nAction: promote\n")
    (work / "b/y").write_text("2\n")
    repo.commit(["b/y"], "other\n")
    found = repo.log_trailers("HEAD", grep=["^Model: x$"])
    assert [(c.sha, c.subject, c.trailers) for c in found] == [(sha, "promote x", (("Model", "x"), ("Action", "promote")))]
    changes = repo.log_changes("HEAD", ["a"])
    assert [(c.sha, changed) for c, changed, _ in changes[:1]] == [(sha, ("a/x",))]
    assert len(changes[0][2][0]) == 40 and len(repo.log_trailers("HEAD", limit=1, skip=1)) == 1


def test_files_at_a_commit_leave_missing_ones_out(tmp_path):
    work = _repo(tmp_path, {"a": "one\n", "b": "two\n"})
    repo = GitRepo(work)
    head = repo.head()
    assert repo.show_files(head, ["a", "missing", "b"]) == {"a": "one\n", "b": "two\n"}
    assert repo.existing([f"{head}:a", f"{head}:missing"]) == {f"{head}:a"}
    assert repo.paths_at(head, ["a", "missing"]) == ["a"] and repo.show_file(head, "missing") is None
    repo.extract(head, ["a"], tmp_path / "out")
    assert (tmp_path / "out" / "a").read_text() == "one\n"


def test_separators_and_shas_written_into_a_commit_cannot_shift_a_field(tmp_path):
    """A commit message or author name is free text: the log's old separators (\\x1e, \\x1f), a
    line that looks like a sha or a raw diff entry are read as the text they are."""
    work = _repo(tmp_path, {"a/x": "1\n"})
    repo = GitRepo(work)
    fake = "f" * 40
    shas = []
    for n, message in enumerate(
        [f"note\x1e x\x1f {fake}\n\nModel: x\nAction: promote\n", f"{fake}\n\n:100644 100644 {fake} {fake} M\n\nModel: x\nAction: rollback\n"]
    ):
        (work / "a/x").write_text(f"{n + 2}\n")
        shas.append(repo.commit(["a/x"], message))
    found = repo.log_trailers("HEAD", grep=["^Model: x$"])
    assert [(c.sha, c.subject, c.trailers) for c in found] == [
        (shas[1], fake, (("Model", "x"), ("Action", "rollback"))),
        (shas[0], f"note\x1e x\x1f {fake}", (("Model", "x"), ("Action", "promote"))),
    ]
    changes = repo.log_changes("HEAD", ["a"])
    assert [(c.sha, changed) for c, changed, _ in changes] == [(shas[1], ("a/x",)), (shas[0], ("a/x",)), (repo.log_trailers("HEAD")[-1].sha, ("a/x",))]
    assert [c.trailers for c, _, _ in changes[:2]] == [c.trailers for c in found]
