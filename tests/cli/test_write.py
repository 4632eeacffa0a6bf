"""The write commands (init, promote, update, rollback, release-hold) as a user runs them: the result
as JSON on stdout or a table, messages on stderr, the documented exit codes, and a refusal or a dry run
that changes nothing."""

from __future__ import annotations

import json

import pytest

from testing.cli import cli
from testing.paths import DIGEST_A, DIGEST_B
from testing.repos import point_models_at, tree_snapshot

IMAGE = f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}"


def promote(repo, *args: str):
    return cli("promote", "fraud-detector", *args, "--no-verify", cwd=repo.work)


def test_init_writes_the_example_layout_in_one_commit(tmp_path):
    result = cli("init", str(tmp_path / "new"))
    assert result.code == 0, result.err
    assert (tmp_path / "new/gitops-mlops.yaml").is_file() and (tmp_path / "new/overlays/datacenter/kustomization.yaml").is_file()
    assert cli("validate", "--repo", str(tmp_path / "new")).code == 0


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((IMAGE, "--to", "cloud"), 3),  # the stage gate
        ((f"quay.io/example/demand-forecast:1.4.0@{DIGEST_B}", "--to", "datacenter"), 3),  # another model's image
        ((IMAGE, "--to", "nowhere"), 2),
        (("quay.io/example/fraud-detector:1.4.0@sha256:short", "--to", "datacenter"), 2),
        ((IMAGE, "--to", "datacenter", "--branch", "a..b"), 2),
    ],
)
def test_a_refusal_is_one_line_with_its_exit_code_and_changes_nothing(gitops_repo, args, code):
    before = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    result = promote(gitops_repo, *args)
    assert result.code == code, result.err
    assert len(result.err.strip().splitlines()) == 1 and result.out == ""
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == before


def test_rollback_then_release_hold(gitops_repo):
    assert promote(gitops_repo, f"quay.io/example/fraud-detector:1.3.0@{DIGEST_A}", "--to", "datacenter").code == 0
    assert promote(gitops_repo, IMAGE, "--to", "datacenter").code == 0
    back = cli("rollback", "fraud-detector", "--site", "datacenter", "--no-verify", "-o", "json", cwd=gitops_repo.work)
    assert back.code == 0, back.err
    assert json.loads(back.out)["action"] == "rollback" and "release-hold fraud-detector" in back.err
    refused = promote(gitops_repo, IMAGE, "--to", "datacenter")
    assert refused.code == 3 and "on hold at datacenter" in refused.err
    released = cli("release-hold", "fraud-detector", "--site", "datacenter", "-o", "json", cwd=gitops_repo.work)
    assert released.code == 0, released.err
    assert promote(gitops_repo, IMAGE, "--to", "datacenter").code == 0


def test_update_with_its_registry_unreachable_is_exit_6_and_changes_nothing(gitops_repo):
    point_models_at(gitops_repo, "127.0.0.1:9", "nobody")  # a loopback port nothing listens on
    before = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    result = cli("update", cwd=gitops_repo.work)
    assert result.code == 6 and "127.0.0.1:9" in result.err and len(result.err.strip().splitlines()) == 1
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == before
