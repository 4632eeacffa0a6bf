"""Edit one pin of a kustomization in place.

The edit is a text splice at the positions the YAML parser reports: only the
bytes of the changed values (or the inserted lines) differ afterwards. Comments,
key order, quoting, indentation, blank lines, ``---`` and CRLF stay as they were.
"""

from __future__ import annotations

from gitops_mlops.core.errors import InputError
from gitops_mlops.pins import modelcar, modelcaredit
from gitops_mlops.pins.fast import _fast_matches, _unquote
from gitops_mlops.pins.pinread import PIN_FIELDS, Pin, _modelcar_found, _modelcar_pins, _pins_of, _root_and_images, parse, pins
from gitops_mlops.yamltext import edit as yamledit
from gitops_mlops.yamltext.nodes import MappingNode, SequenceNode, line_of, mapping_get


def set_pin(text: str, source: str, image: str, values: dict[str, str]) -> str:
    """Return ``text`` with the pin of ``image`` holding ``values`` (newName/newTag/digest).

    Existing values are replaced in place; missing keys are added after the
    entry's last key; a missing entry is appended to ``images:``; a missing
    ``images:`` is appended to the file. A modelcar pin (``InferenceService/<name>``) is the
    storageUri patch of that InferenceService, added as a ``patches:`` entry when missing.
    """
    if modelcar.is_modelcar_pin(image):
        return modelcaredit.set_modelcar(text, source, image, values, False, _modelcar_found(text, source, oci_only=False))[0]
    root, images = _root_and_images(text, source)
    newline = "\r\n" if "\r\n" in text else "\n"
    if root is None:
        raise InputError(f"{source}: empty kustomization")
    if images is None:
        if mapping_get(root, "images") is not None:
            raise InputError(f"{source}: 'images:' is empty; remove it or write 'images: []'")
        if root.flow_style:
            raise InputError(f"{source}:{line_of(root)}: a flow-style kustomization cannot be edited; use block style")
        indent = root.value[0][0].start_mark.column if root.value else 0
        dash_col = max(yamledit.sequence_indent(text, root), indent) if root.value else 0
        body = " " * indent + "images:" + newline + _new_entry_block(image, values, dash_col=dash_col, newline=newline)
        marker = yamledit.DOCUMENT_END.search(text, yamledit.content_end(root)) if root.value else None
        at = marker.start() if marker else len(text)  # at the end, but before a '...' document end
        if at == len(text) and text and not text.endswith(("\n", "\r")):
            body = newline + body.rstrip("\r\n")
        return text[:at] + body + text[at:]
    entries = [e for e in images.value if isinstance(e, MappingNode) and _name_of(e) == image]
    _pins_of(images, source)  # duplicate pins and malformed entries are errors, never guesses
    if not entries:
        return _append_entry(text, images, image, values, newline)
    return _update_entry(text, entries[0], values, newline)


_GROUP = {"newName": 2, "newTag": 3, "digest": 4}


def edit_pin(text: str, source: str, image: str, values: dict[str, str]) -> tuple[Pin | None, str]:
    """The current pin of ``image`` and ``text`` with ``values`` set; see set_pin."""
    old, edited, _ = edit_pin_noted(text, source, image, values)
    return old, edited


def edit_pin_noted(text: str, source: str, image: str, values: dict[str, str]) -> tuple[Pin | None, str, str]:
    """``edit_pin`` with a note on how the edit was made when it is worth saying (a modelcar patch
    rewritten as a literal block); another model's unreadable modelcar patch is no concern of it.

    The plain form this tool writes is edited from one regular-expression match
    (value spans replaced, quoting kept); anything else through the YAML parser."""
    if modelcar.is_modelcar_pin(image):
        old = next((p for p in pins(text, source, only=image) if p.name == image), None)
        return old, *modelcaredit.set_modelcar(text, source, image, values, False, _modelcar_found(text, source, oci_only=False))
    matches = _fast_matches(text)
    match = next((m for m in matches if _unquote(m.group(1)) == image), None) if matches else None
    if match is not None and all(match.group(_GROUP[key]) is not None for key in values):
        old = Pin(*(_unquote(v) for v in match.groups()))
        edits = []
        for key, value in values.items():
            raw = match.group(_GROUP[key])
            if _unquote(raw) != value:
                style = raw[0] if raw[0] in "\"'" else None
                edits.append((match.start(_GROUP[key]), match.end(_GROUP[key]), yamledit.format_scalar(value, style)))
        return old, yamledit.apply_edits(text, edits), ""
    pin = parse(text, source, only=image).pin(image)
    return pin, set_pin(text, source, image, values), ""


