"""Reading pins from a kustomization's text: the fast reader and the parser give the same pins,
the parser reads what the fast reader leaves to it, and malformed pins are refused with the line.
(More cases, through the module's public face, in ``test_kustomization.py``.)"""

from __future__ import annotations

import pytest

from gitops_mlops.core.errors import InputError
from gitops_mlops.pins.pinread import Pin, fast_pins, parse, pins, references

PLAIN = "resources:\n- ../base\nimages:\n- name: a\n  newName: r/a\n  newTag: 1.0.0\n  digest: sha256:1\n"
FLOW = "resources: [../base]\nimages: [{name: a, newName: r/a, newTag: 1.0.0, digest: 'sha256:1'}]\n"


@pytest.mark.parametrize("text", [PLAIN, FLOW])
def test_pins_are_the_same_whichever_reader_reads_them(text):
    assert pins(text, "k.yaml") == parse(text, "k.yaml").pins == (Pin("a", "r/a", "1.0.0", "sha256:1"),)
    assert references(text, "k.yaml") == ("../base",)


def test_the_fast_reader_reads_the_plain_form_and_leaves_the_rest_to_the_parser():
    assert fast_pins(PLAIN) == (Pin("a", "r/a", "1.0.0", "sha256:1"),)
    assert fast_pins(FLOW) is None


def test_two_entries_for_one_image_are_refused_with_both_lines():
    with pytest.raises(InputError, match=r"k.yaml:8: two images entries for 'a' \(first at line 4\)"):
        pins(PLAIN + "- name: a\n  newTag: '2'\n", "k.yaml")
