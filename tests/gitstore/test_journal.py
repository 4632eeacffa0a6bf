"""The journal of a promotion in progress: what the next run undoes, and what it leaves to a person."""

from __future__ import annotations

import json
import subprocess

import pytest

from gitops_mlops.change.intents import PromoteRequest as Request
from gitops_mlops.core.errors import GitError
from gitops_mlops.gitstore import journal as recovery
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.promote.promotion import promote
from testing.paths import DIGEST_B
from testing.repos import tree_snapshot

SITE = "overlays/datacenter/kustomization.yaml"
REQUEST = Request(model="fraud-detector", image=f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}", selectors=("datacenter",))


def _half_done(repo) -> tuple[GitRepo, str]:
    """What a run killed after writing the overlay leaves: its journal, the new bytes, a temp file."""
    git = GitRepo(repo.work)
    before = repo.read(SITE)
    after = before.replace("newTag: 1.0.0", "newTag: 1.3.0")
    recovery.begin(git, [(SITE, before, after)])
    (repo.work / SITE).write_text(after)
    owner = json.loads((git.git_dir / recovery.FILE).read_text())["owner"].split(":")[0]
    (repo.work / "overlays/datacenter" / f".kustomization.yaml.{owner}.abcd.0.tmp").write_text(after[:10])
    return git, before


def test_the_next_promotion_undoes_a_half_done_run_and_lands(gitops_repo):
    git, before = _half_done(gitops_repo)
    result = promote(gitops_repo.work, REQUEST)
    assert result.recovered.startswith("undid an interrupted run") and "restored 1 file(s)" in result.recovered
    assert result.changed == ("datacenter",) and "fraud-detector:1.4.0@" in gitops_repo.read(SITE)
    assert not (git.git_dir / recovery.FILE).exists()
    assert gitops_repo.git("status", "--porcelain", "--untracked-files=all") == ""  # the temp file is gone too


def test_a_file_edited_since_is_left_to_a_person(gitops_repo):
    git, _ = _half_done(gitops_repo)
    (gitops_repo.work / SITE).write_text("# someone's own edit\n")
    snap, head = tree_snapshot(gitops_repo.work), gitops_repo.head()
    with pytest.raises(GitError, match=f"left {SITE} changed and it was edited since"):
        promote(gitops_repo.work, REQUEST)
    assert tree_snapshot(gitops_repo.work) == snap and gitops_repo.head() == head


def test_a_live_run_in_the_same_checkout_is_not_disturbed(gitops_repo):
    git = GitRepo(gitops_repo.work)
    other = subprocess.Popen(["sleep", "30"])
    try:
        before = gitops_repo.read(SITE)
        recovery.begin(git, [(SITE, before, before.replace("newTag: 1.0.0", "newTag: 1.3.0"))])
        path = git.git_dir / recovery.FILE
        data = json.loads(path.read_text())
        data["owner"] = f"{other.pid}:{recovery._start_time(other.pid)}"
        path.write_text(json.dumps(data))
        snap = tree_snapshot(gitops_repo.work)
        with pytest.raises(GitError, match=f"another gitops-mlops run \\(pid {other.pid}\\) is changing this checkout"):
            promote(gitops_repo.work, REQUEST)
        assert tree_snapshot(gitops_repo.work) == snap
    finally:
        other.kill()
        other.wait()
    assert promote(gitops_repo.work, REQUEST).changed == ("datacenter",)  # its owner is gone (reaped): undone


def test_a_stale_journal_after_the_user_moved_on_is_dropped(gitops_repo):
    git, before = _half_done(gitops_repo)
    (gitops_repo.work / SITE).write_text(before)
    gitops_repo.git("commit", "-q", "--allow-empty", "-m", "someone else's work")
    result = promote(gitops_repo.work, REQUEST)
    assert result.recovered == "" and result.changed == ("datacenter",)
    assert not (git.git_dir / recovery.FILE).exists()


def test_an_unreadable_journal_is_named(gitops_repo):
    git = GitRepo(gitops_repo.work)
    (git.git_dir / recovery.FILE).write_text("{not json")
    with pytest.raises(GitError, match="gitops-mlops-journal.json: unreadable"):
        promote(gitops_repo.work, REQUEST)


