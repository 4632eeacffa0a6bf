"""status of a rollout through a stage with waves: waves done, sites at the digest, soak left, the last
verification, halted after a rollback; each site's wave on its row."""

from __future__ import annotations

from gitops_mlops.config.load import load_config
from gitops_mlops.gitstore import verifications
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.views.status import read_status
from testing.cli import cli
from testing.paths import DIGEST_A, DIGEST_B
from testing.repos import ship
from tests.promote.test_wavegate import IMAGE, at, with_waves


def test_a_rollout_soaking_verified_then_halted(gitops_repo, monkeypatch):
    ship(gitops_repo, "1.3.0", DIGEST_A, "datacenter", "cloud", "edge")
    with_waves(gitops_repo)
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    assert cli("promote", "fraud-detector", IMAGE, "--to", "edge", "--wave", "next", cwd=gitops_repo.work, env=at(0)).code == 0
    monkeypatch.setenv("GITOPS_MLOPS_NOW", at(0.5)["GITOPS_MLOPS_NOW"])
    (rollout,) = [r for r in read_status(gitops_repo.work).rollouts if r.model == "fraud-detector"]
    assert (rollout.stage, rollout.waves_done, rollout.waves, rollout.sites_at, rollout.sites) == ("edge", 0, 3, 1, 3)
    assert rollout.soak_left == 1800 and not rollout.halted and rollout.verification == "" and rollout.version == "1.4.0"
    config, git = load_config(gitops_repo.work), GitRepo(gitops_repo.work)
    record = verifications.Verification("fraud-detector", "edge/berlin-01", "edge", DIGEST_B, "1.4.0", "successful", (), at(1.1)["GITOPS_MLOPS_NOW"])
    verifications.record(git, config, "fraud-detector", [record], push=False)
    monkeypatch.setenv("GITOPS_MLOPS_NOW", at(1.2)["GITOPS_MLOPS_NOW"])
    (rollout,) = [r for r in read_status(gitops_repo.work).rollouts if r.model == "fraud-detector"]
    assert rollout.waves_done == 1 and rollout.soak_left == 0 and rollout.verification.startswith("successful at ")  # no checks: done by soak
    rows = {r.site: r.wave for r in read_status(gitops_repo.work, ("fraud-detector",)).rows}
    assert rows["edge/berlin-01"] == 1 and sorted(rows[s] for s in ("edge/austin-01", "edge/singapore-01")) == [2, 3] and rows["cloud"] == 0
    assert cli("rollback", "fraud-detector", "--site", "edge/berlin-01", cwd=gitops_repo.work).code == 0
    (rollout,) = [r for r in read_status(gitops_repo.work).rollouts if r.model == "fraud-detector"]
    assert rollout.halted and rollout.sites_at == 0 and rollout.digest == DIGEST_B


def test_no_rollout_without_waves_or_before_a_promotion(gitops_repo):
    assert read_status(gitops_repo.work).rollouts == ()
    with_waves(gitops_repo)
    assert read_status(gitops_repo.work).rollouts == ()  # nothing promoted to edge by the tool yet
