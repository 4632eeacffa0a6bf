"""rollback and release-hold: what a site rendered before, pinned again, and holds that stick."""

from __future__ import annotations

import shlex

import pytest

from gitops_mlops.change.intents import ReleaseHoldRequest, RollbackRequest
from gitops_mlops.core.errors import PolicyError
from gitops_mlops.promote.release_hold import release_hold
from gitops_mlops.promote.rollback import rollback
from testing.cli import cli
from testing.paths import DIGEST_A, DIGEST_B, DIGEST_C
from testing.repos import pin_at, ship, tree_snapshot

REPO = "quay.io/example/fraud-detector"


def test_rollback_pins_the_previous_digest_and_holds_the_bad_one(gitops_repo):
    ship(gitops_repo, "1.3.0", DIGEST_A, "datacenter")
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    result = rollback(gitops_repo.work, RollbackRequest(model="fraud-detector", selectors=("datacenter",)))
    assert result.changed == ("datacenter",)
    assert pin_at(gitops_repo, "datacenter").new_tag == "1.3.0"
    trailers = gitops_repo.git("log", "-1", "--format=%(trailers:only,unfold)")
    assert "Action: rollback" in trailers and "Sites: datacenter" in trailers
    config = gitops_repo.read("gitops-mlops.yaml")
    assert f"digest: {DIGEST_B}" in config and "site: datacenter" in config
    assert gitops_repo.git("show", "--name-only", "--format=", "HEAD").split() == ["gitops-mlops.yaml", "overlays/datacenter/kustomization.yaml"]
    with pytest.raises(PolicyError, match="on hold"):
        ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", force_hold=True)
    assert pin_at(gitops_repo, "datacenter").digest == DIGEST_B


def test_rollback_ignores_stage_order(gitops_repo):
    ship(gitops_repo, "1.3.0", DIGEST_A, "datacenter", "cloud")
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    rollback(gitops_repo.work, RollbackRequest(model="fraud-detector", selectors=("datacenter",)))
    assert pin_at(gitops_repo, "datacenter").new_tag == "1.3.0" and pin_at(gitops_repo, "cloud").new_tag == "1.4.0"


def test_rollback_to_a_named_version(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    ship(gitops_repo, "1.5.0", DIGEST_C, "datacenter")
    rollback(gitops_repo.work, RollbackRequest(model="fraud-detector", selectors=("datacenter",), to="1.4.0"))
    assert pin_at(gitops_repo, "datacenter").digest == DIGEST_B


def test_rollback_to_something_never_deployed_is_bad_input(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    snap = tree_snapshot(gitops_repo.work)
    result = cli("rollback", "fraud-detector", "--site", "datacenter", "--to", "9.9.9", cwd=gitops_repo.work)
    assert result.code == 2 and "never ran at datacenter" in result.err
    assert tree_snapshot(gitops_repo.work) == snap


def test_release_hold_lets_the_digest_through_again(gitops_repo):
    ship(gitops_repo, "1.3.0", DIGEST_A, "datacenter")
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    rollback(gitops_repo.work, RollbackRequest(model="fraud-detector", selectors=("datacenter",)))
    result = release_hold(gitops_repo.work, ReleaseHoldRequest(model="fraud-detector", selectors=("datacenter",)))
    assert len(result.changed) == 1 and "holds: []" in gitops_repo.read("gitops-mlops.yaml")
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    assert pin_at(gitops_repo, "datacenter").digest == DIGEST_B


def test_rollback_cli_with_push(gitops_repo):
    ship(gitops_repo, "1.3.0", DIGEST_A, "datacenter", push=True)
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", push=True)
    result = cli("rollback", "fraud-detector", "--site", "datacenter", "--push", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    import json

    data = json.loads(result.out)
    assert data["pushed"] and gitops_repo.remote_head() == data["commit"] and data["sites"] == ["datacenter"]


def test_rollback_says_it_rolled_back_and_what_it_held_with_a_release_command_that_works(gitops_repo):
    for version, digest in (("1.3.0", DIGEST_A), ("1.4.0", DIGEST_B), ("1.5.0", DIGEST_C)):
        ship(gitops_repo, version, digest, "datacenter", "cloud")
    one = cli("rollback", "fraud-detector", "--site", "datacenter", cwd=gitops_repo.work)
    assert one.code == 0, one.err
    release = f"gitops-mlops release-hold fraud-detector --site datacenter --digest {DIGEST_C}"
    said = f"rolled back fraud-detector at datacenter to 1.4.0 ({DIGEST_B[:19]}); held {DIGEST_C[:19]} there (release with: {release})"
    assert [line for line in one.err.splitlines() if line.startswith("rolled back")] == [said], one.err
    assert "->" not in one.err, one.err  # not the words of a promotion
    both = cli("rollback", "fraud-detector", "--site", "cloud", "--site", "datacenter", "--to", "1.3.0", cwd=gitops_repo.work)
    assert both.code == 0, both.err
    lines = sorted(line for line in both.err.splitlines() if line.startswith("rolled back"))
    assert (
        [line.split(";")[0] for line in lines]
        == [  # one line per (what it went back to, what it held)
            f"rolled back fraud-detector at cloud to 1.3.0 ({DIGEST_A[:19]})",
            f"rolled back fraud-detector at datacenter to 1.3.0 ({DIGEST_A[:19]})",
        ]
    ), both.err
    assert f"held {DIGEST_C[:19]} there" in lines[0] and f"held {DIGEST_B[:19]} there" in lines[1]
    for line in [said, *lines]:  # each suggested command releases its hold
        command = shlex.split(line.split("(release with: ", 1)[1].removesuffix(")"))
        assert command[0] == "gitops-mlops"
        released = cli(*command[1:], cwd=gitops_repo.work)
        assert released.code == 0 and "released 1 hold on fraud-detector" in released.err, released.err
    assert "holds: []" in gitops_repo.read("gitops-mlops.yaml")
    ship(gitops_repo, "1.5.0", DIGEST_C, "datacenter")  # no longer on hold
    assert pin_at(gitops_repo, "datacenter").digest == DIGEST_C


def test_rollback_never_goes_back_to_the_placeholder_init_wrote(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")  # the first real promotion: before it, the placeholder
    snap, remote = tree_snapshot(gitops_repo.work), tree_snapshot(gitops_repo.remote)
    for extra in ((), ("--no-verify",), ("--dry-run",)):
        refused = cli("rollback", "fraud-detector", "--site", "datacenter", *extra, cwd=gitops_repo.work)
        assert refused.code == 3, (extra, refused.err)
        assert refused.err.strip().splitlines()[-1].startswith("error: nothing released to roll back to at datacenter: ")
    assert tree_snapshot(gitops_repo.work) == snap and tree_snapshot(gitops_repo.remote) == remote
    ship(gitops_repo, "1.5.0", DIGEST_C, "datacenter")
    assert cli("rollback", "fraud-detector", "--site", "datacenter", cwd=gitops_repo.work).code == 0  # to 1.4.0, a release
    assert pin_at(gitops_repo, "datacenter").digest == DIGEST_B