def set_pin_exact(text: str, source: str, image: str, values: dict[str, str | None]) -> str:
    """``text`` with the pin of ``image`` holding exactly ``values``: a None value removes that field."""
    if modelcar.is_modelcar_pin(image):
        return modelcaredit.set_modelcar(text, source, image, values, True, _modelcar_found(text, source, oci_only=False))[0]
    fast = _set_pin_exact_fast(text, image, values)
    return fast if fast is not None else set_pin_exact_parsed(text, source, image, values)


def _set_pin_exact_fast(text: str, image: str, values: dict[str, str | None]) -> str | None:
    """``set_pin_exact`` of a pin in the plain form this tool writes (``edit_pin_noted``'s fast form),
    from one regular-expression match: values replaced (quoting kept), a field set to None loses its
    line. None when a field must be added or the text is not in that form: the parser decides then."""
    matches = _fast_matches(text)
    match = next((m for m in matches if _unquote(m.group(1)) == image), None) if matches else None
    if match is None or any(v is not None and match.group(_GROUP[k]) is None for k, v in values.items()):
        return None
    edits = []
    for key, value in values.items():
        raw = match.group(_GROUP[key])
        if raw is None:
            continue
        if value is None:
            start = text.rfind("\n", 0, match.start(_GROUP[key])) + 1
            edits.append((start, yamledit.end_of_line(text, match.end(_GROUP[key])), ""))
        elif _unquote(raw) != value:
            style = raw[0] if raw[0] in "\"'" else None
            edits.append((match.start(_GROUP[key]), match.end(_GROUP[key]), yamledit.format_scalar(value, style)))
    return yamledit.apply_edits(text, edits)


def set_pin_exact_parsed(text: str, source: str, image: str, values: dict[str, str | None]) -> str:
    """``set_pin_exact`` through the YAML parser: the reference its fast form is proven equal to."""
    text = set_pin(text, source, image, {k: v for k, v in values.items() if v is not None})
    gone = [k for k, v in values.items() if v is None]
    if not gone:
        return text
    _, images = _root_and_images(text, source)
    entry = next(e for e in images.value if isinstance(e, MappingNode) and _name_of(e) == image)
    edits = []
    for key in gone:
        pair = mapping_get(entry, key)
        if pair is None:
            continue
        if entry.flow_style:
            raise InputError(f"{source}:{line_of(entry)}: cannot remove {key} from a flow-style images entry; use block style")
        start = text.rfind("\n", 0, pair[0].start_mark.index) + 1
        edits.append((start, yamledit.end_of_line(text, pair[1].end_mark.index), ""))
    return yamledit.apply_edits(text, edits)


def remove_pin(text: str, source: str, image: str) -> str:
    """``text`` without the pin of ``image`` (and without ``images:`` when that was its only entry)."""
    if modelcar.is_modelcar_pin(image):
        return modelcaredit.remove_modelcar(text, source, image)
    root, images = _root_and_images(text, source)
    entries = [e for e in (images.value if images is not None else []) if isinstance(e, MappingNode) and _name_of(e) == image]
    if not entries:
        return text
    if images.flow_style:
        raise InputError(f"{source}:{line_of(images)}: cannot remove an entry from a flow-style images list; use block style")
    if len(images.value) == 1:
        key = mapping_get(root, "images")[0]
        start, end = text.rfind("\n", 0, key.start_mark.index) + 1, yamledit.end_of_line(text, yamledit.content_end(images))
    else:
        entry = entries[0]
        start = text.rfind("\n", 0, entry.start_mark.index) + 1
        end = yamledit.end_of_line(text, yamledit.content_end(entry))
    return text[:start] + text[end:]


