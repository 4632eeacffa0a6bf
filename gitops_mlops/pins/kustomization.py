"""Read a kustomization's image pins fast, and edit one pin in place.

The edit is a text splice at the positions the YAML parser reports: only the
bytes of the changed values (or the inserted lines) differ afterwards. Comments,
key order, quoting, indentation, blank lines, ``---`` and CRLF stay as they were.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path

from gitops_mlops.core import repofiles
from gitops_mlops.core.errors import InputError
from gitops_mlops.pins import modelcar, modelcaredit
from gitops_mlops.pins.fast import _fast_matches, _unquote, fast_pin_fields
from gitops_mlops.yamltext import edit as yamledit
from gitops_mlops.yamltext.nodes import MappingNode, Node, ScalarNode, SequenceNode, compose, line_of, mapping_get

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MAX_KUSTOMIZATION_BYTES = 1024 * 1024
PIN_FIELDS = ("newName", "newTag", "digest")


@dataclass(frozen=True)
class Pin:
    """One ``images:`` entry of a kustomization."""

    name: str
    new_name: str | None = None
    new_tag: str | None = None
    digest: str | None = None
    line: int = field(default=0, compare=False)  # 0: not known (the fast reader)

    @property
    def repository(self) -> str:
        return self.new_name or self.name


@dataclass(frozen=True)
class Kustomization:
    source: str
    pins: tuple[Pin, ...]
    references: tuple[str, ...]  # resources/components/bases entries, as written

    def pin(self, image: str) -> Pin | None:
        for pin in self.pins:
            if pin.name == image:
                return pin
        return None


def find_kustomization_file(directory: Path) -> Path | None:
    """The one kustomization file of a directory; two is an error, none is None. A name kustomize
    would take that is not a regular file (a folder, a FIFO) is an error, never "no kustomization"."""
    found = []
    for name in KUSTOMIZATION_FILES:
        path = directory / name
        try:
            info = path.stat()
        except FileNotFoundError:
            if path.is_symlink():
                raise InputError(f"{path}: a symlink to nothing") from None
            continue
        except OSError as exc:
            raise InputError(f"{path}: cannot be resolved ({exc.strerror or exc})") from None
        if not stat.S_ISREG(info.st_mode):
            what = "a directory" if stat.S_ISDIR(info.st_mode) else repofiles.kind_of(info.st_mode)
            raise InputError(f"{path}: is {what}, not a kustomization file")
        found.append(path)
    if len(found) > 1:
        names = " and ".join(p.name for p in found)
        raise InputError(f"{directory}: two kustomization files ({names}); keep one")
    return found[0] if found else None


def read_text(path: Path, source: str) -> str:
    """Read a kustomization as text, exactly (no newline translation); a regular file of at most
    MAX_KUSTOMIZATION_BYTES (``repofiles``)."""
    data = repofiles.read_bytes(path, source, limit=MAX_KUSTOMIZATION_BYTES)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{source}: not UTF-8 text") from None


def parse(text: str, source: str, only: str | None = None) -> Kustomization:
    """Every pin and reference of a kustomization; malformed content is bad input. ``only``: a
    modelcar patch the tool cannot read is an error for that pin alone (left out of the others)."""
    root, images = _root_and_images(text, source)
    pins = _pins_of(images, source) + tuple(pin for _, pin in _modelcar_pins(text, source, root, only))
    return Kustomization(source=source, pins=pins, references=_references(root, source))


def references(text: str, source: str) -> tuple[str, ...]:
    """The resources/components/bases entries of a kustomization, as written (no pin is read)."""
    return _references(_root_and_images(text, source)[0], source)


def _references(root: MappingNode | None, source: str) -> tuple[str, ...]:
    references: list[str] = []
    for key in ("resources", "components", "bases"):
        pair = mapping_get(root, key) if root is not None else None
        if pair is None or (isinstance(pair[1], ScalarNode) and pair[1].tag.endswith(":null")):
            continue
        if not isinstance(pair[1], SequenceNode):
            raise InputError(f"{source}:{line_of(pair[1])}: {key} must be a list")
        for item in pair[1].value:
            if not isinstance(item, ScalarNode):
                raise InputError(f"{source}:{line_of(item)}: {key} entries must be strings")
            references.append(item.value)
    return tuple(references)


def read(path: Path, source: str | None = None) -> Kustomization:
    source = source or str(path)
    return parse(read_text(path, source), source)


def fast_pins(text: str, source: str = "") -> tuple[Pin, ...] | None:
    fields = _fast_fields(text, source)
    return None if fields is None else tuple(Pin(name=n, new_name=nn, new_tag=t, digest=d) for n, nn, t, d in fields)


def _fast_fields(text: str, source: str = "", only: str | None = None) -> list[tuple[str, str | None, str | None, str | None]] | None:
    """(name, newName, newTag, digest) of every pin, images and modelcars, without the parser; None when it must decide."""
    fields = fast_pin_fields(text)
    cars = modelcar.fast_find(text) if fields is not None else None
    if cars is None:
        return None
    return fields + [(pin.name, pin.new_name, pin.new_tag, pin.digest) for _, pin in _readable(cars, source, only)]


def _modelcar_found(text: str, source: str, root: MappingNode | None = None, oci_only: bool = True) -> list[modelcar.Found]:
    """The storageUri patches of InferenceServices; only those with an oci:// value are pins."""
    found = modelcar.fast_find(text) if modelcar.may_hold_pin(text) else []
    if found is None:
        if root is None:
            root, _ = _root_and_images(text, source)
        found = modelcar.find(root, text, source)
    return [f for f in found if f.value.startswith(modelcar.SCHEME) or f.error or not oci_only]


