"""Modelcar pins: an InferenceService's oci:// storageUri in a patch the tool owns, read and edited byte-exactly."""

from __future__ import annotations

import pytest

from gitops_mlops.config.load import parse_config
from gitops_mlops.core.errors import InputError
from gitops_mlops.pins import kustomization as k
from gitops_mlops.pins import modelcar
from gitops_mlops.pins.sentinels import pin_invariant

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
NAME = "InferenceService/fraud"
OWNED = f"""resources:
  - ../base
patches:
  - target:
      kind: Deployment
    patch: |-
      - op: replace
        path: /spec/replicas
        value: 1
  - target:
      kind: InferenceService
      name: fraud
    patch: |-
      - op: replace
        path: /spec/predictor/model/storageUri
        value: oci://quay.io/acme/fraud:1.0.0@{A}
images:
  - name: runtime
    newName: quay.io/acme/runtime
    newTag: 2.0.0
    digest: {A}
"""
NEW = {"newName": "quay.io/acme/fraud", "newTag": "1.4.0", "digest": B}


def test_the_owned_form_is_a_pin_beside_the_images():
    assert k.pins(OWNED, "k") == k.parse(OWNED, "k").pins  # the fast reader and the parser agree
    pin = k.parse(OWNED, "k").pin(NAME)
    assert (pin.new_name, pin.new_tag, pin.digest, pin.line) == ("quay.io/acme/fraud", "1.0.0", A, 16)
    assert k.parse(OWNED, "k").pin("runtime").digest == A


def test_an_edit_changes_only_the_bytes_of_the_uri():
    old, edited = k.edit_pin(OWNED, "k", NAME, NEW)
    assert old.new_tag == "1.0.0"
    assert edited == OWNED.replace(f"fraud:1.0.0@{A}", f"fraud:1.4.0@{B}")
    assert k.set_pin_exact(OWNED, "k", NAME, {"newName": "quay.io/acme/fraud", "newTag": None, "digest": B}) == OWNED.replace(f"fraud:1.0.0@{A}", f"fraud@{B}")


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda t: t.replace("\n", "\r\n"), id="crlf"),
        pytest.param(
            lambda t: t.replace(f"value: oci://quay.io/acme/fraud:1.0.0@{A}", f'value: "oci://quay.io/acme/fraud:1.0.0@{A}"  # pinned'), id="quoted-commented"
        ),
        pytest.param(
            lambda t: t.replace(
                "      - op: replace\n        path: /spec/predictor/model/storageUri", "      - path: /spec/predictor/model/storageUri\n        op: replace"
            ),
            id="keys-reordered",
        ),
        pytest.param(
            lambda t: t.replace("  - target:\n      kind: InferenceService\n      name: fraud", "  - target:\n      name: fraud\n      kind: InferenceService"),
            id="target-reordered",
        ),
        pytest.param(
            lambda t: t.replace("resources:", "# a comment\nresources:").replace(
                "    patch: |-\n      - op: replace\n        path: /spec/pred", "    patch: |-\n      # the pin\n      - op: replace\n        path: /spec/pred"
            ),
            id="comments",
        ),
    ],
)
def test_other_forms_are_read_and_edited_by_the_parser_in_place(variant):
    text = variant(OWNED)
    assert modelcar.fast_find(text) is None  # not the form this tool writes: the parser decides
    pin = k.parse(text, "k").pin(NAME)
    assert (pin.new_tag, pin.digest) == ("1.0.0", A)
    _, edited = k.edit_pin(text, "k", NAME, NEW)
    assert edited == text.replace(f"fraud:1.0.0@{A}", f"fraud:1.4.0@{B}")


def test_a_missing_pin_is_added_as_a_patch_and_removed_again():
    without = OWNED.replace(OWNED[OWNED.index("  - target:\n      kind: InferenceService") : OWNED.index("images:")], "")
    added = k.set_pin(without, "k", NAME, NEW)
    assert k.parse(added, "k").pin(NAME).digest == B and modelcar.fast_find(added)[0].value == f"oci://quay.io/acme/fraud:1.4.0@{B}"
    assert k.remove_pin(added, "k", NAME) == without
    bare = "resources:\n  - ../base\n"
    added = k.set_pin(bare, "k", NAME, NEW)
    assert added.startswith(bare + "patches:\n  - target:\n") and k.pins(added, "k")[0].digest == B
    assert k.remove_pin(added, "k", NAME) == bare


