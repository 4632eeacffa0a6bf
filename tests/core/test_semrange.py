"""Stage constraints: semver ranges with space-separated comparators, ||, ^ and ~."""

from __future__ import annotations

import pytest

from gitops_mlops.core.errors import InputError
from gitops_mlops.core.semrange import parse_range, parse_version


def allowed(constraint: str, versions: list[str], prereleases: bool = False) -> list[str]:
    rule = parse_range(constraint)
    return [v for v in versions if rule.allows(parse_version(v), prereleases)]


VERSIONS = ["0.9.0", "1.1.9", "1.2.0", "1.4.0", "1.9.9", "2.0.0-rc.1", "2.0.0", "2.1.3", "3.0.0"]


@pytest.mark.parametrize(
    "constraint,expected",
    [
        ("", ["0.9.0", "1.1.9", "1.2.0", "1.4.0", "1.9.9", "2.0.0", "2.1.3", "3.0.0"]),
        (">=1.2.0 <2.0.0", ["1.2.0", "1.4.0", "1.9.9"]),
        (">1.2.0 <=2.0.0", ["1.4.0", "1.9.9", "2.0.0"]),
        ("=1.4.0", ["1.4.0"]),
        ("1.4.0 || 3.0.0", ["1.4.0", "3.0.0"]),
        ("^1.2.0", ["1.2.0", "1.4.0", "1.9.9"]),
        ("~2.1.0", ["2.1.3"]),
        ("^0.9.0", ["0.9.0"]),
        (">=1.0.0 !=1.4.0 <2.0.0", ["1.1.9", "1.2.0", "1.9.9"]),
        (">= 2.0.0", ["2.0.0", "2.1.3", "3.0.0"]),
    ],
)
def test_ranges(constraint, expected):
    assert allowed(constraint, VERSIONS) == expected


def test_prereleases_only_where_allowed():
    assert allowed(">=2.0.0-0 <3.0.0", VERSIONS) == ["2.0.0", "2.1.3"]
    assert allowed(">=2.0.0-0 <3.0.0", VERSIONS, prereleases=True) == ["2.0.0-rc.1", "2.0.0", "2.1.3"]


def test_leading_v_is_accepted():
    assert parse_version("v1.4.0") == parse_version("1.4.0") and parse_version("latest") is None
    assert allowed(">=v1.4.0", ["1.4.0", "1.3.0"]) == ["1.4.0"]


@pytest.mark.parametrize("bad", [">=1.2", "latest", ">=1.2.0 <<2.0.0", "1.0.0 ||", "=>1.0.0"])
def test_malformed_constraints_name_the_fault(bad):
    with pytest.raises(InputError, match="constraint"):
        parse_range(bad)


def test_a_long_constraint_is_cut_in_the_error():
    with pytest.raises(InputError) as raised:
        parse_range(">=1.0.0 " + "\x1b[31m" * 10_000)
    assert len(str(raised.value)) < 400 and "..." in str(raised.value) and "\x1b" not in str(raised.value)
