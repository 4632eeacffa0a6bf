"""rollout: a digest through the waves of edge against a real Prometheus on loopback, the clock set by
GITOPS_MLOPS_NOW: a wave at a time, each verified once it has soaked; a failed check rolls the changed
sites back in one commit, holds the digest and stops (exit 3); run again it continues from Git."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from gitops_mlops.config.load import load_config
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.gitstore.verifications import read
from testing.cli import cli
from testing.paths import DIGEST_A, DIGEST_B
from testing.prometheus_server import running
from testing.repos import GitOpsRepo, pin_at, ship, tree_snapshot
from tests.promote.test_wavegate import with_waves

IMAGE = f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}"
EDGE = ("edge/austin-01", "edge/berlin-01", "edge/singapore-01")
SERIES = [
    *(("good_latency_seconds", {"site": s.split("/")[1]}, [0.1]) for s in EDGE),
    ("bad_latency_seconds", {"site": "berlin-01"}, [0.1]),
    ("bad_latency_seconds", {"site": "austin-01"}, [0.5]),
    ("bad_latency_seconds", {"site": "singapore-01"}, [0.5]),
]
START = datetime.now(UTC)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    with running(tmp_path_factory.mktemp("prometheus"), SERIES) as server:
        yield server


def at(hours: float) -> dict[str, str]:
    when = (START + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"GITOPS_MLOPS_NOW": when, "GIT_COMMITTER_DATE": when}


def staged(repo: GitOpsRepo, address: str, metric: str) -> None:
    """1.3.0 everywhere, 1.4.0 at datacenter and cloud; edge in three waves (a 1h soak first) with a latency check."""
    ship(repo, "1.3.0", DIGEST_A, "datacenter", "cloud", "edge")
    ship(repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    check = (
        "    checks:\n      - name: latency\n"
        f"        provider: {{prometheus: {{address: '{address}'}}}}\n"
        f"        query: '{metric}{{site=~\"{{{{args.site}}}}\"}}'\n"
        "        successCondition: 'max(result) < 0.25'\n"
    )
    with_waves(repo, waves=check + "    waves:\n      - sites: edge/berlin-01\n        soak: 1h\n      - sites: 50%\n      - sites: 100%\n")
    repo.git("push", "-q", "origin", "main")


def rollout(repo: GitOpsRepo, *args: str, hours: float):
    return cli("rollout", "fraud-detector", IMAGE, "--to", "edge", "--push", *args, cwd=repo.work, env=at(hours))


def edge(repo: GitOpsRepo) -> dict[str, str]:
    return {site: pin_at(repo, site).digest for site in EDGE}


def test_each_step_promotes_a_wave_once_the_one_before_soaked_and_verified(gitops_repo, prometheus):
    staged(gitops_repo, prometheus.address, "good_latency_seconds")
    first = rollout(gitops_repo, "-o", "json", hours=0)
    assert first.code == 0, first.err
    data = json.loads(first.out)
    assert (data["state"], data["wavesDone"], data["waves"]) == ("in-progress", 0, 3) and data["actions"][0].startswith("promoted wave 1/3")
    assert [s for s, d in edge(gitops_repo).items() if d == DIGEST_B] == ["edge/berlin-01"]
    assert gitops_repo.head() == gitops_repo.remote_head()
    before = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    waiting = rollout(gitops_repo, "-o", "json", hours=0.5)
    assert waiting.code == 0 and json.loads(waiting.out)["state"] == "waiting" and "soak 30m left" in json.loads(waiting.out)["reason"]
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == before  # nothing to do: nothing written
    second = rollout(gitops_repo, "-o", "json", hours=1.1)
    assert second.code == 0, second.err
    assert json.loads(second.out)["actions"] == ["verified wave 1: 1 site(s) successful", json.loads(second.out)["actions"][1]]
    assert "promoted wave 2/3" in json.loads(second.out)["actions"][1]
    (record,) = read(GitRepo(gitops_repo.work), load_config(gitops_repo.work), "fraud-detector")
    assert (record.site, record.verdict, record.digest) == ("edge/berlin-01", "successful", DIGEST_B)
    watched = rollout(gitops_repo, "--watch", "--interval", "1s", hours=2)
    assert watched.code == 0, watched.err
    assert "done, waves done 3/3" in watched.err
    assert set(edge(gitops_repo).values()) == {DIGEST_B}
    waves = [line for line in gitops_repo.git("log", "--format=%(trailers:key=Wave,valueonly)").split() if line]
    assert waves == ["3/3", "2/3", "1/3"]
    head = gitops_repo.head()
    again = rollout(gitops_repo, hours=3)
    assert again.code == 0 and "done" in again.err and gitops_repo.head() == head


def test_a_failed_check_rolls_the_changed_sites_back_holds_the_digest_and_stops(gitops_repo, prometheus):
    staged(gitops_repo, prometheus.address, "bad_latency_seconds")
    assert rollout(gitops_repo, hours=0).code == 0
    assert rollout(gitops_repo, hours=1.1).code == 0  # berlin-01 verified; wave 2 goes
    changed = [s for s, d in edge(gitops_repo).items() if d == DIGEST_B]
    assert len(changed) == 2
    failed = rollout(gitops_repo, "-o", "json", hours=1.2)
    assert failed.code == 3, failed.err
    data = json.loads(failed.out)
    assert data["state"] == "halted" and "check latency failed" in data["reason"] and sorted(data["rolledBack"]) == changed
    assert set(edge(gitops_repo).values()) == {DIGEST_A}
    message = gitops_repo.git("log", "-1", "--format=%B")
    assert "Action: rollback" in message and "Reason: rollout of sha256:bbbbbbbbbbbb to edge: check latency failed" in message
    assert gitops_repo.head() == gitops_repo.remote_head()
    assert sorted(h["site"] for h in _holds(gitops_repo)) == changed
    before = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    again = rollout(gitops_repo, "-o", "json", hours=2)
    assert again.code == 3 and json.loads(again.out)["state"] == "halted" and "release-hold" in json.loads(again.out)["reason"]
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == before


def _holds(repo: GitOpsRepo) -> list[dict]:
    result = cli("holds", "-o", "json", cwd=repo.work)
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_bad_requests_are_refused_and_change_nothing(gitops_repo, prometheus):
    staged(gitops_repo, prometheus.address, "good_latency_seconds")
    before = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    for args, code, says in (
        (("fraud-detector", "quay.io/example/fraud-detector:1.4.0", "--to", "edge"), 2, "has no digest"),
        (("fraud-detector", IMAGE, "--to", "cloud"), 2, "stage cloud has no waves"),
        (("fraud-detector", IMAGE, "--to", "moon"), 2, "moon"),
        (("fraud-detector", IMAGE, "--to", "edge", "--interval", "soon", "--watch"), 2, "--interval"),
        (("fraud-detector", f"quay.io/example/fraud-detector:1.5.0@{DIGEST_A[:-1]}c", "--to", "edge"), 3, "stage order"),
    ):
        result = cli("rollout", *args, cwd=gitops_repo.work, env=at(0))
        assert result.code == code and says in result.err, (args, result.err)
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == before


def test_a_pushing_step_reads_what_others_pushed_since(gitops_repo, prometheus):
    """Another checkout rolls berlin-01 back (and holds the digest) after the first wave: the rollout sees it."""
    staged(gitops_repo, prometheus.address, "good_latency_seconds")
    assert rollout(gitops_repo, hours=0).code == 0
    other = gitops_repo.clone("other")
    assert cli("rollback", "fraud-detector", "--site", "edge/berlin-01", "--push", cwd=other.work).code == 0
    halted = rollout(gitops_repo, "-o", "json", hours=2)
    assert halted.code == 3 and json.loads(halted.out)["state"] == "halted"
    assert gitops_repo.head() == gitops_repo.remote_head() == other.head()


def test_a_release_member_rolls_out_alone_only_with_member_only(gitops_repo, prometheus):
    staged(gitops_repo, prometheus.address, "good_latency_seconds")
    config = gitops_repo.work / "gitops-mlops.yaml"
    config.write_text(config.read_text() + "releases:\n  - name: fraud\n    members: [fraud-detector, demand-forecast]\n")
    gitops_repo.git("commit", "-qam", "a release")
    gitops_repo.git("push", "-q", "origin", "main")
    before = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    refused = rollout(gitops_repo, hours=0)
    assert refused.code == 3 and "member of release 'fraud'" in refused.err and "--member-only" in refused.err, refused.err
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == before
    alone = rollout(gitops_repo, "--member-only", "-o", "json", hours=0)
    assert alone.code == 0, alone.err
    assert json.loads(alone.out)["actions"][0].startswith("promoted wave 1/3")
    assert [s for s, d in edge(gitops_repo).items() if d == DIGEST_B] == ["edge/berlin-01"]
