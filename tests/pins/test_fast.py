"""The fast pin reader reads the plain block form the tool writes, equal to the full parser, and
steps aside (None) for every other shape, so the parser decides."""

from __future__ import annotations

import pytest

from gitops_mlops.pins.fast import fast_pin_fields
from gitops_mlops.pins.kustomization import parse

A = "sha256:" + "a" * 64
PLAIN = (
    "resources:\n  - ../base\nimages:\n  - name: fraud\n    newName: quay.io/acme/fraud\n    newTag: 1.0.0\n    digest: " + A + "\n"
    "  - name: runtime\n    newTag: '2.0'\n"
)


def parsed(text: str) -> list[tuple]:
    return [(p.name, p.new_name, p.new_tag, p.digest) for p in parse(text, "k.yaml").pins]


def test_the_plain_form_is_read_equal_to_the_parser():
    fields = fast_pin_fields(PLAIN)
    assert fields == [("fraud", "quay.io/acme/fraud", "1.0.0", A), ("runtime", None, "2.0", None)]
    assert fields == parsed(PLAIN)


def test_zero_indented_entries_are_read():
    text = "images:\n- name: fraud\n  digest: " + A + "\n"
    assert fast_pin_fields(text) == [("fraud", None, None, A)] == parsed(text)


def test_no_images_is_an_empty_list_not_a_refusal():
    assert fast_pin_fields("resources:\n  - ../base\n") == []


@pytest.mark.parametrize(
    "text",
    [
        "images: [{name: fraud, newTag: '1'}]\n",  # flow style
        "images:\n  - name: fraud\n    newTag: &t 1.0.0\n",  # an anchor
        "images:\r\n  - name: fraud\r\n    newTag: 1.0.0\r\n",  # CRLF
        "images:\n  - name: fraud\n    newTag: 1.0.0\n---\nimages: []\n",  # several documents
        "images:\n  - name: fraud\n    # a comment inside\n    newTag: 1.0.0\n",
        "images:\n  - name: fraud\n    digest: " + A + "\n    newTag: 1.0.0\n",  # fields in another order
        "images:\n  - name: fraud\n    newTag: 1\n  - name: fraud\n    newTag: 2\n",  # duplicates: the parser reports them
        'images:\n  - name: "fr\\u0061ud"\n',  # an escape
        "images:\n  - name: a\nimages:\n  - name: b\n",  # the key twice: the parser reports it
    ],
)
def test_any_other_shape_steps_aside(text):
    assert fast_pin_fields(text) is None


def test_a_comment_naming_images_is_not_the_block():
    text = "# images are set below\nimages:\n  - name: fraud\n"
    assert fast_pin_fields(text) == [("fraud", None, None, None)] == parsed(text)


def test_quoted_values_are_unquoted():
    text = "images:\n  - name: 'fraud'\n    newName: \"quay.io/acme/fraud\"\n"
    assert fast_pin_fields(text) == [("fraud", "quay.io/acme/fraud", None, None)] == parsed(text)
