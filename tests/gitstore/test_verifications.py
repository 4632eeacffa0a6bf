"""Which verification records gate a stage: only those the tool's own commits appended."""

from __future__ import annotations

import json

from gitops_mlops.config.load import load_config
from gitops_mlops.gitstore import verifications
from gitops_mlops.gitstore.repo import GitRepo
from testing.cli import cli
from testing.hostile_git import hand_written_verification
from testing.paths import DIGEST_B
from testing.repos import git, make_gitops_repo


def test_records_written_by_hand_are_ignored_and_listed_by_check(tmp_path):
    repo = make_gitops_repo(tmp_path)
    hand_written_verification(repo, DIGEST_B)
    git_repo, config = GitRepo(repo.work), load_config(repo.work)
    assert verifications.read(git_repo, config, "fraud-detector") == []  # the line is there, but not the tool's
    found = cli("check", "-o", "json", cwd=repo.work)
    assert found.code == 2
    problems = [p for p in json.loads(found.out) if p["check"] == "verifications"]
    assert len(problems) == 1 and "fraud-detector.jsonl but was not made by gitops-mlops" in problems[0]["problem"]


def test_the_tools_own_records_count_and_a_hand_edit_of_one_does_not(tmp_path):
    repo = make_gitops_repo(tmp_path)
    git_repo, config = GitRepo(repo.work), load_config(repo.work)
    record = {"model": "fraud-detector", "site": "datacenter", "stage": "datacenter", "digest": DIGEST_B, "version": "1.4.0"}
    failed = verifications.Verification(**record, verdict="failed", checks=(), at="2030-01-01T00:00:00Z")
    verifications.record(git_repo, config, "fraud-detector", [failed], push=True)
    assert [v.verdict for v in verifications.read(git_repo, config, "fraud-detector")] == ["failed"]
    # by hand: the failed verdict turned into a success, in a commit that copies the tool's trailer
    branch = verifications.BRANCH
    forger = tmp_path / "forger"
    git(tmp_path, "clone", "--quiet", "--branch", branch, str(repo.remote), str(forger))
    path = forger / "fraud-detector.jsonl"
    path.write_text(path.read_text().replace('"failed"', '"successful"'))
    trailer = git(forger, "log", "-1", "--format=%(trailers:key=Records)").strip()
    git(forger, "commit", "--quiet", "-am", f"verify fraud-detector: 1 site(s)\n\n{trailer}")
    git(forger, "push", "--quiet", "origin", branch)
    records = verifications.read(git_repo, config, "fraud-detector", fetch=True)
    assert [v.verdict for v in records] == ["failed"]  # the edit is not an append the trailer accounts for
    assert len(verifications.hand_made(git_repo, config, fetch=True)) == 1


def test_a_record_of_the_tools_shape_with_fields_of_the_wrong_type_is_skipped(tmp_path):
    """Whoever may push to the branch can write a commit of the tool's shape: a line whose site is a list (or
    whose time is a number) is not read, so latest() and the wave gate never meet it."""
    repo = make_gitops_repo(tmp_path)
    git_repo, config = GitRepo(repo.work), load_config(repo.work)
    good = {
        "model": "fraud-detector",
        "site": "datacenter",
        "stage": "datacenter",
        "digest": DIGEST_B,
        "version": "1.4.0",
        "verdict": "successful",
        "checks": (),
    }
    odd = [
        verifications.Verification(**{**good, "site": ["cloud"]}, at="2030-01-01T00:00:00Z"),
        verifications.Verification(**good, at=1893456000),
        verifications.Verification(**{**good, "checks": ("x",)}, at="2030-01-01T00:00:00Z"),
    ]
    verifications.record(git_repo, config, "fraud-detector", [*odd, verifications.Verification(**good, at="2030-01-01T00:00:00Z")], push=False)
    records = verifications.read(git_repo, config, "fraud-detector")
    assert [(v.site, v.at) for v in records] == [("datacenter", "2030-01-01T00:00:00Z")]
    assert list(verifications.latest(records)) == ["datacenter"]
