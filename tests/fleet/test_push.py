"""From local to pushed: the tool's own local commits are published (by `push`, or before a
`promote --push`), replayed on the remote's tip; anything else is refused with the way out.
A pull-request branch is reused when the same change is made again."""

from __future__ import annotations

import json

from testing.cli import cli
from testing.paths import DIGEST_B, DIGEST_C
from testing.repos import pin_at, ship

IMAGE_B = f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}"
IMAGE_C = f"quay.io/example/fraud-detector:1.5.0@{DIGEST_C}"


def test_promote_push_publishes_earlier_local_promotions_first(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")  # committed, not pushed
    ship(gitops_repo, "1.4.0", DIGEST_B, "cloud")
    start = gitops_repo.remote_head()
    result = cli("promote", "fraud-detector", IMAGE_B, "--to", "edge", "--push", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    subjects = gitops_repo.git("log", "--format=%s", f"{start}..{gitops_repo.remote_head()}").splitlines()
    assert subjects == ["promote fraud-detector 1.4.0 to 3 sites", "promote fraud-detector 1.4.0 to cloud", "promote fraud-detector 1.4.0 to datacenter"]
    assert gitops_repo.head() == gitops_repo.remote_head()


def test_push_replays_local_commits_on_a_remote_that_moved(gitops_repo, tmp_path):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    other = gitops_repo.clone("other")
    ship(other, "1.5.0", DIGEST_C, "datacenter", "cloud", push=True, force_order=True)  # lands first, elsewhere
    assert gitops_repo.git("log", "-1", "--format=%s").startswith("promote fraud-detector 1.4.0")
    result = cli("push", "-o", "json", cwd=gitops_repo.work)
    # datacenter's pin was changed by both: the local commit no longer applies, and it says how to go on
    assert result.code == 5 and "does not apply on origin/main" in result.err and "git reset --keep origin/main" in result.err
    assert pin_at(gitops_repo, "datacenter").digest == DIGEST_B  # the checkout is as it was
    gitops_repo.git("reset", "-q", "--keep", "origin/main")
    ship(gitops_repo, "1.5.0", DIGEST_C, "edge/austin-01", force_order=True)  # a change the remote does not have
    ship(other, "1.5.0", DIGEST_C, "edge/berlin-01", push=True, force_order=True)  # and the remote moves again
    result = cli("push", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["pushed"] and len(data["commits"]) == 1 and data["commit"] == gitops_repo.remote_head()
    assert pin_at(gitops_repo, "edge/austin-01").digest == DIGEST_C and pin_at(gitops_repo, "edge/berlin-01").digest == DIGEST_C
    again = cli("push", cwd=gitops_repo.work)
    assert again.code == 0 and "nothing to push" in again.err


def test_a_commit_the_tool_did_not_make_is_not_pushed(gitops_repo):
    (gitops_repo.work / "notes.md").write_text("by hand\n")
    gitops_repo.git("add", "notes.md")
    gitops_repo.git("commit", "-qm", "notes by hand")
    head, remote = gitops_repo.head(), gitops_repo.remote_head()
    for args in (("push",), ("promote", "fraud-detector", IMAGE_B, "--to", "datacenter", "--push")):
        result = cli(*args, cwd=gitops_repo.work)
        assert result.code == 5 and "(notes by hand)" in result.err and "did not make" in result.err, result.err
        assert gitops_repo.head() == head and gitops_repo.remote_head() == remote


def test_the_same_change_on_the_same_branch_reuses_it(gitops_repo):
    args = ("promote", "fraud-detector", IMAGE_B, "--to", "datacenter", "--branch", "promote/fd-1.4.0", "--push", "-o", "json")
    first = cli(*args, cwd=gitops_repo.work)
    assert first.code == 0, first.err
    commit = json.loads(first.out)["commit"]
    gitops_repo.git("checkout", "-q", "main")
    second = cli(*args, cwd=gitops_repo.work)
    assert second.code == 0, second.err
    assert json.loads(second.out)["commit"] == commit and json.loads(second.out)["branch"] == "promote/fd-1.4.0"
    assert gitops_repo.remote_head("promote/fd-1.4.0") == commit
    gitops_repo.git("checkout", "-q", "main")
    gitops_repo.git("branch", "-q", "-D", "promote/fd-1.4.0")  # only on the remote now: still reused
    third = cli(*args, cwd=gitops_repo.work)
    assert third.code == 0 and json.loads(third.out)["commit"] == commit
    gitops_repo.git("checkout", "-q", "main")
    other = cli("promote", "fraud-detector", IMAGE_C, "--to", "datacenter", "--branch", "promote/fd-1.4.0", "--push", cwd=gitops_repo.work)
    assert other.code == 5 and "already exists with another change" in other.err
    assert gitops_repo.git("branch", "--show-current").strip() == "main" and gitops_repo.remote_head("promote/fd-1.4.0") == commit
