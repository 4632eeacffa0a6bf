"""The rollout command for people: a line per action and one saying where the rollout stands; the status
table gains a row per rollout. (The rollout's behaviour is tested in tests/loop/test_rollout.py.)"""

from __future__ import annotations

from testing.cli import cli
from testing.paths import DIGEST_B
from testing.repos import ship
from tests.promote.test_wavegate import IMAGE, at, with_waves


def test_a_step_says_what_it_did_and_what_it_waits_for(gitops_repo):
    with_waves(gitops_repo)
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    first = cli("rollout", "fraud-detector", IMAGE, "--to", "edge", cwd=gitops_repo.work, env=at(0))
    assert first.code == 0 and first.out == ""
    assert "fraud-detector edge: promoted wave 1/3: 1 site(s) (edge/berlin-01)" in first.err
    assert "fraud-detector edge: in-progress, waves done 0/3" in first.err
    waiting = cli("rollout", "fraud-detector", IMAGE, "--to", "edge", cwd=gitops_repo.work, env=at(0.5))
    assert waiting.code == 0 and "waiting, waves done 0/3: wave 1: soak 30m left\n" in waiting.err
    status = cli("status", "--model", "fraud-detector", cwd=gitops_repo.work, env=at(0.5))
    assert status.code == 0, status.err
    assert "WAVES DONE" in status.out and "wave:1" in status.out
    (line,) = [line for line in status.out.splitlines() if line.startswith("fraud-detector") and "0/3" in line]
    assert line.split()[3:7] == ["0/3", "1/3", "30m", "-"]


def test_watch_steps_until_done(gitops_repo):
    with_waves(gitops_repo, waves="    waves:\n      - sites: 1\n      - sites: 100%\n")
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    result = cli("rollout", "fraud-detector", IMAGE, "--to", "edge", "--watch", "--interval", "1s", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    assert result.err.count("promoted wave") == 2 and result.err.rstrip().endswith(
        "done, waves done 2/2: every wave of edge runs sha256:bbbbbbbbbbbb and is done"
    )


def test_watch_refuses_an_interval_under_a_second_and_writes_nothing(gitops_repo):
    with_waves(gitops_repo)
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    before = gitops_repo.head()
    for interval in ("0s", "10ms"):
        result = cli("rollout", "fraud-detector", IMAGE, "--to", "edge", "--watch", "--interval", interval, cwd=gitops_repo.work)
        assert result.code == 2 and result.err.strip().endswith(f"--interval '{interval}': at least 1s between steps"), result.err
    assert gitops_repo.head() == before
