"""A model's promotion and rollback records with their committer time, and when a digest arrived at each
site (a rollback after the promotion means it left)."""

from __future__ import annotations

from datetime import UTC, datetime

from gitops_mlops.gitstore.promotions import arrivals, records
from gitops_mlops.gitstore.repo import GitRepo
from testing.cli import cli
from testing.paths import DIGEST_A, DIGEST_B, DIGEST_C
from testing.repos import git, ship


def test_records_carry_the_committer_time_and_arrivals_follow_the_newest_record(gitops_repo, monkeypatch):
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-03-01T10:00:00Z")
    ship(gitops_repo, "1.3.0", DIGEST_A, "datacenter", "cloud")
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-03-02T10:00:00Z")
    ship(gitops_repo, "1.5.0", DIGEST_C, "datacenter")
    assert cli("rollback", "fraud-detector", "--site", "cloud", cwd=gitops_repo.work).code == 0
    found = records(GitRepo(gitops_repo.work), "fraud-detector")
    assert [r.record.action for r in found] == ["rollback", "promote", "promote", "promote", "promote", "promote"]
    assert found[1].committed == datetime(2026, 3, 2, 10, tzinfo=UTC) and found[1].digests() == {"datacenter": DIGEST_C}
    assert arrivals(found, DIGEST_B, {"datacenter", "cloud"}) == {}  # datacenter moved on; cloud was rolled back
    assert arrivals(found, DIGEST_C, {"datacenter", "cloud"}) == {"datacenter": datetime(2026, 3, 2, 10, tzinfo=UTC)}
    assert records(GitRepo(gitops_repo.work), "demand-forecast") == []


def test_a_commit_message_holding_the_log_separators_is_read_past(gitops_repo):
    ship(gitops_repo, "1.3.0", DIGEST_A, "datacenter")
    message = "promote\x1e half\x1f way\n\nModel: fraud-detector\nModel-Version: 9\nImage: x@" + DIGEST_B + "\nSites: cloud\nAction: promote\n"
    git(gitops_repo.work, "commit", "-q", "--allow-empty", "-m", message)
    found = records(GitRepo(gitops_repo.work), "fraud-detector")
    assert [r.digests() for r in found[:2]] == [{"cloud": DIGEST_B}, {"datacenter": DIGEST_A}]


def test_a_release_commit_is_a_record_of_each_member(gitops_repo):
    block = "Model: {m}\nModel-Version: 1.0.0\nImage: quay.io/example/{m}:1.0.0@{d}\nSites: datacenter\n"
    message = "promote release\n\nRelease: fraud\n" + block.format(m="fraud-detector", d=DIGEST_A) + block.format(m="openvino-model-server", d=DIGEST_B)
    git(gitops_repo.work, "commit", "-q", "--allow-empty", "-m", message + "Action: promote\n")
    for model, digest in (("fraud-detector", DIGEST_A), ("openvino-model-server", DIGEST_B)):
        found = records(GitRepo(gitops_repo.work), model)
        assert found[0].record.model == model and found[0].digests() == {"datacenter": digest}
