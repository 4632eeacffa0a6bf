"""stages[].waves and soak times in gitops-mlops.yaml: selectors, cumulative counts and shares, soak
with days; a wave that names no site, shares that do not increase, a soak that does not parse: file:line."""

from __future__ import annotations

import pytest

from gitops_mlops.config.load import parse_config
from gitops_mlops.config.waves import Wave, parse_soak
from gitops_mlops.core.errors import InputError

HEAD = "models:\n  - name: m\n    repository: quay.io/x/m\nstages:\n  - name: dev\n  - name: edge\n"


def config(edge: str):
    return parse_config(HEAD + edge)


def test_waves_and_soaks_are_read():
    parsed = config(
        "    soak: 1d12h\n"
        "    waves:\n"
        "      - sites: edge/berlin-01\n        soak: 30m\n"
        "      - sites: [edge/a-*, edge/b-*]\n"
        "      - sites: 10\n        soak: 2h\n"
        "      - sites: '50%'\n"
        "      - sites: 100%\n        soak: 1d\n"
    )
    edge = parsed.stages[1]
    assert edge.soak == 36 * 3600
    assert [(w.selectors, w.count, w.percent, w.soak) for w in edge.waves] == [
        (("edge/berlin-01",), 0, 0.0, 1800.0),
        (("edge/a-*", "edge/b-*"), 0, 0.0, 0.0),
        ((), 10, 0.0, 7200.0),
        ((), 0, 50.0, 0.0),
        ((), 0, 100.0, 86400.0),
    ]
    assert edge.waves[0].where == "gitops-mlops.yaml:9"
    assert parsed.stages[0].waves == () and parsed.stages[0].soak == 0


def test_a_stage_without_waves_is_as_before():
    assert config("").stages[1].waves == () and config("").stages[1].soak == 0.0


@pytest.mark.parametrize(
    "edge, says",
    [
        ("    waves:\n      - sites: 0\n", ":8: stage 'edge' wave 1 names no site"),
        ("    waves:\n      - sites: []\n", ":8: stage 'edge' wave 1 names no site"),
        ("    waves:\n      - sites: '0%'\n", "is not a share of the stage"),
        ("    waves:\n      - sites: 120%\n", "is not a share of the stage"),
        ("    waves:\n      - sites: 50%\n      - sites: 20%\n", ":9: stage 'edge' wave 2: 20% does not increase on the 50%"),
        ("    waves:\n      - sites: 5\n      - sites: 5\n", "5 sites does not increase on the 5"),
        ("    waves:\n      - soak: 1h\n", "wave 1 needs 'sites'"),
        ("    waves:\n      - sites: 10%\n        soak: soon\n", ":9: stage 'edge' wave 1: soak 'soon' is not a duration"),
        ("    waves:\n      - sites: 10%\n        soak: 100d\n", "longer than the 90-day limit"),
        ("    waves:\n      - sites: ../x\n", "only site names, group prefixes and globs"),
        ("    waves: []\n", "waves must list at least one wave"),
        ("    waves:\n      - sites: 10%\n        pause: 1h\n", "unknown key 'pause'"),
        ("    soak: 5 minutes\n", ":7: stage 'edge': soak '5 minutes' is not a duration"),
    ],
)
def test_bad_waves_are_bad_input_with_the_line(edge, says):
    with pytest.raises(InputError, match="gitops-mlops.yaml:") as caught:
        config(edge)
    assert says in str(caught.value)


def test_the_first_stage_has_no_soak():
    with pytest.raises(InputError, match="the first stage has none"):
        parse_config(HEAD.replace("  - name: dev\n", "  - name: dev\n    soak: 1h\n"))


def test_soak_takes_days_hours_minutes_and_seconds():
    assert [parse_soak(t, "x") for t in ("30s", "45m", "2h", "1d", "1d12h", "2d30m", "90")] == [30, 2700, 7200, 86400, 129600, 174600, 90]
    for bad in ("", "d", "1w", "-1h", "1h1d"):
        with pytest.raises(InputError):
            parse_soak(bad, "x")


def test_a_wave_describes_itself():
    assert [Wave(selectors=("a", "b")).describe(), Wave(count=3).describe(), Wave(percent=12.5).describe()] == ["a, b", "3 site(s)", "12.5%"]
