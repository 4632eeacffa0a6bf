"""Typed access to the config's mappings: each value checked for its type and range where it is read,
each refusal naming file, line and key."""

from __future__ import annotations

import re

import pytest

from gitops_mlops.config.reader import Reader
from gitops_mlops.core.errors import InputError
from gitops_mlops.yamltext.nodes import compose

ALLOWED = {"name", "url", "count", "on", "items", "empty"}


def reader(text: str, allowed: set[str] = ALLOWED) -> Reader:
    return Reader("gitops-mlops.yaml", compose(text, "gitops-mlops.yaml"), "models[0]", allowed)


def test_an_unknown_key_is_refused_naming_the_allowed_ones():
    with pytest.raises(InputError, match=r"^gitops-mlops.yaml:2: unknown key 'nmae' in models\[0\] \(allowed: count, empty, items, name, on, url\)$"):
        reader("name: a\nnmae: b\n")


def test_a_node_that_is_not_a_mapping_is_refused():
    with pytest.raises(InputError, match=r"models\[0\] must be a mapping"):
        reader("- a\n")


def test_str_required_default_and_pattern():
    r = reader("name: fraud\n")
    assert r.str("name") == "fraud"
    assert r.str("url", "fallback") == "fallback"
    with pytest.raises(InputError, match=r"gitops-mlops.yaml:1: models\[0\] needs 'url'"):
        r.str("url")
    with pytest.raises(InputError, match=r"models\[0\].name 'fraud' is not a valid name"):
        r.str("name", pattern=re.compile("^x$"))


@pytest.mark.parametrize("value", ["1", "true", "''", "[a]"])
def test_str_refuses_what_is_not_a_non_empty_string(value):
    with pytest.raises(InputError, match=r"gitops-mlops.yaml:1: models\[0\].name must be a non-empty string"):
        reader(f"name: {value}\n").str("name")


def test_url_must_be_http_and_carry_no_credentials_which_stay_out_of_the_message():
    assert reader("url: https://prom.example:9090/x\n").url("url") == "https://prom.example:9090/x"
    with pytest.raises(InputError, match="is not an http"):
        reader("url: ftp://x\n").url("url")
    with pytest.raises(InputError, match="carries a user or password") as info:
        reader("url: https://bot:hunter2@prom.example/\n").url("url")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("value", ["-1", "0x10", "1_000", "1e3", "1001", "'5'", "5.0"])
def test_int_takes_decimal_digits_within_bounds_only(value):
    with pytest.raises(InputError, match=r"models\[0\].count must be a whole number from 0 to 1000, in decimal digits"):
        reader(f"count: {value}\n").int("count", 3)


def test_int_reads_a_decimal_and_defaults_when_absent():
    assert reader("count: 1000\n").int("count", 3) == 1000
    assert reader("name: a\n").int("count", 3) == 3


def test_bool_takes_booleans_only():
    assert reader("on: true\n").bool("on") is True
    assert reader("on: false\n").bool("on", True) is False
    assert reader("name: a\n").bool("on", True) is True
    with pytest.raises(InputError, match=r"models\[0\].on must be true or false"):
        reader("on: 'true'\n").bool("on")


def test_lists_and_strings():
    r = reader("items: [a, b]\nempty:\n")
    assert r.strings("items") == ("a", "b")
    assert r.list("empty") == [] and r.list("name") == []
    with pytest.raises(InputError, match=r"models\[0\].name must be a list"):
        reader("name: x\n").list("name")
    with pytest.raises(InputError, match=r"gitops-mlops.yaml:1: models\[0\].items must be a list of strings"):
        reader("items: [a, {b: c}]\n").strings("items")
