"""promote --wave: one wave per commit with a Wave: trailer, the next wave only when the one before is
done (every site at the digest, its soak passed by the clock GITOPS_MLOPS_NOW), --all-waves, and
stages[].soak; every refusal changes nothing. On the example repository, edge in three waves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gitops_mlops.config.load import load_config
from gitops_mlops.config.sites import discover_sites
from gitops_mlops.core.imageref import parse_image
from gitops_mlops.promote.plan import Intent
from gitops_mlops.promote.wavegate import read_rollout, stage_named
from testing.cli import cli
from testing.paths import DIGEST_B, DIGEST_C
from testing.repos import GitOpsRepo, make_gitops_repo, pin_at, ship, tree_snapshot

IMAGE = f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}"
WAVES = "    waves:\n      - sites: edge/berlin-01\n        soak: 1h\n      - sites: 50%\n        soak: 30m\n      - sites: 100%\n"


def with_waves(repo: GitOpsRepo, waves: str = WAVES, cloud_soak: str = "", edge_soak: str = "") -> None:
    """Waves (and soak times) on the example config, committed and pushed."""
    path = repo.work / "gitops-mlops.yaml"
    text = path.read_text()
    text = text.replace("  - name: cloud\n", "  - name: cloud\n" + (f"    soak: {cloud_soak}\n" if cloud_soak else ""), 1)
    text = text.replace("  - name: edge\n", "  - name: edge\n" + (f"    soak: {edge_soak}\n" if edge_soak else "") + waves, 1)
    path.write_text(text)
    repo.git("commit", "-qam", "waves")
    repo.git("push", "-q", "origin", "main")


START = datetime.now(UTC)


def at(hours: float) -> dict[str, str]:
    """The clock ``hours`` after the start of the run: the tool's now, and the time git dates its commits."""
    when = (START + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"GITOPS_MLOPS_NOW": when, "GIT_COMMITTER_DATE": when}


def promote(repo: GitOpsRepo, *args: str, hours: float = 0.0):
    return cli("promote", "fraud-detector", IMAGE, "--to", "edge", *args, cwd=repo.work, env=at(hours))


def edge_digests(repo: GitOpsRepo) -> dict[str, str]:
    return {site: pin_at(repo, f"edge/{site}").digest for site in ("austin-01", "berlin-01", "singapore-01")}


def test_waves_go_one_commit_each_once_the_wave_before_has_soaked(gitops_repo):
    with_waves(gitops_repo)
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    first = promote(gitops_repo, "--wave", "next")
    assert first.code == 0, first.err
    assert [s for s, d in edge_digests(gitops_repo).items() if d == DIGEST_B] == ["berlin-01"]
    message = gitops_repo.git("log", "-1", "--format=%B")
    assert "Wave: 1/3" in message and "Sites: edge/berlin-01" in message
    before = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    early = promote(gitops_repo, "--wave", "next", hours=0.5)
    assert early.code == 3 and "wave 1: soak 30m" in early.err  # of the hour, half is left
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == before
    second = promote(gitops_repo, "--wave", "next", hours=1.1)
    assert second.code == 0, second.err
    assert "Wave: 2/3" in gitops_repo.git("log", "-1", "--format=%B")
    assert sum(d == DIGEST_B for d in edge_digests(gitops_repo).values()) == 2
    redo = promote(gitops_repo, "--wave", "2", hours=1.15)  # out already: up to date, whatever wave 1's state
    assert redo.code == 0 and "already up to date" in redo.err
    held = promote(gitops_repo, "--wave", "3", hours=1.4)  # wave 2 went out at 1.1h and soaks 30m
    assert held.code == 3 and "wave 2: soak 12m left" in held.err, held.err
    third = promote(gitops_repo, "--wave", "3", hours=1.7)
    assert third.code == 0, third.err
    assert set(edge_digests(gitops_repo).values()) == {DIGEST_B}
    again = promote(gitops_repo, "--wave", "next", hours=2)
    assert again.code == 0 and "already up to date" in again.err


def test_a_staged_stage_refuses_a_promotion_without_wave_and_takes_all_waves(gitops_repo):
    with_waves(gitops_repo)
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    before = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    refused = promote(gitops_repo)
    assert refused.code == 3 and "--wave next" in refused.err and "--all-waves" in refused.err
    assert cli("promote", "fraud-detector", IMAGE, "--to", "edge/austin-01", cwd=gitops_repo.work).code == 3
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == before
    done = promote(gitops_repo, "--all-waves")
    assert done.code == 0, done.err
    assert set(edge_digests(gitops_repo).values()) == {DIGEST_B}
    assert "Wave:" not in gitops_repo.git("log", "-1", "--format=%B")


