"""Strict YAML composition: one plain document, positions kept, tricks refused."""

from __future__ import annotations

import math
import time

import pytest

from gitops_mlops.core.errors import InputError
from gitops_mlops.yamltext.nodes import MappingNode, ScalarNode, compose, line_of, mapping_get, to_python

SOURCE = "overlays/edge/kustomization.yaml"


def refusal(text: str) -> str:
    with pytest.raises(InputError) as info:
        compose(text, SOURCE)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_compose_returns_a_tree_with_one_based_lines():
    root = compose("a: 1\nb:\n  - x\n", SOURCE)
    assert isinstance(root, MappingNode)
    key, value = mapping_get(root, "b")
    assert line_of(key) == 2
    assert line_of(value.value[0]) == 3


def test_empty_or_comment_only_document_composes_to_none():
    assert compose("", SOURCE) is None
    assert compose("# nothing here\n", SOURCE) is None


def test_mapping_get_of_missing_key_or_non_mapping_is_none():
    root = compose("a: 1\n", SOURCE)
    assert mapping_get(root, "b") is None
    assert mapping_get(root.value[0][1], "a") is None


def test_duplicate_key_is_refused_with_both_lines():
    message = refusal("name: a\nother: 1\nname: b\n")
    assert message.startswith(f"{SOURCE}:3:")
    assert "duplicate key 'name'" in message
    assert "first at line 1" in message


def test_duplicate_key_in_a_nested_mapping_is_refused():
    message = refusal("images:\n  - name: a\n    newTag: '1'\n    newTag: '2'\n")
    assert message.startswith(f"{SOURCE}:4:")
    assert "duplicate key 'newTag'" in message


def test_alias_is_refused():
    message = refusal("a: &x 1\nb: *x\n")
    assert message.startswith(f"{SOURCE}:1:")
    assert "anchors and aliases are not allowed" in message


def test_alias_without_anchor_is_refused_as_invalid_yaml():
    message = refusal("a: 1\nb: *x\n")
    assert message.startswith(f"{SOURCE}:2:")
    assert "invalid YAML" in message


def test_unused_anchor_is_refused_at_its_line():
    message = refusal("a: 1\nb: &x 2\n")
    assert message.startswith(f"{SOURCE}:2:")
    assert "anchors" in message


def test_ampersand_inside_a_string_is_not_an_anchor():
    root = compose("a: 'x & y'\nb: q&a\n", SOURCE)
    assert to_python(root) == {"a": "x & y", "b": "q&a"}


def test_merge_key_is_refused():
    message = refusal("a:\n  <<: {b: 1}\n  c: 2\n")
    assert message.startswith(f"{SOURCE}:2:")
    assert "merge keys" in message


def test_merge_key_with_anchor_is_refused():
    message = refusal("base: &b {x: 1}\nd:\n  <<: *b\n")
    assert message.startswith(SOURCE)
    assert "not allowed" in message


def test_quoted_double_angle_key_is_an_ordinary_key():
    assert to_python(compose("'<<': 1\n", SOURCE)) == {"<<": 1}


def test_second_document_is_refused_at_its_line():
    message = refusal("a: 1\n---\nb: 2\n")
    assert message.startswith(f"{SOURCE}:3:")
    assert "more than one YAML document" in message


def test_leading_document_marker_alone_is_one_document():
    assert to_python(compose("---\na: 1\n", SOURCE)) == {"a": 1}


@pytest.mark.parametrize(
    "text, line",
    [
        ("a: 1\n  b: 2\n", 2),
        ("a: 1\nb: [1, 2\n", 3),
        ("a: 1\nb: 'open\n", 3),
        ("a: 1\n\tb: 2\n", 2),
    ],
)
def test_invalid_yaml_is_refused_with_its_line(text, line):
    message = refusal(text)
    assert message.startswith(f"{SOURCE}:{line}: invalid YAML")


def test_byte_order_mark_is_refused():
    message = refusal("\ufeffa: 1\n")
    assert message.startswith(SOURCE)
    assert "byte order mark" in message


def test_non_string_key_is_refused():
    message = refusal("[a, b]: 1\n")
    assert message.startswith(f"{SOURCE}:1:")
    assert "keys must be plain strings" in message