def pin_value_spans(text: str, source: str) -> list[tuple[str, int, int, str, str | None]]:
    """(field, start, end, value, quote style) of every newName, newTag and digest value of every pin."""
    spans = modelcaredit.value_spans(text, source, _modelcar_pins(text, source, None))
    matches = _fast_matches(text)
    if matches is not None:
        for match in matches:
            for key, group in _GROUP.items():
                raw = match.group(group)
                if raw is not None:
                    spans.append((key, match.start(group), match.end(group), _unquote(raw), raw[0] if raw[0] in "\"'" else None))
        return spans
    _, images = _root_and_images(text, source)
    if images is None:
        return spans
    _pins_of(images, source)  # duplicates and malformed entries are errors, never guesses
    for entry in images.value:
        for key, value in entry.value:
            if key.value in _GROUP:
                if value.start_mark.index == value.end_mark.index:
                    raise InputError(f"{source}:{line_of(value)}: empty {key.value}")
                spans.append((key.value, value.start_mark.index, value.end_mark.index, value.value, value.style if value.style in ("'", '"') else None))
    return spans


def _name_of(entry: MappingNode) -> str | None:
    pair = mapping_get(entry, "name")
    return pair[1].value if pair else None


def _update_entry(text: str, entry: MappingNode, values: dict[str, str], newline: str) -> str:
    edits: list[tuple[int, int, str]] = []
    missing: list[tuple[str, str]] = []
    for key in PIN_FIELDS:
        if key not in values:
            continue
        pair = mapping_get(entry, key)
        if pair is None:
            missing.append((key, values[key]))
            continue
        node = pair[1]
        if node.value == values[key]:
            continue
        start, end = node.start_mark.index, node.end_mark.index
        if start == end:  # an empty value: `newTag:` with nothing after it
            edits.append((start, end, " " + yamledit.format_scalar(values[key]) if text[start - 1 : start] == ":" else yamledit.format_scalar(values[key])))
        else:
            edits.append((start, end, yamledit.format_scalar(values[key], node.style, flow=entry.flow_style)))
    if missing:
        if entry.flow_style:
            close = entry.end_mark.index - 1  # the '}'
            addition = ", ".join(f"{k}: {yamledit.format_scalar(v, flow=True)}" for k, v in missing)
            edits.append((close, close, yamledit.flow_separator(text, close) + addition))
        else:
            first_key = entry.value[0][0]
            indent = " " * first_key.start_mark.column
            at = yamledit.end_of_line(text, yamledit.content_end(entry))
            lines = "".join(f"{indent}{k}: {yamledit.format_scalar(v)}{newline}" for k, v in missing)
            if at == len(text) and not text.endswith(("\n", "\r")):
                lines = newline + lines.rstrip("\r\n")
            edits.append((at, at, lines))
    return yamledit.apply_edits(text, edits)


def _append_entry(text: str, images: SequenceNode, image: str, values: dict[str, str], newline: str) -> str:
    if images.flow_style:
        close = images.end_mark.index - 1  # the ']'
        fields = ", ".join(f"{k}: {yamledit.format_scalar(v, flow=True)}" for k, v in (("name", image), *_ordered(values)))
        return text[:close] + f"{yamledit.flow_separator(text, close)}{{{fields}}}" + text[close:]
    last = images.value[-1]
    dash_col = yamledit.dash_column(text, last)
    at = yamledit.end_of_line(text, yamledit.content_end(last))
    body = _new_entry_block(image, values, dash_col=dash_col, newline=newline)
    if at == len(text) and not text.endswith(("\n", "\r")):
        body = newline + body.rstrip("\r\n")
    return text[:at] + body + text[at:]


def _ordered(values: dict[str, str]) -> list[tuple[str, str]]:
    return [(k, values[k]) for k in PIN_FIELDS if k in values]


def _new_entry_block(image: str, values: dict[str, str], dash_col: int, newline: str) -> str:
    pad = " " * dash_col
    lines = [f"{pad}- name: {yamledit.format_scalar(image)}"]
    lines += [f"{pad}  {k}: {yamledit.format_scalar(v)}" for k, v in _ordered(values)]
    return newline.join(lines) + newline