def test_an_s3_storage_uri_is_not_a_pin_but_is_replaced_by_one():
    text = OWNED.replace(f"oci://quay.io/acme/fraud:1.0.0@{A}", "s3://models/fraud/1")
    assert k.parse(text, "k").pin(NAME) is None
    assert k.set_pin(text, "k", NAME, NEW) == OWNED.replace(f"fraud:1.0.0@{A}", f"fraud:1.4.0@{B}")


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        (f"oci://quay.io/acme/fraud:1.0.0@{A}", "oci://quay.io/acme/Fraud::1", "storageUri 'oci://quay.io/acme/Fraud::1'"),
        (f"oci://quay.io/acme/fraud:1.0.0@{A}", "oci://", "storageUri 'oci://'"),
        (
            f"      - op: replace\n        path: /spec/predictor/model/storageUri\n        value: oci://quay.io/acme/fraud:1.0.0@{A}",
            f"      - {{op: replace, path: /spec/predictor/model/storageUri, value: oci://quay.io/acme/fraud:1.0.0@{A}}}",
            "invalid YAML",
        ),
        (
            "- op: replace\n        path: /spec/predictor/model/storageUri",
            "- op: remove\n        path: /spec/predictor/model/storageUri",
            "'replace' (or 'add')",
        ),
    ],
)
def test_a_malformed_pin_is_one_line_of_bad_input(old, new, needle):
    text = OWNED.replace(old, new)
    with pytest.raises(InputError, match=None) as raised:
        k.pins(text, "overlays/x/kustomization.yaml")
    message = str(raised.value)
    assert needle in message and message.startswith("overlays/x/kustomization.yaml:") and "\n" not in message


def test_two_patches_of_one_storage_uri_are_an_error_never_a_guess():
    entry = OWNED[OWNED.index("  - target:\n      kind: InferenceService") : OWNED.index("images:")]
    with pytest.raises(InputError, match="two patches set the storageUri of InferenceService/fraud"):
        k.parse(OWNED.replace(entry, entry + entry), "k")


def test_the_uri_parts_take_sentinels_and_come_back_exactly():
    form = pin_invariant(OWNED, "k")
    assert form is not None and "quay.io/acme/fraud" not in form.text and A not in form.text
    assert form.substitute(form.text) == OWNED
    quoted = OWNED.replace(f"value: oci://quay.io/acme/fraud:1.0.0@{A}", f'value: "oci://quay.io/acme/fraud:1.0.0@{A}"')
    form = pin_invariant(quoted, "k")
    assert form is not None and A not in form.text and form.substitute(form.text) == quoted  # quoted: its bytes are the URI's
    escaped = OWNED.replace(f"value: oci://quay.io/acme/fraud:1.0.0@{A}", f'value: "oci:\\x2F/quay.io/acme/fraud:1.0.0@{A}"')
    assert k.pins(escaped, "k")[0].digest == A and pin_invariant(escaped, "k") is None  # escaped: rendered by kustomize as always


def test_a_modelcar_model_in_the_config():
    config = parse_config(
        "models:\n"
        "  - name: fraud\n    artifact: modelcar\n    repository: quay.io/acme/fraud\n"
        "  - name: churn\n    artifact: modelcar\n    inferenceService: churn-v2\n    repository: quay.io/acme/churn\n"
        "  - name: eta\n    repository: quay.io/acme/eta\n"
        "stages:\n  - name: edge\n"
    )
    assert [(m.artifact, m.pin_name, m.image) for m in config.models] == [
        ("modelcar", "InferenceService/fraud", "fraud"),
        ("modelcar", "InferenceService/churn-v2", "churn"),
        ("image", "eta", "eta"),
    ]
    with pytest.raises(InputError, match="artifact 'wheel' is not one of: image, modelcar"):
        parse_config("models:\n  - name: a\n    artifact: wheel\n    repository: quay.io/a/a\nstages:\n  - name: edge\n")
    with pytest.raises(InputError, match="inferenceService is for 'artifact: modelcar' models"):
        parse_config("models:\n  - name: a\n    inferenceService: a\n    repository: quay.io/a/a\nstages:\n  - name: edge\n")
