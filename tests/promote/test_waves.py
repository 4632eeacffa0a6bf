"""Which sites each wave takes: selectors first, then a stable order by sha256(model, site) that differs
between models; cumulative counts and shares rounded up; the last wave takes the rest. And where a
rollout stands: out, soak left, verified, done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gitops_mlops.config.load import Stage, parse_config
from gitops_mlops.config.sites import Site
from gitops_mlops.config.waves import Wave
from gitops_mlops.core.errors import InputError
from gitops_mlops.gitstore.verifications import Verification
from gitops_mlops.promote.waves import assign, order_key, rollout_of, shown_duration

SITES = tuple(Site(f"edge/s-{i:03d}", f"overlays/edge/s-{i:03d}", "edge") for i in range(200))


def stage(*waves: Wave) -> Stage:
    return Stage("edge", waves=waves)


def names(groups) -> list[list[str]]:
    return [[s.name for s in group] for group in groups]


def test_shares_are_cumulative_rounded_up_and_the_last_wave_takes_the_rest():
    groups = assign("m", stage(Wave(count=1), Wave(percent=10), Wave(percent=50), Wave(percent=60)), SITES)
    assert [len(g) for g in groups] == [1, 19, 80, 100]
    assert sorted(n for g in names(groups) for n in g) == sorted(s.name for s in SITES)  # every site once
    ordered = sorted(SITES, key=lambda s: order_key("m", s.name))
    assert names(groups)[0] == [ordered[0].name] and names(groups)[1] == [s.name for s in ordered[1:20]]


def test_the_order_is_stable_for_a_model_and_differs_between_models():
    waves = stage(Wave(percent=5), Wave(percent=100))
    first = names(assign("fraud", waves, SITES))[0]
    assert first == names(assign("fraud", waves, tuple(reversed(SITES))))[0]  # not the order sites are listed in
    assert first != names(assign("churn", waves, SITES))[0]
    assert len(first) == 10


def test_selectors_take_their_sites_first_and_counts_include_them():
    groups = assign("m", stage(Wave(selectors=("edge/s-00*",)), Wave(count=15), Wave(percent=100)), SITES)
    assert names(groups)[0] == [f"edge/s-{i:03d}" for i in range(10)]
    assert len(groups[1]) == 5 and not set(names(groups)[1]) & set(names(groups)[0])
    assert len(groups[2]) == 185


def test_a_small_stage_gives_each_wave_at_least_one_site_while_there_are_some():
    groups = assign("m", stage(Wave(count=1), Wave(percent=10), Wave(percent=50), Wave(percent=100)), SITES[:3])
    assert [len(g) for g in groups] == [1, 1, 1, 0]


def test_a_selector_wave_that_names_no_site_of_the_stage_is_bad_input():
    with pytest.raises(InputError, match=r"x.yaml:4: stage edge wave 1 names no site of the stage \(edge/nowhere\)"):
        assign("m", stage(Wave(selectors=("edge/nowhere",), where="x.yaml:4"), Wave(percent=100)), SITES)


def test_a_rollout_is_out_soaked_and_verified_before_done():
    config = parse_config(
        "models:\n  - name: m\n    repository: quay.io/x/m\nstages:\n  - name: edge\n    waves:\n"
        "      - sites: 1\n        soak: 1h\n      - sites: 100%\n"
        "    checks:\n      - name: up\n        provider: {prometheus: {address: 'http://localhost:9'}}\n        query: up\n        successCondition: 'true'\n"
    )
    sites, digest, t0 = SITES[:4], "sha256:" + "b" * 64, datetime(2026, 1, 1, tzinfo=UTC)
    first = assign("m", config.stages[0], sites)[0][0].name
    running = {s.name: {"sha256:" + "a" * 64} for s in sites} | {first: {digest}}
    ok = Verification("m", first, "edge", digest, "1.4.0", "successful", (), "2026-01-01T01:30:00Z")
    rollout = rollout_of(config, config.model("m"), config.stages[0], digest, sites, running, {first: t0}, {})
    wave = rollout.waves[0]
    assert wave.out and wave.soak_left(t0 + timedelta(minutes=20)) == 2400 and not wave.done(t0 + timedelta(hours=2))  # no verification
    assert "no successful verification" in rollout.blocker(1, t0 + timedelta(hours=2))
    rollout = rollout_of(config, config.model("m"), config.stages[0], digest, sites, running, {first: t0}, {first: ok})
    assert rollout.done_count(t0 + timedelta(hours=2)) == 1 and rollout.next_wave().number == 2 and not rollout.done(t0 + timedelta(hours=2))
    assert rollout.waves[0].last_verification == "successful at 2026-01-01T01:30:00Z"
    stale = Verification("m", first, "edge", digest, "1.4.0", "successful", (), "2025-12-31T23:00:00Z")  # before the digest arrived
    assert (
        not rollout_of(config, config.model("m"), config.stages[0], digest, sites, running, {first: t0}, {first: stale}).waves[0].done(t0 + timedelta(hours=2))
    )


def test_durations_are_shown_briefly():
    assert [shown_duration(s) for s in (0, 59.2, 61, 3600 * 4 + 5, 86400 * 2 + 3600)] == ["0s", "1m", "1m1s", "4h", "2d1h"]


@pytest.mark.parametrize("when", ["2026-01-01T01:30:00", 1767231000, None, ["2026"], "not a time"])
def test_a_verification_record_whose_time_is_not_the_tools_counts_for_nothing(when):
    """A record on the verifications branch is pushed by whoever may push there: a time without a zone, or
    not a string, is no verification since the digest arrived (never a traceback)."""
    config = parse_config(
        "models:\n  - name: m\n    repository: quay.io/x/m\nstages:\n  - name: edge\n    waves:\n"
        "      - sites: 1\n      - sites: 100%\n"
        "    checks:\n      - name: up\n        provider: {prometheus: {address: 'http://localhost:9'}}\n        query: up\n        successCondition: 'true'\n"
    )
    sites, digest, t0 = SITES[:4], "sha256:" + "b" * 64, datetime(2026, 1, 1, tzinfo=UTC)
    first, second = assign("m", config.stages[0], sites)[1][:2]
    running = {s.name: {digest} for s in sites}
    odd = Verification("m", first.name, "edge", digest, "1.4.0", "successful", (), when)
    ok = Verification("m", second.name, "edge", digest, "1.4.0", "successful", (), "2026-01-01T01:30:00Z")
    arrived = {s.name: t0 for s in sites}
    rollout = rollout_of(config, config.model("m"), config.stages[0], digest, sites, running, arrived, {first.name: odd, second.name: ok})
    assert rollout.waves[1].verified == 1 and not rollout.waves[1].done(t0 + timedelta(hours=2))
