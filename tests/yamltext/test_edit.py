"""Text edits of YAML at parser positions: scalars that read back as the string they hold, edits
applied from the end so positions stay valid, and the helpers that find where an insertion goes."""

from __future__ import annotations

import pytest
import yaml

from gitops_mlops.yamltext import edit
from gitops_mlops.yamltext.nodes import compose


@pytest.mark.parametrize(
    "value",
    ["1.4.0", "quay.io/acme/fraud", "yes", "no", "on", "null", "~", "1.0", "0x1F", "1e3", "a: b", "key:", "", "with space", 'q"uote', "back\\slash", ".inf"],
)
@pytest.mark.parametrize("style", [None, "'", '"'])
def test_format_scalar_reads_back_as_the_same_string(value, style):
    text = edit.format_scalar(value, style)
    assert yaml.safe_load(f"k: {text}\n")["k"] == value


def test_format_scalar_stays_plain_where_it_can_and_keeps_the_requested_quotes():
    assert edit.format_scalar("1.4.0") == "1.4.0"
    assert edit.format_scalar("true") == '"true"'  # a plain true is a boolean
    assert edit.format_scalar("1.4.0", "'") == "'1.4.0'"
    assert edit.format_scalar("it's", "'") == '"it\'s"'  # a single quote inside: double quotes instead
    assert edit.format_scalar("a:b", flow=True) == '"a:b"'


def test_apply_edits_applies_from_the_end_and_keeps_order_at_one_position():
    text = "abcdef"
    assert edit.apply_edits(text, [(0, 1, "A"), (3, 4, "D"), (6, 6, "1"), (6, 6, "2")]) == "AbcDef12"


def test_content_end_ignores_comments_after_a_block_collection():
    text = "images:\n  - name: a\n    newTag: b\n# trailing comment\nresources: []\n"
    root = compose(text, "k.yaml")
    images = root.value[0][1]
    assert text[: edit.content_end(images)].endswith("newTag: b")


def test_end_of_line_and_flow_separator():
    text = "a: 1\nb: 2"
    assert edit.end_of_line(text, 1) == 5
    assert edit.end_of_line(text, 7) == len(text)
    assert edit.flow_separator("[a, b]", 5) == ", "
    assert edit.flow_separator("[]", 1) == ""


def test_sequence_indent_and_dash_column_follow_the_file():
    indented = "resources:\n  - ../base\n"
    flat = "resources:\n- ../base\n"
    assert edit.sequence_indent(indented, compose(indented, "k")) == 2
    assert edit.sequence_indent(flat, compose(flat, "k")) == 0
    assert edit.sequence_indent("a: 1\n", compose("a: 1\n", "k")) == 0


def test_document_end_marker_is_found_on_its_own_line_only():
    assert edit.DOCUMENT_END.search("a: 1\n...\n")
    assert edit.DOCUMENT_END.search("a: 1\n... # end\n")
    assert not edit.DOCUMENT_END.search("a: '...'\n")
