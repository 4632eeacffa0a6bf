"""Modelcar patches in every YAML scalar style: golden edits, readers against a full parse, renders.

Each case lives in tests/pins/golden/modelcar/<case>/{original,expected}/kustomization.yaml; a case
whose patch cannot take the new URI in place has a ``note`` file, the note the edit gives when it
rewrites the patch as a literal block. Where the style allows it, only the URI's bytes change.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gitops_mlops.config.sites import Site
from gitops_mlops.pins import kustomization as k
from gitops_mlops.pins import modelcar
from gitops_mlops.pins.sentinels import pin_invariant
from gitops_mlops.render.kustomize import Kustomize, render_sites
from testing.repos import build_tree

GOLDEN = Path(__file__).parent / "golden" / "modelcar"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "original").is_dir())
SOURCE = "overlays/edge/kustomization.yaml"
NAME = "InferenceService/fraud"
A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64
NEW = {"newName": "quay.io/acme/fraud", "newTag": "1.4.0", "digest": B}
OLD_URI, NEW_URI = f"oci://quay.io/acme/fraud:1.0.0@{A}", f"oci://quay.io/acme/fraud:1.4.0@{B}"
BASE = {
    "base/kustomization.yaml": "resources:\n- isvc.yaml\n- runtime.yaml\n",
    "base/isvc.yaml": (
        "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: fraud\nspec:\n  predictor:\n"
        "    model:\n      modelFormat: {name: onnx}\n      storageUri: oci://fraud\n"
    ),
    "base/runtime.yaml": (
        "apiVersion: serving.kserve.io/v1alpha1\nkind: ServingRuntime\nmetadata:\n  name: ovms\nspec:\n  containers:\n  - name: server\n    image: runtime\n"
    ),
}


def golden(case: str, which: str) -> str:
    return (GOLDEN / case / which / "kustomization.yaml").read_bytes().decode()


def note_of(case: str) -> str:
    path = GOLDEN / case / "note"
    return path.read_text().strip() if path.exists() else ""


def reference_pins(text: str) -> dict[str, tuple]:
    """Every pin by a full parse with another YAML library (PyYAML): the patch decoded, then parsed."""
    doc = yaml.safe_load(text)
    pins = {i["name"]: (i.get("newName"), i.get("newTag"), i.get("digest")) for i in doc.get("images") or []}
    for entry in doc.get("patches") or []:
        if entry.get("target", {}).get("kind") == "InferenceService":
            op = next(o for o in yaml.safe_load(entry["patch"]) if o["path"] == modelcar.STORAGE_PATH)
            pins[modelcar.modelcar_pin_name(entry["target"]["name"])] = modelcar.split_uri(op["value"], "reference")
    return pins


def test_every_scalar_style_has_a_case():
    assert {"literal-keep-comments", "folded", "plain", "plain-multi-line", "single-quoted", "single-quoted-multi-line"} <= set(CASES)
    assert {"double-quoted", "double-quoted-multi-line", "double-quoted-crlf"} <= set(CASES)
    assert sum(bool(note_of(c)) for c in CASES) >= 2  # and cases that must be rewritten


@pytest.mark.parametrize("case", CASES)
def test_the_edit_matches_the_golden_bytes_and_says_when_it_rewrote(case):
    original = golden(case, "original")
    old, edited, note = k.edit_pin_noted(original, SOURCE, NAME, NEW)
    assert edited.encode() == golden(case, "expected").encode()
    assert note == note_of(case)
    assert (old.new_tag, old.digest) == ("1.0.0", A)
    if not note:  # in place: the only bytes that differ are the URI's
        assert edited == original.replace(OLD_URI, NEW_URI) and original.count(OLD_URI) == 1
    assert k.set_pin(original, SOURCE, NAME, NEW) == edited  # the same edit through set_pin


@pytest.mark.parametrize("case", CASES)
def test_the_expected_file_holds_the_new_pin_and_a_second_edit_changes_nothing(case):
    expected = golden(case, "expected")
    assert k.edit_pin_noted(expected, SOURCE, NAME, NEW)[1:] == (expected, "")
    pin = k.parse(expected, SOURCE).pin(NAME)
    assert (pin.new_name, pin.new_tag, pin.digest) == (NEW["newName"], NEW["newTag"], NEW["digest"])
    assert k.parse(expected, SOURCE).pin("runtime") == k.parse(golden(case, "original"), SOURCE).pin("runtime")


@pytest.mark.parametrize("which", ["original", "expected"])
@pytest.mark.parametrize("case", CASES)
def test_the_fast_readers_equal_a_full_parse_or_step_aside(case, which):
    text = golden(case, which)
    reference = reference_pins(text)
    as_tuples = {p.name: (p.new_name, p.new_tag, p.digest) for p in k.pins(text, SOURCE)}
    assert as_tuples == reference == {p.name: (p.new_name, p.new_tag, p.digest) for p in k.parse(text, SOURCE).pins}
    fast = k.fast_pins(text, SOURCE)
    assert fast is None or {p.name: (p.new_name, p.new_tag, p.digest) for p in fast} == reference
    cars = modelcar.fast_find(text)
    assert cars is None or [(f.pin_name, f.value) for f in cars] == [(NAME, modelcar.format_uri(*reference[NAME]))]


@pytest.mark.parametrize("which", ["original", "expected"])
@pytest.mark.parametrize("case", CASES)
def test_the_pin_invariant_form_holds_sentinels_where_the_pins_are(case, which):
    text = golden(case, which)
    form = pin_invariant(text, SOURCE)
    if form is None:  # it steps aside only where an edit could not be made in place
        assert which == "original" and note_of(case)
        return
    assert form.substitute(form.text) == text
    sentinel_pins = reference_pins(form.text)
    real = reference_pins(text)
    assert set(sentinel_pins) == set(real)
    for name, fields in sentinel_pins.items():
        assert tuple(form.substitute(v) if v else v for v in fields) == real[name]
        assert all(v is None or v not in text for v in fields), name  # every value is a sentinel


def test_the_patch_escaped_where_the_fast_reader_looks_is_read_by_the_parser():
    text = golden("double-quoted-escaped-uri", "original")
    assert modelcar.STORAGE_PATH not in text and modelcar.fast_find(text) is None
    assert k.pins(text, SOURCE)[-1].name == NAME


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, str]:
    """Every case's original and expected, and its pin-invariant form, as built by the real kustomize."""
    repo = tmp_path_factory.mktemp("modelcar-styles")
    files = dict(BASE)  # each site a sibling of base/, which its ../base reads
    for case in CASES:
        for which in ("original", "expected"):
            text = golden(case, which)
            files[f"{case}--{which}/kustomization.yaml"] = text
            form = pin_invariant(text, SOURCE)
            if form is not None:
                files[f"{case}--{which}-invariant/kustomization.yaml"] = form.text
    build_tree(repo, files)
    sites = [Site(p.parent.name.replace("--", "/"), p.parent.name, "edge") for p in sorted(repo.glob("*--*/kustomization.yaml"))]
    out = {name: result.output for name, result in render_sites(repo, sites).items()}  # batched: equal to one build per site (test_rendering)
    assert out["folded/expected"] == Kustomize.find().build(repo / "folded--expected")  # and one such build, here
    return out


@pytest.mark.parametrize("case", CASES)
def test_kustomize_renders_the_promoted_storage_uri(rendered, case):
    for which, uri in (("original", OLD_URI), ("expected", NEW_URI)):
        objects = {o["kind"]: o for o in yaml.safe_load_all(rendered[f"{case}/{which}"])}
        assert objects["InferenceService"]["spec"]["predictor"]["model"]["storageUri"] == uri
        assert objects["ServingRuntime"]["spec"]["containers"][0]["image"] == f"quay.io/acme/runtime:2.0.0@{A}"
    for which in ("original", "expected"):
        form = pin_invariant(golden(case, which), SOURCE)
        if form is not None:  # the sentinel render, values substituted, is kustomize's render
            assert form.substitute(rendered[f"{case}/{which}-invariant"]) == rendered[f"{case}/{which}"]
