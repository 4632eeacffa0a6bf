"""Modelcar pins: an InferenceService's ``storageUri: oci://REPO:TAG@sha256:…``, set per site by
a JSON 6902 patch the tool owns in the site's kustomization.

kustomize's ``images:`` transformer would drop the ``oci://`` scheme, so a modelcar is pinned
by one ``replace`` of ``/spec/predictor/model/storageUri``::

    patches:
      - target:
          kind: InferenceService
          name: fraud-detector
        patch: |-
          - op: replace
            path: /spec/predictor/model/storageUri
            value: oci://quay.io/example/fraud-detector:1.0.0@sha256:…

The pin is read and edited like an ``images:`` entry (newName, newTag, digest), as a text
splice inside the block scalar: only the bytes of the URI change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitops_mlops import yamledit
from gitops_mlops.errors import InputError
from gitops_mlops.imageref import parse_image
from gitops_mlops.yamlnodes import MappingNode, Node, ScalarNode, SequenceNode, compose, line_of, mapping_get

KIND = "InferenceService"
STORAGE_PATH = "/spec/predictor/model/storageUri"
SCHEME = "oci://"
FIELDS = ("newName", "newTag", "digest")

# The form this tool writes, read without the parser: groups (indent, name, uri).
_FAST = re.compile(
    r"^( *)- target:\n\1    kind: InferenceService\n\1    name: ([a-z0-9.-]+)\n\1  patch: \|-\n"
    r"\1    - op: replace\n\1      path: /spec/predictor/model/storageUri\n\1      value: (oci://[^\s#'\"]+)\n",
    re.M,
)


def modelcar_pin_name(inference_service: str) -> str:
    """The pin name of an InferenceService's modelcar; image names are lowercase, so it never collides with one."""
    return f"{KIND}/{inference_service}"


def is_modelcar_pin(name: str) -> bool:
    return name.startswith(KIND + "/")


def split_uri(value: str, where: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of ``oci://REPO[:TAG][@sha256:…]``; anything else is bad input."""
    if not value.startswith(SCHEME):
        raise InputError(f"{where}: storageUri {value!r} is not oci://REPOSITORY[:TAG][@sha256:DIGEST]")
    try:
        ref = parse_image(value[len(SCHEME) :])
    except InputError as exc:
        raise InputError(f"{where}: storageUri {value!r}: {exc}") from None
    return ref.repository, ref.tag or None, ref.digest or None


def format_uri(new_name: str, new_tag: str | None, digest: str | None) -> str:
    return SCHEME + new_name + (f":{new_tag}" if new_tag else "") + (f"@{digest}" if digest else "")


@dataclass(frozen=True)
class Found:
    """One modelcar pin in a kustomization text."""

    pin_name: str
    value: str  # the whole URI
    start: int  # its span in the text
    end: int
    line: int
    entry: Node | None = None  # the patches[] item (None: read by the fast reader)


def fast_find(text: str) -> list[Found] | None:
    """The modelcar pins in the form this tool writes; None when another form may hold one."""
    if STORAGE_PATH not in text:
        return []
    if "\r" in text:
        return None
    found = [Found(modelcar_pin_name(m.group(2)), m.group(3), m.start(3), m.end(3), text.count("\n", 0, m.start(3)) + 1) for m in _FAST.finditer(text)]
    unique = len({f.pin_name for f in found}) == len(found)  # two patches of one storageUri: the parser names the error
    return found if unique and len(found) == text.count(STORAGE_PATH) else None


def find(root: MappingNode | None, text: str, source: str) -> list[Found]:
    """Every modelcar pin among the kustomization's ``patches:``, by the parser."""
    pair = mapping_get(root, "patches") if root is not None else None
    if pair is None or not isinstance(pair[1], SequenceNode):
        return []
    found: list[Found] = []
    for entry in pair[1].value:
        name = _target_name(entry)
        patch = mapping_get(entry, "patch") if name else None
        if patch is None or not isinstance(patch[1], ScalarNode):
            continue
        spot = _storage_value(text, patch[1], source)
        if spot is None:
            continue
        pin_name = modelcar_pin_name(name)
        if any(f.pin_name == pin_name for f in found):
            raise InputError(f"{source}:{line_of(entry)}: two patches set the storageUri of {pin_name}")
        found.append(Found(pin_name, *spot, entry=entry))
    return found


def _target_name(entry: Node) -> str | None:
    if not isinstance(entry, MappingNode):
        return None
    target = mapping_get(entry, "target")
    if target is None or not isinstance(target[1], MappingNode):
        return None
    fields = {k.value: v.value for k, v in target[1].value if isinstance(v, ScalarNode)}
    if fields.get("kind") != KIND or not fields.get("name"):
        return None
    return fields["name"]


def _storage_value(text: str, patch: ScalarNode, source: str) -> tuple[str, int, int, int] | None:
    """(value, start, end, line) of the storageUri op's value in a JSON 6902 patch held as a block scalar."""
    if STORAGE_PATH not in patch.value:
        return None
    where = f"{source}:{line_of(patch)}"
    if patch.style != "|":
        raise InputError(f"{where}: a modelcar patch must be a literal block (patch: |-) to be edited in place")
    ops = compose(patch.value, where)
    if not isinstance(ops, SequenceNode):
        return None  # a strategic-merge patch: not one this tool owns
    for op in ops.value:
        if not isinstance(op, MappingNode):
            continue
        fields = {k.value: v for k, v in op.value}
        path = fields.get("path")
        if not isinstance(path, ScalarNode) or path.value != STORAGE_PATH:
            continue
        value = fields.get("value")
        kind = fields.get("op")
        if not isinstance(kind, ScalarNode) or kind.value not in ("replace", "add") or not isinstance(value, ScalarNode) or value.style in ("|", ">"):
            raise InputError(f"{where}: the storageUri op must be 'replace' (or 'add') with a one-line value")
        if value.start_mark.line != value.end_mark.line:
            raise InputError(f"{where}: the storageUri value must be on one line")
        start = _offset(text, patch, value.start_mark.line, value.start_mark.column)
        end = start + (value.end_mark.column - value.start_mark.column)
        return value.value, start, end, text.count("\n", 0, start) + 1
    return None


def _offset(text: str, block: ScalarNode, line: int, column: int) -> int:
    """The text offset of (line, column) of a literal block scalar's content."""
    lines = text[text.index("\n", block.start_mark.index) + 1 : block.end_mark.index].split("\n")  # after the indicator line
    indent = next(len(x) - len(x.lstrip(" ")) for x in lines if x.strip())
    return text.index("\n", block.start_mark.index) + 1 + sum(len(x) + 1 for x in lines[:line]) + indent + column


def new_entry(inference_service: str, uri: str, dash_col: int, newline: str) -> str:
    pad = " " * dash_col
    lines = [
        f"{pad}- target:",
        f"{pad}    kind: {KIND}",
        f"{pad}    name: {inference_service}",
        f"{pad}  patch: |-",
        f"{pad}    - op: replace",
        f"{pad}      path: {STORAGE_PATH}",
        f"{pad}      value: {uri}",
    ]
    return newline.join(lines) + newline


def format_value(uri: str, style_of: str) -> str:
    """The URI as written in place of ``style_of`` (the old value as it stands in the text)."""
    style = style_of[0] if style_of[:1] in ("'", '"') else None
    return yamledit.format_scalar(uri, style) if style else uri