def test_bad_wave_requests_are_bad_input_and_change_nothing(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    before = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    plain = cli("promote", "fraud-detector", IMAGE, "--to", "cloud", "--wave", "next", cwd=gitops_repo.work)
    assert plain.code == 2 and "stage cloud has no waves" in plain.err
    with_waves(gitops_repo)
    before = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    for args, says in (
        (("--wave", "4"), "from 1 to 3"),
        (("--wave", "first"), "'next' or a number"),
        (("--wave", "\u00b2"), "'next' or a number"),  # a digit to str.isdigit, not to int()
        (("--wave", "\u0661"), "'next' or a number"),  # int() reads it as 1: no wave is named so
        (("--wave", "9" * 5000), "'next' or a number"),
        (("--wave", "next", "--all-waves"), "choose one"),
    ):
        result = promote(gitops_repo, *args)
        assert result.code == 2 and says in result.err and len(result.err) < 400, result.err
    glob = cli("promote", "fraud-detector", IMAGE, "--to", "edge/b*", "--wave", "next", cwd=gitops_repo.work)
    assert glob.code == 2 and "one whole stage" in glob.err
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == before


def test_the_next_stage_waits_for_every_wave_and_its_own_soak(gitops_repo, monkeypatch):
    with_waves(gitops_repo, waves="    waves:\n      - sites: 1\n      - sites: 100%\n        soak: 2h\n", cloud_soak="1d")
    monkeypatch.setenv("GIT_COMMITTER_DATE", at(0)["GIT_COMMITTER_DATE"])  # the clock of the run, however late the test runs
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    before = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    early = cli("promote", "fraud-detector", IMAGE, "--to", "cloud", cwd=gitops_repo.work, env=at(20))
    assert early.code == 3 and "cloud soak" in early.err and "; 4h left" in early.err, early.err
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == before
    late = cli("promote", "fraud-detector", IMAGE, "--to", "cloud", cwd=gitops_repo.work, env=at(25))
    assert late.code == 0, late.err
    assert promote(gitops_repo, "--wave", "next", hours=25).code == 0
    assert promote(gitops_repo, "--wave", "next", hours=25.5).code == 0
    assert set(edge_digests(gitops_repo).values()) == {DIGEST_B}
    # a stage after edge would wait for the last wave's soak: shown by the rollout's state
    config = load_config(gitops_repo.work)
    intent = Intent(config, config.model("fraud-detector"), parse_image(IMAGE), "1.4.0", (), discover_sites(gitops_repo.work, config))
    rollout = read_rollout(gitops_repo.work, intent, stage_named(config, "edge"))
    now = START + timedelta(hours=26)
    assert rollout.done_count(now) == 1 and not rollout.done(now) and rollout.done(now + timedelta(hours=2))


def test_the_wave_a_promotion_took_is_in_its_json_and_in_history(gitops_repo):
    import json

    with_waves(gitops_repo)
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    first = promote(gitops_repo, "--wave", "next", "-o", "json")
    assert first.code == 0, first.err
    assert json.loads(first.out)["wave"] == "1/3"
    newer = f"quay.io/example/fraud-detector:1.5.0@{DIGEST_C}"
    whole = cli("promote", "fraud-detector", newer, "--to", "datacenter", "-o", "json", cwd=gitops_repo.work)
    assert whole.code == 0 and json.loads(whole.out)["sites"] == ["datacenter"] and json.loads(whole.out)["wave"] is None  # no waves there
    rows = json.loads(cli("history", "fraud-detector", "-o", "json", cwd=gitops_repo.work).out)
    assert [r["wave"] for r in rows[:3]] == [None, "1/3", None]
    site = json.loads(cli("history", "fraud-detector", "--site", "edge/berlin-01", "-o", "json", cwd=gitops_repo.work).out)
    assert site[0]["wave"] == "1/3"
    table = cli("history", "fraud-detector", "-n", "2", cwd=gitops_repo.work).out.splitlines()
    assert "promote wave 1/3" in table[2] and "wave" not in table[1], table


def test_reading_waves_one_to_n_gives_the_states_of_the_whole_read(tmp_path):
    """The fast path of ``promote --wave N`` (only the sites of waves 1..N rendered) against the whole
    read, on generated fleets: every wave layout, at every point of a rollout, for every N."""
    import random

    names = tuple(f"site-{i:02d}" for i in range(9))
    repo = make_gitops_repo(tmp_path, edge_sites=names)
    rng = random.Random(28)
    layouts = [WAVES.replace("berlin-01", "site-03"), "    waves:\n      - sites: 1\n      - sites: 3\n      - sites: 40%\n      - sites: 100%\n"]
    layouts.append("    waves:\n" + "".join(f"      - sites: {p}%\n" for p in sorted(rng.sample(range(5, 95), 3))) + "      - sites: 100%\n")
    ship(repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    for number, waves in enumerate(layouts):
        config_path = repo.work / "gitops-mlops.yaml"
        text = config_path.read_text()
        config_path.write_text(text.replace("  - name: edge\n", "  - name: edge\n" + waves, 1) if number == 0 else text.replace(layouts[number - 1], waves))
        repo.git("commit", "-qam", f"layout {number}")
        order = rng.sample(names, len(names))
        for done in (0, 2, 5, len(names)):
            if done:
                chosen = [arg for name in order[:done] for arg in ("--to", f"edge/{name}")]
                assert cli("promote", "fraud-detector", IMAGE, *chosen, "--all-waves", cwd=repo.work).code == 0
            config = load_config(repo.work)
            intent = Intent(config, config.model("fraud-detector"), parse_image(IMAGE), "1.4.0", (), discover_sites(repo.work, config))
            stage = stage_named(config, "edge")
            whole = read_rollout(repo.work, intent, stage)
            for upto in range(1, len(stage.waves) + 1):
                assert read_rollout(repo.work, intent, stage, upto=upto).waves == whole.waves[:upto]