def _billion_laughs(levels: int = 9, width: int = 9) -> str:
    lines = ['l0: &l0 "lol"']
    for level in range(1, levels + 1):
        refs = ", ".join(f"*l{level - 1}" for _ in range(width))
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_quickly():
    text = _billion_laughs()
    started = time.perf_counter()
    with pytest.raises(InputError, match="not allowed"):
        compose(text, SOURCE)
    assert time.perf_counter() - started < 1.0


def test_alias_bomb_inside_a_sequence_is_refused_quickly():
    text = "images:\n" + "".join(f"  - {line}\n" for line in _billion_laughs().splitlines())
    started = time.perf_counter()
    with pytest.raises(InputError):
        compose(text, SOURCE)
    assert time.perf_counter() - started < 1.0


def test_to_python_converts_scalar_types():
    text = "s: text\nq: '1'\ndq: \"true\"\ni: 42\nneg: -7\nhex: 0x1F\noct: 0o17\nf: 1.5\ne: 1e3\nt: true\nfl: false\nn: null\ntilde: ~\nempty:\nv: 1.4.0\n"
    assert to_python(compose(text, SOURCE)) == {
        "s": "text",
        "q": "1",
        "dq": "true",
        "i": 42,
        "neg": -7,
        "hex": 31,
        "oct": 15,
        "f": 1.5,
        "e": 1000.0,
        "t": True,
        "fl": False,
        "n": None,
        "tilde": None,
        "empty": None,
        "v": "1.4.0",
    }


def test_to_python_keeps_yaml_1_2_strings_that_yaml_1_1_called_booleans():
    assert to_python(compose("a: yes\nb: off\n", SOURCE)) == {"a": "yes", "b": "off"}


def test_to_python_converts_nested_collections_in_order():
    value = to_python(compose("images:\n  - name: a\n    tags: [1, '2']\n  - {name: b}\n", SOURCE))
    assert value == {"images": [{"name": "a", "tags": [1, "2"]}, {"name": "b"}]}
    assert list(value["images"][0]) == ["name", "tags"]


def test_to_python_of_none_is_none():
    assert to_python(None) is None


def test_to_python_turns_infinity_and_nan_into_floats():
    value = to_python(compose("a: .inf\nb: -.Inf\nc: .nan\n", SOURCE))
    assert value["a"] == math.inf
    assert value["b"] == -math.inf
    assert isinstance(value["c"], float) and math.isnan(value["c"])


def test_to_python_reads_leading_zero_integer_as_decimal():
    # YAML 1.2 core schema (what the composer resolves): 017 is the int 17.
    node = compose("a: 017\n", SOURCE)
    assert node.value[0][1].tag.endswith(":int")
    assert to_python(node) == {"a": 17}


def test_scalar_node_keeps_its_quote_style():
    root = compose("a: 'x'\nb: \"y\"\nc: z\n", SOURCE)
    styles = {k.value: v.style for k, v in root.value}
    assert styles["a"] == "'"
    assert styles["b"] == '"'
    assert styles["c"] not in ("'", '"')
    assert all(isinstance(v, ScalarNode) for _, v in root.value)


@pytest.mark.parametrize(
    "text",
    [
        "x: " + "[" * 50_000 + "]" * 50_000 + "\n",  # the C composer recursed this deep and crashed the process
        "x: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n",
        "- " * 5_000 + "x\n",  # compact block sequences: no brackets at all
        "".join(" " * i + f"k{i}:\n" for i in range(1_100)) + " " * 1_100 + "v\n",
    ],
    ids=["flow-sequences", "flow-mappings", "compact-sequences", "block-mappings"],
)
def test_yaml_nested_deeper_than_the_limit_is_one_line(text):
    with pytest.raises(InputError) as caught:
        compose(text, "deep.yaml")
    assert "nested deeper than 1000 levels" in str(caught.value) and str(caught.value).startswith("deep.yaml:")


def test_yaml_nested_to_the_limit_composes():
    node = compose("x: " + "[" * 999 + "]" * 999 + "\n", "deep.yaml")
    assert isinstance(node, MappingNode)
