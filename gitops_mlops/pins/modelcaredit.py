"""Edit a modelcar pin (an InferenceService's storageUri patch) in a kustomization text.

Where the patch's scalar style allows it (a literal or folded block, a plain or quoted scalar
whose URI bytes stand as they read), only the bytes of the URI change. Otherwise (the URI
escaped or split across lines in a quoted scalar) the patch value is rewritten as a literal
block, and the edit says so in its note.
"""

from __future__ import annotations

from gitops_mlops.core.errors import InputError
from gitops_mlops.pins import modelcar
from gitops_mlops.pins.modelcar import Found
from gitops_mlops.yamltext import edit as yamledit
from gitops_mlops.yamltext.nodes import MappingNode, ScalarNode, SequenceNode, compose, line_of, mapping_get

_STYLE_NAMES = {"": "plain", None: "plain", "'": "single-quoted", '"': "double-quoted", ">": "folded", "|": "literal"}


def set_modelcar(text: str, source: str, name: str, values: dict[str, str | None], exact: bool, found: list[Found]) -> tuple[str, str]:
    """(``text`` with the storageUri of ``name`` holding ``values``, a note when the patch was rewritten)."""
    pin = next((f for f in found if f.pin_name == name), None)
    if pin is None:
        return _add(text, source, name, values), ""
    if pin.error:
        raise InputError(pin.error)
    oci = pin.value.startswith(modelcar.SCHEME)
    repository, tag, digest = modelcar.split_uri(pin.value, f"{source}:{pin.line}") if oci else ("", None, None)
    fields = {"newName": repository, "newTag": tag, "digest": digest}
    fields.update(values if exact else {k: v for k, v in values.items() if v is not None})
    uri = modelcar.format_uri(fields["newName"] or repository, fields["newTag"], fields["digest"])
    if uri == pin.value:
        return text, ""
    if pin.in_place:
        return text[: pin.start] + uri + text[pin.end :], ""
    style = _STYLE_NAMES.get(pin.patch.style, pin.patch.style)
    note = f"{source}:{line_of(pin.patch)}: the {style} patch of {name} cannot take a new storageUri in place; rewritten as a literal block (patch: |-)"
    return _rewritten(text, source, pin, uri), note


def _rewritten(text: str, source: str, pin: Found, uri: str) -> str:
    """``text`` with the pin's patch written as a literal block holding ``uri`` as its storageUri value."""
    where = f"{source}:{line_of(pin.patch)}"
    key = mapping_get(pin.entry, "patch")[0]
    value = modelcar.storage_node(compose(pin.patch.value, where), where)
    quote = value.style if value.style in ("'", '"') else ""
    decoded = pin.patch.value[: value.start_mark.index] + quote + uri + quote + pin.patch.value[value.end_mark.index :]
    line_end = yamledit.end_of_line(text, pin.patch.end_mark.index)
    rest = text[pin.patch.end_mark.index : line_end]
    if pin.entry.flow_style or rest.strip() and not rest.strip().startswith("#"):
        raise InputError(f"{where}: the patch of {pin.pin_name} is not a block mapping value; write it as a literal block (patch: |-) to promote it")
    newline = "\r\n" if "\r\n" in text else "\n"
    header, body = literal_block(decoded, key.start_mark.column + 2, key.start_mark.column, newline)
    if line_end == len(text) and not text.endswith("\n"):
        body = newline + body[: -len(newline)]
    edited = text[: pin.patch.start_mark.index] + header + rest + body + text[line_end:]
    written = modelcar.scalar_at(compose(edited, source), pin.patch.start_mark.index)
    if written is None or written.value != decoded:
        raise InputError(f"{where}: the patch of {pin.pin_name} cannot be written as a literal block; write it so (patch: |-) to promote it")
    return edited


