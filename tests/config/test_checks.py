"""Checks: durations, query arguments, and conditions evaluated without running code."""

from __future__ import annotations

import math

import pytest

from gitops_mlops.config.checks import compile_condition, evaluate, parse_duration, render_query
from gitops_mlops.core.errors import InputError


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("1h30m", 5400), ("500ms", 0.5), ("0s", 0), ("90", 90)])
def test_durations(text, seconds):
    assert parse_duration(text, "x") == seconds


@pytest.mark.parametrize("text", ["", "soon", "5 m", "1d", "m5"])
def test_bad_durations_are_bad_input(text):
    with pytest.raises(InputError, match="is not like 30s"):
        parse_duration(text, "check 'latency' interval")


def test_query_arguments_are_filled_in():
    assert render_query('up{model="{{args.model}}", site=~"{{ args.site }}"}', {"model": "m", "site": "a|b"}) == 'up{model="m", site=~"a|b"}'


@pytest.mark.parametrize(
    ("condition", "result", "expected"),
    [
        ("result[0] < 0.25", [0.1], True),
        ("result[0] < 0.25 && len(result) == 1", [0.1, 0.2], False),
        ("result[0] > 0.3 || result[1] > 0.3", [0.1, 0.4], True),
        ("!(result[0] >= 0.95)", [0.9], True),
        ("result[0] != 0", [0.0], False),
        ("max(result) < 0.25", [0.1, math.nan], False),  # NaN poisons min and max
        ("isNaN(result[0])", [math.nan], True),
        ("mean(result) < 2", [1.0, 2.0], True),
        ("all([x < 1 for x in result])", [0.5, 0.7], True),
    ],
)
def test_conditions(condition, result, expected):
    assert evaluate(compile_condition(condition, "c"), result) is expected


@pytest.mark.parametrize("condition", ["result[0] <", "result[0] < 0.25)", "import os"])
def test_a_condition_that_does_not_parse_is_bad_input(condition):
    with pytest.raises(InputError, match="does not parse"):
        compile_condition(condition, "check 'latency' successCondition")


@pytest.mark.parametrize("condition", ["__import__('os').system('true')", "result.__class__", "open('/etc/passwd')", "unknown > 1"])
def test_a_condition_runs_no_code(condition):
    with pytest.raises(ValueError):
        evaluate(compile_condition(condition, "c"), [1.0])


def test_a_condition_that_cannot_be_decided_raises_value_error():
    with pytest.raises(ValueError, match="IndexError"):
        evaluate(compile_condition("result[0] < 1", "c"), [])
