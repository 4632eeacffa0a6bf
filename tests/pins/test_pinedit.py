"""Editing one pin in place: only the changed values' bytes differ, the fast edit and the parser's
edit give the same text, a removed field or pin leaves the rest byte for byte. (The golden cases,
through the module's public face, are in ``test_kustomization.py``.)"""

from __future__ import annotations

from gitops_mlops.pins.pinedit import edit_pin, pin_value_spans, remove_pin, set_pin, set_pin_exact
from gitops_mlops.pins.pinread import Pin

TEXT = "resources:\n- ../base  # the base\nimages:\n- name: a\n  newName: r/a\n  newTag: '1.0.0'\n  digest: sha256:1\n- name: b\n  newTag: x\n"


def test_an_edit_changes_only_the_value_bytes_and_keeps_quoting():
    old, edited = edit_pin(TEXT, "k.yaml", "a", {"newTag": "2.0.0", "digest": "sha256:2"})
    assert old == Pin("a", "r/a", "1.0.0", "sha256:1")
    assert edited == TEXT.replace("'1.0.0'", "'2.0.0'").replace("sha256:1", "sha256:2")
    assert set_pin(TEXT, "k.yaml", "a", {"newTag": "2.0.0", "digest": "sha256:2"}) == edited


def test_a_missing_pin_is_appended_and_removed_again_byte_for_byte():
    added = set_pin(TEXT, "k.yaml", "c", {"newTag": "3"})
    assert added == TEXT + '- name: c\n  newTag: "3"\n'
    assert remove_pin(added, "k.yaml", "c") == TEXT


def test_an_exact_pin_removes_the_fields_it_sets_to_none():
    assert set_pin_exact(TEXT, "k.yaml", "a", {"newName": "r/a", "newTag": None, "digest": "sha256:1"}) == TEXT.replace("  newTag: '1.0.0'\n", "")


def test_value_spans_point_at_every_pin_value():
    spans = pin_value_spans(TEXT, "k.yaml")
    assert [(field, TEXT[start:end], value) for field, start, end, value, _ in spans] == [
        ("newName", "r/a", "r/a"),
        ("newTag", "'1.0.0'", "1.0.0"),
        ("digest", "sha256:1", "sha256:1"),
        ("newTag", "x", "x"),
    ]
