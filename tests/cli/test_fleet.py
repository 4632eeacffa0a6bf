"""The fleet commands (push, check, add-site, remove-site) as a user runs them: JSON on stdout, one line
per message on stderr, the documented exit codes, a dry run that changes nothing."""

from __future__ import annotations

import json

from testing.cli import cli
from testing.paths import DIGEST_B
from testing.repos import ship, tree_snapshot


def test_check_reports_no_problems_on_the_example(gitops_repo):
    result = cli("check", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    assert json.loads(result.out) == [] and "no problems found" in result.err


def test_check_lists_each_problem_and_exits_2(gitops_repo):
    (gitops_repo.work / "gitops-mlops.yaml").write_text("models: [\n")
    result = cli("check", cwd=gitops_repo.work)
    assert result.code == 2
    assert result.out.strip() and result.err.strip().splitlines()[-1].endswith("found")


def test_add_site_dry_run_prints_the_diff_and_writes_nothing(gitops_repo):
    before = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    result = cli("add-site", "edge/paris-01", "--like", "edge/berlin-01", "--dry-run", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["dryRun"] is True and "overlays/edge/paris-01/kustomization.yaml" in data["diff"]
    assert "dry run: would add site edge/paris-01" in result.err
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == before


def test_add_then_remove_a_site_commits_each_once(gitops_repo):
    head = gitops_repo.head()
    added = cli("add-site", "edge/paris-01", "--like", "edge/berlin-01", cwd=gitops_repo.work)
    assert added.code == 0, added.err
    assert "added site edge/paris-01" in added.err and (gitops_repo.work / "overlays/edge/paris-01/kustomization.yaml").is_file()
    removed = cli("remove-site", "edge/paris-01", "-o", "json", cwd=gitops_repo.work)
    assert removed.code == 0, removed.err
    assert json.loads(removed.out)["site"] == "edge/paris-01"
    assert not (gitops_repo.work / "overlays/edge/paris-01").exists()
    assert gitops_repo.git("rev-list", "--count", f"{head}..HEAD").strip() == "2"


def test_add_site_like_an_unknown_site_is_bad_input(gitops_repo):
    result = cli("add-site", "edge/paris-01", "--like", "edge/nowhere", cwd=gitops_repo.work)
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1


def test_push_publishes_local_commits_and_then_has_nothing_to_push(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    dry = cli("push", "--dry-run", cwd=gitops_repo.work)
    assert dry.code == 0 and "would push 1 commit" in dry.err
    result = cli("push", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    assert gitops_repo.remote_head() == gitops_repo.head() and json.loads(result.out)
    again = cli("push", cwd=gitops_repo.work)
    assert again.code == 0 and "nothing to push" in again.err