def literal_block(content: str, indent: int, parent: int, newline: str) -> tuple[str, str]:
    """(the indicator, the indented lines) of a literal block scalar holding ``content``."""
    chomp = "-" if not content.endswith("\n") else "+" if content.endswith("\n\n") or content == "\n" else ""
    first = next((line for line in content.split("\n") if line.strip(" ")), "")
    indicator = "|" + (str(indent - parent) if first.startswith(" ") else "") + chomp
    lines = content[:-1].split("\n") if content.endswith("\n") else content.split("\n")
    return indicator, "".join((" " * indent + line if line else "") + newline for line in lines)


def _add(text: str, source: str, name: str, values: dict[str, str | None]) -> str:
    """``text`` with a new storageUri patch for ``name`` at the end of ``patches:`` (added when missing)."""
    if not values.get("newName"):
        raise InputError(f"{source}: no storageUri patch for {name} to edit")
    uri = modelcar.format_uri(values["newName"], values.get("newTag"), values.get("digest"))
    inference_service = name.split("/", 1)[1]
    root = compose(text, source)
    newline = "\r\n" if "\r\n" in text else "\n"
    if not isinstance(root, MappingNode) or root.flow_style:
        raise InputError(f"{source}: a kustomization must be a block-style mapping to add a modelcar patch")
    pair = mapping_get(root, "patches")
    if pair is not None and not (isinstance(pair[1], ScalarNode) and pair[1].tag.endswith(":null")):
        patches = pair[1]
        if not isinstance(patches, SequenceNode) or patches.flow_style or not patches.value:
            raise InputError(f"{source}:{line_of(patches)}: patches must be a block list to add a modelcar patch")
        last = patches.value[-1]
        at = yamledit.end_of_line(text, yamledit.content_end(last))
        body = modelcar.new_entry(inference_service, uri, yamledit.dash_column(text, last), newline)
    else:
        if pair is not None:
            raise InputError(f"{source}: 'patches:' is empty; remove it or write 'patches: []'")
        indent = root.value[0][0].start_mark.column if root.value else 0
        body = " " * indent + "patches:" + newline + modelcar.new_entry(inference_service, uri, max(yamledit.sequence_indent(text, root), indent), newline)
        marker = yamledit.DOCUMENT_END.search(text, yamledit.content_end(root)) if root.value else None
        at = marker.start() if marker else len(text)
    if at == len(text) and text and not text.endswith(("\n", "\r")):
        body = newline + body.rstrip("\r\n")
    return text[:at] + body + text[at:]


def remove_modelcar(text: str, source: str, name: str) -> str:
    """``text`` without the storageUri patch of ``name`` (and without ``patches:`` when it was the only one)."""
    root = compose(text, source)
    found = next((f for f in modelcar.find(root, text, source) if f.pin_name == name), None)
    if found is None:
        return text
    patches = mapping_get(root, "patches")
    if len(patches[1].value) == 1:
        start = text.rfind("\n", 0, patches[0].start_mark.index) + 1
        end = yamledit.end_of_line(text, yamledit.content_end(patches[1]))
    else:
        start = text.rfind("\n", 0, found.entry.start_mark.index) + 1
        end = yamledit.end_of_line(text, yamledit.content_end(found.entry))
    return text[:start] + text[end:]


def value_spans(text: str, source: str, found: list[tuple[Found, object]]) -> list[tuple[str, int, int, str, str | None]]:
    """The newName, newTag and digest parts of each oci:// storageUri pin, as ``pin_value_spans`` gives
    them; a pin whose bytes cannot be replaced in place has no pin-invariant form (bad input here)."""
    spans = []
    for pin, parts in found:
        if not pin.in_place:
            raise InputError(f"{source}:{pin.line}: the storageUri of {pin.pin_name} cannot be replaced in place")
        at = pin.start + len(modelcar.SCHEME)
        for key, value, sep in (("newName", parts.new_name, ""), ("newTag", parts.new_tag, ":"), ("digest", parts.digest, "@")):
            if value:
                at += len(sep)
                spans.append((key, at, at + len(value), value, None))
                at += len(value)
    return spans