def _modelcar_pins(text: str, source: str, root: MappingNode | None, only: str | None = None) -> list[tuple[modelcar.Found, Pin]]:
    """Each modelcar pin (an oci:// storageUri patch) with its Pin form; see _readable."""
    if not modelcar.may_hold_pin(text):
        return []
    return _readable(_modelcar_found(text, source, root), source, only)


def _readable(patches: list[modelcar.Found], source: str, only: str | None) -> list[tuple[modelcar.Found, Pin]]:
    """The pins read from storageUri patches. One the tool cannot read (or a malformed URI) is bad
    input; with ``only``, for that pin alone: another model's broken patch is left out, never blocks."""
    out = []
    for found in patches:
        try:
            if found.error:
                raise InputError(found.error)
            repository, tag, digest = modelcar.split_uri(found.value, f"{source}:{found.line}")
        except InputError:
            if only is None or only == found.pin_name:
                raise
            continue
        out.append((found, Pin(found.pin_name, repository, tag, digest, line=found.line)))
    return out


def pins(text: str, source: str, only: str | None = None) -> tuple[Pin, ...]:
    """Every pin of a kustomization text: the fast reader when it can, else the parser (which also
    refuses what is malformed; see ``parse`` for ``only``). The one reader of pins; ``read_pin_fields`` is its tuple form."""
    fields = _fast_fields(text, source, only)
    if fields is None:
        return parse(text, source, only).pins
    return tuple(Pin(name=n, new_name=nn, new_tag=t, digest=d) for n, nn, t, d in fields)


def read_pin_fields(path: Path, source: str) -> list[tuple[str, str | None, str | None, str | None]]:
    """(name, newName, newTag, digest) of every pin of a kustomization file: fast when it can be."""
    text = read_text(path, source)
    fields = _fast_fields(text, source)
    if fields is None:
        fields = [(p.name, p.new_name, p.new_tag, p.digest) for p in parse(text, source).pins]
    return fields


def _root_and_images(text: str, source: str) -> tuple[MappingNode | None, SequenceNode | None]:
    root = compose(text, source)
    if root is None:
        return None, None
    if not isinstance(root, MappingNode):
        raise InputError(f"{source}:{line_of(root)}: a kustomization must be a mapping")
    pair = mapping_get(root, "images")
    if pair is None:
        return root, None
    value = pair[1]
    if isinstance(value, ScalarNode) and value.tag.endswith(":null"):
        return root, None
    if not isinstance(value, SequenceNode):
        raise InputError(f"{source}:{line_of(value)}: images must be a list")
    return root, value


def _pins_of(images: SequenceNode | None, source: str) -> tuple[Pin, ...]:
    """Every pin of an ``images:`` node; two entries for one image are an error, never a guess."""
    pins = tuple(_pin_of(entry, source) for entry in images.value) if images is not None else ()
    seen: dict[str, int] = {}
    for pin in pins:
        if pin.name in seen:
            raise InputError(f"{source}:{pin.line}: two images entries for {pin.name!r} (first at line {seen[pin.name]})")
        seen[pin.name] = pin.line
    return pins


def _pin_of(entry: Node, source: str) -> Pin:
    if not isinstance(entry, MappingNode):
        raise InputError(f"{source}:{line_of(entry)}: an images entry must be a mapping")
    fields: dict[str, str] = {}
    for key, value in entry.value:
        if not isinstance(value, ScalarNode) or value.style in ("|", ">"):
            raise InputError(f"{source}:{line_of(value)}: images entry field {key.value!r} must be a plain string")
        fields[key.value] = value.value
    if not fields.get("name"):
        raise InputError(f"{source}:{line_of(entry)}: an images entry has no name")
    return Pin(
        name=fields["name"],
        new_name=fields.get("newName"),
        new_tag=fields.get("newTag"),
        digest=fields.get("digest"),
        line=line_of(entry),
    )


# ---------------------------------------------------------------- the edit


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
