"""What promote and rollback print (cli/promotion.py), as a user sees it: the change table on stdout,
where it committed on stderr, JSON that is only JSON, a no-op that says so and a dry run's diff."""

from __future__ import annotations

import json

from testing.cli import cli
from testing.paths import DIGEST_A, DIGEST_B
from testing.repos import tree_snapshot

IMAGE = f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}"


def promote(repo, *args: str):
    return cli("promote", "fraud-detector", *args, "--no-verify", cwd=repo.work)


def test_promote_prints_the_change_and_says_where_it_committed(gitops_repo):
    result = promote(gitops_repo, IMAGE, "--to", "datacenter")
    assert result.code == 0, result.err
    assert "datacenter" in result.out and "1.4.0" in result.out
    assert f"fraud-detector 1.4.0 -> 1 site, commit {gitops_repo.head()[:12]}, committed on main" in result.err


def test_promote_json_is_the_result_and_only_json(gitops_repo):
    result = promote(gitops_repo, IMAGE, "--to", "datacenter", "--push", "-o", "json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert (data["sites"], data["commit"], data["pushed"], data["branch"]) == (["datacenter"], gitops_repo.head(), True, "main")
    assert gitops_repo.remote_head() == gitops_repo.head()


def test_promote_again_is_already_up_to_date_with_no_commit(gitops_repo):
    assert promote(gitops_repo, IMAGE, "--to", "datacenter").code == 0
    head = gitops_repo.head()
    again = promote(gitops_repo, IMAGE, "--to", "datacenter")
    assert again.code == 0 and "already up to date" in again.err and gitops_repo.head() == head


def test_a_dry_run_prints_the_diff_and_changes_nothing(gitops_repo):
    before = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    result = promote(gitops_repo, IMAGE, "--to", "datacenter", "--dry-run")
    assert result.code == 0, result.err
    assert DIGEST_B in result.out and "+" in result.out
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == before


def test_rollback_says_it_rolled_back_and_what_it_holds(gitops_repo):
    assert promote(gitops_repo, f"quay.io/example/fraud-detector:1.3.0@{DIGEST_A}", "--to", "datacenter").code == 0
    assert promote(gitops_repo, IMAGE, "--to", "datacenter").code == 0
    result = cli("rollback", "fraud-detector", "--site", "datacenter", "--no-verify", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    assert f"rolled back fraud-detector at datacenter to 1.3.0 ({DIGEST_A[:19]})" in result.err, result.err
    assert f"gitops-mlops release-hold fraud-detector --site datacenter --digest {DIGEST_B}" in result.err
    assert f"commit {gitops_repo.head()[:12]}, committed on main" in result.err
