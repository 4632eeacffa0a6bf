"""Kustomization pins: read them, and edit one in place with a byte-minimal diff.

Golden cases live in tests/pins/golden/<case>/{original,expected}/kustomization.yaml;
each bug in the edit gets a new case directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_mlops.core.errors import InputError
from gitops_mlops.pins import modelcar
from gitops_mlops.pins.kustomization import (
    MAX_KUSTOMIZATION_BYTES,
    Pin,
    find_kustomization_file,
    parse,
    read,
    set_pin,
)
from gitops_mlops.yamltext.edit import format_scalar
from gitops_mlops.yamltext.nodes import compose, to_python

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "original").is_dir())
IMAGE = "fraud-detector"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
VALUES = {"newName": "quay.io/example/fraud-detector", "newTag": "1.4.0", "digest": DIGEST_B}
SOURCE = "overlays/edge/kustomization.yaml"


def golden(case: str, which: str) -> str:
    return (GOLDEN / case / which / "kustomization.yaml").read_bytes().decode()


def test_golden_cases_are_present():
    assert len(CASES) >= 14


@pytest.mark.parametrize("case", CASES)
def test_set_pin_matches_golden_bytes(case):
    edited = set_pin(golden(case, "original"), SOURCE, IMAGE, VALUES)
    assert edited.encode() == golden(case, "expected").encode()


@pytest.mark.parametrize("case", CASES)
def test_golden_expectation_holds_the_new_pin(case):
    # Guards the hand-written expected files: each must read back to the new pin.
    pin = parse(golden(case, "expected"), SOURCE).pin(IMAGE)
    assert (pin.new_name, pin.new_tag, pin.digest) == (VALUES["newName"], VALUES["newTag"], VALUES["digest"])


@pytest.mark.parametrize("case", CASES)
def test_set_pin_is_idempotent(case):
    expected = golden(case, "expected")
    assert set_pin(expected, SOURCE, IMAGE, VALUES) == expected


def test_set_pin_leaves_other_images_alone():
    text = golden("sidecar-not-touched", "original")
    before = parse(text, SOURCE).pin("fraud-detector-sidecar")
    after = parse(set_pin(text, SOURCE, IMAGE, VALUES), SOURCE).pin("fraud-detector-sidecar")
    assert (after.new_name, after.new_tag, after.digest) == (before.new_name, before.new_tag, before.digest)


def test_set_pin_changes_only_the_given_fields():
    text = "images:\n  - name: fraud-detector\n    newTag: 1.3.0\n    digest: " + DIGEST_A + "\n"
    assert set_pin(text, SOURCE, IMAGE, {"digest": DIGEST_B}) == text.replace(DIGEST_A, DIGEST_B)


def test_set_pin_quotes_a_new_tag_yaml_would_read_as_a_number():
    text = "images:\n  - name: fraud-detector\n    newTag: 1.3.0\n"
    edited = set_pin(text, SOURCE, IMAGE, {"newTag": "1.4"})
    assert edited == 'images:\n  - name: fraud-detector\n    newTag: "1.4"\n'
    assert parse(edited, SOURCE).pin(IMAGE).new_tag == "1.4"


def test_set_pin_refuses_two_entries_for_the_image():
    text = "images:\n  - name: fraud-detector\n    newTag: 1.3.0\n  - name: fraud-detector\n    newTag: 1.2.0\n"
    with pytest.raises(InputError, match=rf"^{SOURCE}:4: two images entries for 'fraud-detector'"):
        set_pin(text, SOURCE, IMAGE, VALUES)


def test_set_pin_refuses_an_empty_kustomization():
    with pytest.raises(InputError, match="empty kustomization"):
        set_pin("", SOURCE, IMAGE, VALUES)


def test_set_pin_refuses_an_images_key_without_value():
    with pytest.raises(InputError, match="'images:' is empty"):
        set_pin("resources:\n  - base\nimages:\n", SOURCE, IMAGE, VALUES)


def test_parse_reports_pins_with_their_lines():
    text = (
        "# header\n"
        "images:\n"
        "  - name: other\n"
        '    newTag: "1"\n'
        "\n"
        "  - name: fraud-detector\n"
        "    newName: quay.io/example/fraud-detector\n"
        "    newTag: 1.3.0\n"
        "    digest: " + DIGEST_A + "\n"
        "resources:\n"
        "  - ../../base\n"
        "components: [../../components/gpu]\n"
    )
    k = parse(text, SOURCE)
    assert k.pins == (
        Pin(name="other", new_tag="1", line=3),
        Pin(name="fraud-detector", new_name="quay.io/example/fraud-detector", new_tag="1.3.0", digest=DIGEST_A, line=6),
    )
    assert k.pin("fraud-detector").repository == "quay.io/example/fraud-detector"
    assert k.pin("other").repository == "other"
    assert k.pin("missing") is None
    assert k.references == ("../../base", "../../components/gpu")


def test_parse_of_a_kustomization_without_images_has_no_pins():
    assert parse("resources:\n  - base\n", SOURCE).pins == ()
    assert parse("", SOURCE).pins == ()


def test_two_entries_for_one_image_name_the_file_and_both_lines():
    text = "images:\n  - name: fraud-detector\n    newTag: 1.3.0\n  - name: other\n  - name: fraud-detector\n    newTag: 1.2.0\n"
    with pytest.raises(InputError) as info:
        parse(text, SOURCE)
    message = str(info.value)
    assert message.startswith(f"{SOURCE}:5:")
    assert "two images entries for 'fraud-detector'" in message
    assert "first at line 2" in message


def test_images_entry_without_name_is_refused_at_its_line():
    with pytest.raises(InputError, match=rf"^{SOURCE}:3: an images entry has no name"):
        parse("images:\n  - name: a\n  - newTag: '1'\n", SOURCE)


def test_images_entry_that_is_not_a_mapping_is_refused():
    with pytest.raises(InputError, match=rf"^{SOURCE}:2: an images entry must be a mapping"):
        parse("images:\n  - fraud-detector\n", SOURCE)


def test_images_entry_with_a_block_scalar_is_refused():
    with pytest.raises(InputError, match=rf"^{SOURCE}:3:.*'newTag' must be a plain string"):
        parse("images:\n  - name: a\n    newTag: |\n      1.0\n", SOURCE)


@pytest.mark.parametrize("value", ["fraud-detector", "{name: fraud-detector}"])
def test_images_that_is_not_a_list_is_refused(value):
    with pytest.raises(InputError, match=rf"^{SOURCE}:2: images must be a list"):
        parse(f"resources: []\nimages: {value}\n", SOURCE)


def test_kustomization_that_is_not_a_mapping_is_refused():
    with pytest.raises(InputError, match="must be a mapping"):
        parse("- a\n- b\n", SOURCE)


def test_resources_that_is_not_a_list_is_refused():
    with pytest.raises(InputError, match=rf"^{SOURCE}:1: resources must be a list"):
        parse("resources: base\n", SOURCE)


def test_read_refuses_a_kustomization_larger_than_one_mebibyte(tmp_path):
    path = tmp_path / "kustomization.yaml"
    path.write_bytes(b"# " + b"x" * MAX_KUSTOMIZATION_BYTES + b"\n")
    with pytest.raises(InputError) as info:
        read(path, SOURCE)
    assert str(info.value).startswith(f"{SOURCE}:")
    assert "limit" in str(info.value)


def test_read_accepts_a_kustomization_of_exactly_one_mebibyte(tmp_path):
    path = tmp_path / "kustomization.yaml"
    head = b"images:\n  - name: fraud-detector\n    newTag: 1.3.0\n# "
    path.write_bytes(head + b"x" * (MAX_KUSTOMIZATION_BYTES - len(head) - 1) + b"\n")
    assert path.stat().st_size == MAX_KUSTOMIZATION_BYTES == 1024 * 1024
    assert read(path, SOURCE).pin(IMAGE).new_tag == "1.3.0"


def test_read_keeps_crlf_and_names_the_path_by_default(tmp_path):
    path = tmp_path / "kustomization.yaml"
    path.write_bytes(b"images:\r\n  - name: a\r\n    newTag: '1'\r\n")
    assert read(path).source == str(path)
    assert read(path).pin("a").line == 2


def test_read_refuses_a_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read(tmp_path / "kustomization.yaml", SOURCE)


def test_read_refuses_text_that_is_not_utf8(tmp_path):
    path = tmp_path / "kustomization.yaml"
    path.write_bytes(b"namespace: \xff\n")
    with pytest.raises(InputError, match="not UTF-8"):
        read(path, SOURCE)


def test_find_kustomization_file_refuses_yaml_and_yml_together(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\n")
    (tmp_path / "kustomization.yml").write_text("resources: []\n")
    with pytest.raises(InputError) as info:
        find_kustomization_file(tmp_path)
    message = str(info.value)
    assert "kustomization.yaml" in message and "kustomization.yml" in message
    assert str(tmp_path) in message


@pytest.mark.parametrize("name", ["kustomization.yaml", "kustomization.yml", "Kustomization"])
def test_find_kustomization_file_finds_the_one_file(tmp_path, name):
    (tmp_path / name).write_text("resources: []\n")
    assert find_kustomization_file(tmp_path) == tmp_path / name


def test_find_kustomization_file_of_a_directory_without_one_is_none(tmp_path):
    (tmp_path / "deployment.yaml").write_text("kind: Deployment\n")
    assert find_kustomization_file(tmp_path) is None


@pytest.mark.parametrize("value", ["1.4", "true", "null", "0x1F", "1e3", "1", "~", "yes", "off", "Y", ".inf", "0o17", "-1", "", "a: b", "#x", "1:30"])
def test_format_scalar_quotes_values_yaml_would_not_read_as_strings(value):
    text = format_scalar(value)
    assert text.startswith('"') and text.endswith('"')
    assert to_python(compose(f"k: {text}\n", SOURCE)) == {"k": value}


@pytest.mark.parametrize("value", ["1.4.0", "v1.4.0", "1.4.0-rc.1", "quay.io/example/fraud-detector", DIGEST_B, "latest"])
def test_format_scalar_leaves_plain_strings_plain(value):
    assert format_scalar(value) == value
    assert to_python(compose(f"k: {value}\n", SOURCE)) == {"k": value}


def test_format_scalar_keeps_single_quotes_when_it_can():
    assert format_scalar("1.4.0", style="'") == "'1.4.0'"
    assert format_scalar("it's", style="'") == '"it\'s"'


def test_format_scalar_keeps_double_quotes_and_escapes():
    assert format_scalar("1.4.0", style='"') == '"1.4.0"'
    assert format_scalar('a"b\\c', style='"') == '"a\\"b\\\\c"'


def test_format_scalar_quotes_a_colon_in_flow_context():
    assert format_scalar(DIGEST_B, flow=True) == f'"{DIGEST_B}"'
    assert format_scalar("1.4.0", flow=True) == "1.4.0"


@pytest.mark.parametrize("value", ["release:", "a:b", "x y", "a#b", "-a", "@a", "a,b", "[a]", "{a}", "'a'", '"a"'])
@pytest.mark.parametrize("flow", [False, True])
def test_format_scalar_reads_back_as_the_same_string(value, flow):
    text = format_scalar(value, flow=flow)
    document = f"k: [{text}]\n" if flow else f"k: {text}\n"
    read_back = to_python(compose(document, SOURCE))["k"]
    assert read_back == ([value] if flow else value)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('images: [\n  {name: other, newTag: "1"},\n]\n', id="flow-sequence-trailing-comma"),
        pytest.param("images:\n  - {name: fraud-detector, newName: quay.io/example/fraud-detector,}\n", id="flow-entry-trailing-comma"),
        pytest.param('images: [\n  {name: other, newTag: "1"}\n]\n', id="multi-line-flow-sequence"),
        pytest.param("images:\n  - name: fraud-detector\n    newTag: # set by CI\n", id="empty-value-with-comment"),
        pytest.param("  resources:\n    - base\n", id="indented-root-mapping"),
    ],
)
def test_set_pin_never_returns_broken_yaml(text):
    # Refusing is acceptable; writing a file that no longer reads back is not.
    try:
        edited = set_pin(text, SOURCE, IMAGE, VALUES)
    except InputError:
        return
    before = {p.name: p for p in parse(text, SOURCE).pins if p.name != IMAGE}
    after = parse(edited, SOURCE)
    pin = after.pin(IMAGE)
    assert (pin.new_name, pin.new_tag, pin.digest) == (VALUES["newName"], VALUES["newTag"], VALUES["digest"])
    assert {p.name: (p.new_name, p.new_tag, p.digest) for p in after.pins if p.name != IMAGE} == {
        name: (p.new_name, p.new_tag, p.digest) for name, p in before.items()
    }


@pytest.mark.parametrize("case", CASES)
def test_fast_edit_path_matches_the_parser_path(case):
    from gitops_mlops.pins.kustomization import edit_pin

    original = golden(case, "original")
    old, edited = edit_pin(original, SOURCE, IMAGE, VALUES)
    assert edited == set_pin(original, SOURCE, IMAGE, VALUES)
    assert old == parse(original, SOURCE).pin(IMAGE)


def test_the_form_this_tool_writes_takes_the_fast_path():
    from gitops_mlops.pins.kustomization import _fast_matches, edit_pin

    root = Path(__file__).resolve().parents[2]
    for path in sorted(root.glob("overlays/**/kustomization.yaml")):
        text = path.read_text()
        assert _fast_matches(text), path
        for image in ("demand-forecast", "InferenceService/fraud-detector"):  # an images entry and a modelcar patch
            old, edited = edit_pin(text, SOURCE, image, VALUES)
            assert edited == set_pin(text, SOURCE, image, VALUES) and old.new_tag == "1.0.0"
        assert [f.pin_name for f in modelcar.fast_find(text)] == ["InferenceService/fraud-detector"]
        quoted = text.replace("newTag: 1.0.0", 'newTag: "1.0.0"')
        assert edit_pin(quoted, SOURCE, "demand-forecast", VALUES)[1] == set_pin(quoted, SOURCE, "demand-forecast", VALUES)


PLAIN = "resources:\n- ../base\nimages:\n- name: a\n  newName: r/a\n  newTag: 1.0.0\n  digest: sha256:1\n- name: b\n  newTag: '2.0'\n"
FAST_READER_CASES = {
    # text -> does the fast reader take it (True) or hand it to the parser (False)?
    "plain": (PLAIN, True),
    "indented entries": (PLAIN.replace("\n- name", "\n  - name").replace("\n  new", "\n    new").replace("\n  digest", "\n    digest"), True),
    "images last, blank lines after": (PLAIN + "\n\n", True),
    "a top-level comment after": (PLAIN + "# end\nnamespace: x\n", True),
    "quoted empty tag": (PLAIN.replace("newTag: '2.0'", 'newTag: ""'), True),
    "no images": ("resources:\n- ../base\n", True),
    "empty images": ("images:\nnamespace: x\n", True),
    "comment inside the block": (PLAIN.replace("- name: b", "  # b follows\n- name: b"), False),
    "blank line between entries": (PLAIN.replace("- name: b", "\n- name: b"), False),
    "mixed indentation": (PLAIN.replace("- name: b\n  newTag", "  - name: b\n    newTag"), False),
    "fields out of order": (PLAIN.replace("  newTag: 1.0.0\n  digest: sha256:1\n", "  digest: sha256:1\n  newTag: 1.0.0\n"), False),
    "duplicate pin": (PLAIN.replace("name: b", "name: a"), False),
    "flow entry": ("images:\n- {name: a, newTag: 1.0.0}\n", False),
    "crlf": (PLAIN.replace("\n", "\r\n"), False),
    "two documents": (PLAIN + "---\nimages: []\n", False),
}


@pytest.mark.parametrize("name", sorted(FAST_READER_CASES) + [f"golden:{c}" for c in CASES])
def test_fast_pin_reader_agrees_with_the_parser(name):
    from gitops_mlops.pins.kustomization import fast_pin_fields

    if name.startswith("golden:"):
        text, fast_expected = golden(name[7:], "original"), None
    else:
        text, fast_expected = FAST_READER_CASES[name]
    fields = fast_pin_fields(text)
    if fast_expected is not None:
        assert (fields is not None) == fast_expected
    if fields is not None:
        try:
            pins = parse(text, SOURCE).pins
        except InputError:
            pytest.fail("the fast reader accepted a kustomization the parser refuses")
        assert fields == [(p.name, p.new_name, p.new_tag, p.digest) for p in pins]
