"""The canaryTrafficPercent op of a modelcar patch: golden edits (set, change, finish, roll back), what
they read back as, refusals, and the real kustomize rendering each expected file.

Each case lives in tests/pins/golden/canary/<case>/{original,expected}/kustomization.yaml with an
``edit`` file: a percentage, ``none`` (the canary finished), or ``rollback`` (the storageUri restored
to the previous build and the percentage put to 0).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gitops_mlops.config.sites import Site
from gitops_mlops.core.errors import InputError
from gitops_mlops.pins import kustomization as k
from gitops_mlops.pins.canary import read_canary, rolled_back, set_canary
from gitops_mlops.render.kustomize import render_sites
from testing.golden import assert_golden
from testing.repos import build_tree
from tests.pins.test_modelcaredit_golden import BASE, NEW_URI, OLD_URI

GOLDEN = Path(__file__).parent / "golden" / "canary"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "original").is_dir())
SOURCE = "overlays/edge/kustomization.yaml"
NAME = "InferenceService/fraud"
A = "sha256:" + "a" * 64


def golden(case: str, which: str) -> str:
    return (GOLDEN / case / which / "kustomization.yaml").read_bytes().decode()


def edit_of(case: str) -> str:
    return (GOLDEN / case / "edit").read_text().strip()


def edited(case: str) -> str:
    text, edit = golden(case, "original"), edit_of(case)
    if edit == "rollback":
        restored = k.set_pin_exact(text, SOURCE, NAME, {"newName": "quay.io/acme/fraud", "newTag": "1.0.0", "digest": A})
        return rolled_back(restored, SOURCE, NAME)
    return set_canary(text, SOURCE, NAME, None if edit == "none" else int(edit))


def wanted(case: str) -> int | None:
    edit = edit_of(case)
    return 0 if edit == "rollback" else None if edit == "none" else int(edit)


def test_every_step_of_a_canary_has_a_case():
    assert {edit_of(c) for c in CASES} >= {"10", "50", "none", "rollback"}
    assert any("crlf" in c for c in CASES) and any("end-of-file" in c for c in CASES)


@pytest.mark.parametrize("case", CASES)
def test_the_edit_matches_the_golden_bytes(case):
    assert_golden(edited(case), GOLDEN / case / "expected" / "kustomization.yaml")


@pytest.mark.parametrize("case", CASES)
def test_only_the_canary_op_and_the_uri_change_and_a_second_edit_changes_nothing(case):
    original, expected = golden(case, "original"), golden(case, "expected")
    assert read_canary(expected, SOURCE, NAME) == wanted(case)
    assert set_canary(expected, SOURCE, NAME, wanted(case)) == expected
    uri = OLD_URI if edit_of(case) == "rollback" else NEW_URI
    assert k.parse(expected, SOURCE).pin("runtime") == k.parse(original, SOURCE).pin("runtime")
    assert next(p for p in k.pins(expected, SOURCE) if p.name == NAME).digest == uri.rsplit("@", 1)[1]
    kept = [line for line in original.splitlines() if "canaryTrafficPercent" not in line and "value:" not in line and "op: add" not in line]
    assert kept == [line for line in expected.splitlines() if "canaryTrafficPercent" not in line and "value:" not in line and "op: add" not in line]


def test_a_patch_that_is_not_a_literal_block_is_refused_naming_it():
    text = golden("set", "original").replace("patch: |-\n", "patch: |\n")
    folded = text.replace("patch: |\n", "patch: >\n").replace("        - op", "\n        - op", 1)
    with pytest.raises(InputError, match=r"overlays/edge/kustomization.yaml:\d+: the patch of InferenceService/fraud is not a literal block"):
        set_canary(folded, SOURCE, NAME, 10)
    assert set_canary(folded, SOURCE, NAME, None) == folded  # nothing to take away: nothing to refuse


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ten", "canaryTrafficPercent 'ten' is not a whole number"),
        ("-5", "canaryTrafficPercent '-5' is not a whole number"),
        ("\u00b2", "canaryTrafficPercent '\u00b2' is not a whole number"),  # a digit to str.isdigit, not to int()
        ("101", "canaryTrafficPercent '101' is not a whole number from 0 to 100"),
        ("9" * 5000, "is not a whole number from 0 to 100"),
    ],
)
def test_a_percentage_the_tool_cannot_read_is_bad_input(value, message):
    text = golden("change-percent", "original").replace("value: 10", f"value: {value}")
    with pytest.raises(InputError, match=message) as caught:
        read_canary(text, SOURCE, NAME)
    assert len(str(caught.value)) < 300


def test_a_site_without_the_patch_cannot_take_a_canary():
    with pytest.raises(InputError, match="no storageUri patch for InferenceService/fraud"):
        set_canary("resources:\n- ../base\n", SOURCE, NAME, 10)
    assert set_canary("resources:\n- ../base\n", SOURCE, NAME, None) == "resources:\n- ../base\n"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, str]:
    repo = tmp_path_factory.mktemp("canary")
    files = dict(BASE)
    for case in CASES:
        files[f"{case}/kustomization.yaml"] = golden(case, "expected").replace("../../../base", "../base")
    build_tree(repo, files)
    sites = [Site(case, case, "edge") for case in CASES]
    return {name: result.output for name, result in render_sites(repo, sites).items()}


@pytest.mark.parametrize("case", CASES)
def test_kustomize_renders_the_percentage_and_the_uri(rendered, case):
    isvc = next(o for o in yaml.safe_load_all(rendered[case]) if o["kind"] == "InferenceService")
    assert isvc["spec"]["predictor"].get("canaryTrafficPercent") == wanted(case)
    assert isvc["spec"]["predictor"]["model"]["storageUri"] == (OLD_URI if edit_of(case) == "rollback" else NEW_URI)


@pytest.mark.parametrize("case", CASES)
def test_the_fast_reader_reads_the_pin_beside_a_canary_op_or_steps_aside(case):
    from gitops_mlops.pins import modelcar

    text = golden(case, "expected")
    found = modelcar.fast_find(text)
    assert found is None or [(f.pin_name, f.value) for f in found] == [(NAME, OLD_URI if edit_of(case) == "rollback" else NEW_URI)]


def test_the_kserve_crd_has_the_field_and_takes_the_rendered_percentage_and_no_string(rendered):
    from gitops_mlops.render.kustomize import split_documents
    from gitops_mlops.render.schemas import Schemas
    from testing.paths import crd_dir

    crd = yaml.safe_load((crd_dir() / "kserve-inferenceservice-crd.yaml").read_text())
    predictor = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta1")["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["predictor"]
    assert predictor["properties"]["canaryTrafficPercent"]["type"] == "integer"
    schemas = Schemas(crds=(crd_dir(),))
    isvc = next(d for d in split_documents(rendered["set"]) if "kind: InferenceService" in d)
    assert "canaryTrafficPercent: 10" in isvc and not schemas.check_docs([isvc]).errors
    assert schemas.check_docs([isvc.replace("canaryTrafficPercent: 10", "canaryTrafficPercent: ten")]).errors