def test_a_run_of_several_commits_is_undone_whole(gitops_repo):
    """update makes one commit per model and stage: killed after the second, both are dropped."""
    git = GitRepo(gitops_repo.work)
    start = gitops_repo.head()
    edits = {SITE: ("1.0.0", "1.3.0"), "overlays/cloud/kustomization.yaml": ("1.0.0", "1.2.0")}
    for path, (old, new) in edits.items():
        before = gitops_repo.read(path)
        after = before.replace(f"newTag: {old}", f"newTag: {new}", 1)
        note = recovery.begin(git, [(path, before, after)])
        (gitops_repo.work / path).write_text(after)
        recovery.committed(git, note, git.commit([path], f"bump {path}\n"))
    assert gitops_repo.git("rev-list", "--count", f"{start}..HEAD").strip() == "2"
    said = recovery.recover(git)
    assert "dropped its commit" in said
    assert gitops_repo.head() == start and gitops_repo.git("status", "--porcelain") == ""


def test_a_retry_after_a_reset_keeps_every_version_of_its_files(gitops_repo):
    """A push retry resets to the new tip and writes again: killed then, the next run still undoes it."""
    git = GitRepo(gitops_repo.work)
    before = gitops_repo.read(SITE)
    first = before.replace("newTag: 1.0.0", "newTag: 1.3.0")
    note = recovery.begin(git, [(SITE, before, first)])
    (gitops_repo.work / SITE).write_text(first)
    recovery.committed(git, note, git.commit([SITE], "attempt 1\n"))
    gitops_repo.git("reset", "-q", "--keep", "HEAD~1")  # rejected: back to the (here unchanged) tip
    gitops_repo.git("commit", "-q", "--allow-empty", "-m", "another pipeline landed first")
    second = before.replace("newTag: 1.0.0", "newTag: 1.4.0")
    recovery.begin(git, [(SITE, before, second)])
    (gitops_repo.work / SITE).write_text(second)
    head = gitops_repo.head()
    assert recovery.recover(git).startswith("undid an interrupted run")
    assert gitops_repo.head() == head and gitops_repo.read(SITE) == before


def test_a_failed_runs_commit_is_dropped_though_its_files_were_put_back(gitops_repo):
    """A run whose commit landed but whose reset failed (a full disk) may still have put its files back:
    the commit is known by what it holds, not by the work tree."""
    git, before = _half_done(gitops_repo)
    start = gitops_repo.head()
    git.commit([SITE], "the run's commit\n")
    (gitops_repo.work / SITE).write_text(before)  # put back; the reset to its parent had failed
    assert "dropped its commit" in recovery.recover(git)
    assert gitops_repo.head() == start and gitops_repo.read(SITE) == before
    assert gitops_repo.git("status", "--porcelain", "--untracked-files=all") == "" and not (git.git_dir / recovery.FILE).exists()


def test_a_run_that_could_not_be_put_back_keeps_its_journal_and_names_the_command(gitops_repo):
    git, _ = _half_done(gitops_repo)
    error = GitError("git commit: No space left on device")

    def fails() -> None:
        raise OSError(28, "No space left on device")

    recovery.undo(error, lambda: None, fails, lambda: None)
    with pytest.raises(GitError) as raised:
        recovery.finish(git, error, "rollback")
    message = str(raised.value)
    assert message.startswith("git commit: No space left on device; putting the checkout back failed too (No space left on device): ")
    assert "the next 'gitops-mlops rollback' (or any command that writes) undoes this run first" in message and "\n" not in message
    assert (git.git_dir / recovery.FILE).exists()
    assert promote(gitops_repo.work, REQUEST).recovered.startswith("undid an interrupted run")


def test_a_run_that_was_put_back_drops_its_journal(gitops_repo):
    git, before = _half_done(gitops_repo)
    error = GitError("git commit: No space left on device")
    recovery.undo(error, lambda: (gitops_repo.work / SITE).write_text(before))
    recovery.finish(git, error, "promote")  # nothing left to undo: the caller raises the error as it is
    assert not (git.git_dir / recovery.FILE).exists()
