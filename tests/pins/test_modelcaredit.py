"""A modelcar pin (an InferenceService's storageUri patch) set, added and removed by ``modelcaredit``
directly. The in-place edits of every scalar style are golden cases in test_modelcaredit_golden.py;
here: adding a patch where there is none (golden cases in golden/modelcar-add/<case>/{original,expected}),
partial and exact updates, removal, and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gitops_mlops.core.errors import InputError
from gitops_mlops.pins import modelcar
from gitops_mlops.pins.modelcaredit import literal_block, remove_modelcar, set_modelcar
from gitops_mlops.yamltext.nodes import compose
from testing.golden import assert_golden

GOLDEN = Path(__file__).parent / "golden" / "modelcar-add"
ADD_CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "original").is_dir())
SOURCE = "overlays/edge/kustomization.yaml"
NAME = "InferenceService/fraud"
A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64
FULL = {"newName": "quay.io/acme/fraud", "newTag": "1.4.0", "digest": B}
PINNED = (
    "resources:\n  - ../base\npatches:\n  - target:\n      kind: InferenceService\n      name: fraud\n    patch: |-\n"
    "      - op: replace\n        path: /spec/predictor/model/storageUri\n"
    f"        value: oci://quay.io/acme/fraud:1.0.0@{A}\n"
)


def edit(text: str, values: dict, exact: bool = False) -> tuple[str, str]:
    return set_modelcar(text, SOURCE, NAME, values, exact, modelcar.find(compose(text, SOURCE), text, SOURCE))


def storage_uri(text: str) -> str:
    """The storageUri the patch sets, by a full parse with another YAML library."""
    entry = next(e for e in yaml.safe_load(text)["patches"] if e.get("target", {}).get("kind") == "InferenceService")
    return next(op["value"] for op in yaml.safe_load(entry["patch"]) if op["path"] == modelcar.STORAGE_PATH)


@pytest.mark.parametrize("case", ADD_CASES)
def test_a_patch_is_added_where_there_was_none(case):
    original = (GOLDEN / case / "original" / "kustomization.yaml").read_bytes().decode()
    edited, note = edit(original, FULL)
    assert note == ""
    assert_golden(edited, GOLDEN / case / "expected" / "kustomization.yaml")
    assert storage_uri(edited) == f"oci://quay.io/acme/fraud:1.4.0@{B}"
    assert remove_modelcar(edited, SOURCE, NAME).rstrip("\r\n") == original.rstrip("\r\n")  # nothing else changed
    assert edit(edited, FULL) == (edited, "")  # and a second edit changes nothing


def test_a_partial_update_keeps_the_fields_not_given():
    edited, _ = edit(PINNED, {"newName": None, "newTag": None, "digest": B})
    assert storage_uri(edited) == f"oci://quay.io/acme/fraud:1.0.0@{B}"
    assert edited == PINNED.replace(A, B)


def test_an_exact_update_drops_the_fields_not_given():
    edited, _ = edit(PINNED, {"newName": "quay.io/acme/fraud", "newTag": None, "digest": B}, exact=True)
    assert storage_uri(edited) == f"oci://quay.io/acme/fraud@{B}"


def test_an_update_to_the_same_uri_returns_the_text_unchanged():
    assert edit(PINNED, {"newName": "quay.io/acme/fraud", "newTag": "1.0.0", "digest": A}) == (PINNED, "")


def test_adding_needs_a_repository():
    with pytest.raises(InputError, match=f"{SOURCE}: no storageUri patch for {NAME} to edit"):
        edit("resources:\n  - ../base\n", {"newName": None, "newTag": None, "digest": B})


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("{resources: [../base]}\n", "must be a block-style mapping"),
        ("resources:\n  - ../base\npatches: [{path: x.yaml}]\n", "patches must be a block list"),
        ("resources:\n  - ../base\npatches:\n", "'patches:' is empty"),
    ],
)
def test_a_patch_cannot_be_added_to_shapes_the_tool_does_not_write(text, cause):
    with pytest.raises(InputError, match=cause):
        edit(text, FULL)


def test_removing_the_only_patch_removes_patches_too():
    assert remove_modelcar(PINNED, SOURCE, NAME) == "resources:\n  - ../base\n"


def test_removing_one_of_several_patches_keeps_the_others():
    text = PINNED.replace("patches:\n", "patches:\n  - path: replicas.yaml\n")
    assert remove_modelcar(text, SOURCE, NAME) == "resources:\n  - ../base\npatches:\n  - path: replicas.yaml\n"


def test_removing_a_pin_that_is_not_there_changes_nothing():
    assert remove_modelcar(PINNED, SOURCE, "InferenceService/other") == PINNED


@pytest.mark.parametrize(("content", "indicator"), [("a\nb", "|-"), ("a\nb\n", "|"), ("a\n\n", "|+")])
def test_literal_block_chomping_reads_back_as_the_content(content, indicator):
    header, body = literal_block(content, 2, 0, "\n")
    assert header == indicator
    assert yaml.safe_load(f"k: {header}\n{body}")["k"] == content


def test_literal_block_states_the_indentation_when_the_content_starts_indented():
    header, body = literal_block("  indented\n", 4, 2, "\n")
    assert (header, body) == ("|2", "      indented\n")
    assert yaml.safe_load("parent:\n  k: |2\n      indented\n")["parent"]["k"] == "  indented\n"  # as a reader decodes it
