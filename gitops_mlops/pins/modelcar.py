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

The pin is read like an ``images:`` entry (newName, newTag, digest), from a patch in any YAML
scalar style (literal, folded, plain, single- or double-quoted). Reading also finds where the
URI's bytes stand in the text, when an edit there changes the decoded patch by exactly the URI
(checked with a probe); ``modelcaredit`` splices there, or rewrites the patch as a literal block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitops_mlops.core.errors import InputError
from gitops_mlops.core.imageref import parse_image
from gitops_mlops.yamltext.nodes import MappingNode, Node, ScalarNode, SequenceNode, compose, line_of, mapping_get

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
    start: int  # the span of the URI's bytes in the text; -1: the patch must be rewritten to change it
    end: int
    line: int
    entry: Node | None = None  # the patches[] item (None: read by the fast reader)
    patch: ScalarNode | None = None  # its patch: scalar (None: read by the fast reader)
    error: str = ""  # why this pin cannot be read: it blocks its own model, no other

    @property
    def in_place(self) -> bool:
        return self.start >= 0


def may_hold_pin(text: str) -> bool:
    """False when no patch in the text can set the storageUri (only a double-quoted escape hides its path)."""
    return STORAGE_PATH in text or "\\" in text


def fast_find(text: str) -> list[Found] | None:
    """The modelcar pins in the form this tool writes; None when another form may hold one."""
    if not may_hold_pin(text):
        return []
    if "\r" in text or "\\" in text:
        return None
    found = [Found(modelcar_pin_name(m.group(2)), m.group(3), m.start(3), m.end(3), text.count("\n", 0, m.start(3)) + 1) for m in _FAST.finditer(text)]
    unique = len({f.pin_name for f in found}) == len(found)  # two patches of one storageUri: the parser names the error
    return found if unique and len(found) == text.count(STORAGE_PATH) else None


def find(root: MappingNode | None, text: str, source: str) -> list[Found]:
    """Every modelcar pin among the kustomization's ``patches:``, by the parser, in any scalar style.

    A pin the tool cannot read comes back with its ``error``: it blocks its own model only."""
    pair = mapping_get(root, "patches") if root is not None else None
    if pair is None or not isinstance(pair[1], SequenceNode):
        return []
    found: dict[str, Found] = {}
    for entry in pair[1].value:
        name = _target_name(entry)
        patch = mapping_get(entry, "patch") if name else None
        if patch is None or not isinstance(patch[1], ScalarNode):
            continue
        pin_name, where = modelcar_pin_name(name), f"{source}:{line_of(patch[1])}"
        try:
            spot = _storage_value(text, patch[1], where)
        except InputError as exc:
            spot, error = (), str(exc)
        else:
            error = ""
        if spot is None:
            continue
        if pin_name in found:
            error = f"{source}:{line_of(entry)}: two patches set the storageUri of {pin_name}"
        found[pin_name] = (
            Found(pin_name, *spot, entry=entry, patch=patch[1], error=error)
            if not error
            else Found(pin_name, "", -1, -1, line_of(entry), entry, patch[1], error)
        )
    return list(found.values())


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


def _storage_value(text: str, patch: ScalarNode, where: str) -> tuple[str, int, int, int] | None:
    """(value, start, end, line) of the storageUri op's value in a JSON 6902 patch held as a scalar
    of any style; start and end are -1 when its bytes cannot be replaced in place."""
    if STORAGE_PATH not in patch.value:
        return None
    try:
        ops = compose(patch.value, "patch")
    except InputError as exc:
        raise InputError(f"{where}: the storageUri patch cannot be read: {str(exc).split(': ', 1)[-1]}") from None
    value = storage_node(ops, where)
    if value is None:
        return None
    start = _uri_start(text, patch, value)
    if start >= 0 and not _splice_keeps_patch(text, patch, start, value.value, where):
        start = -1
    return value.value, start, start + len(value.value) if start >= 0 else -1, text.count("\n", 0, max(start, patch.start_mark.index)) + 1


def storage_node(ops: Node | None, where: str) -> ScalarNode | None:
    """The value node of the storageUri op of a decoded JSON 6902 patch (None: no such op)."""
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
        return value
    return None


def _uri_start(text: str, patch: ScalarNode, value: ScalarNode) -> int:
    """Where the URI's bytes stand in the text, or -1 (escaped, split, or written more than once)."""
    uri = value.value
    if not uri or patch.value.count(uri) != 1:
        return -1
    if patch.style == "|":  # a literal block: the value's line and column map to the text directly
        start = _literal_offset(text, patch, value.start_mark.line, value.start_mark.column) + (value.style in ("'", '"'))
        return start if text.startswith(uri, start) else -1
    raw = text[patch.start_mark.index : patch.end_mark.index]
    return patch.start_mark.index + raw.index(uri) if raw.count(uri) == 1 else -1


def _literal_offset(text: str, block: ScalarNode, line: int, column: int) -> int:
    """The text offset of (line, column) of a literal block scalar's content."""
    lines = text[text.index("\n", block.start_mark.index) + 1 : block.end_mark.index].split("\n")  # after the indicator line
    indent = next(len(x) - len(x.lstrip(" ")) for x in lines if x.strip())
    return text.index("\n", block.start_mark.index) + 1 + sum(len(x) + 1 for x in lines[:line]) + indent + column


_PROBE = "oci://probe.invalid/gitops-mlops_probe:0.0.0-X_y@sha256:" + "0" * 64


def _splice_keeps_patch(text: str, patch: ScalarNode, start: int, uri: str, where: str) -> bool:
    """Whether replacing the URI's bytes at ``start`` changes the decoded patch by exactly the URI
    (checked with a probe URI of every character a URI holds): then an edit in place is exact."""
    probe = text[:start] + _PROBE + text[start + len(uri) :]
    try:
        decoded = scalar_at(compose(probe, where), patch.start_mark.index)
    except InputError:
        return False
    return decoded is not None and decoded.style == patch.style and decoded.value == patch.value.replace(uri, _PROBE)


def scalar_at(root: Node | None, index: int) -> ScalarNode | None:
    """The scalar node that starts at ``index`` of the text ``root`` was composed from."""
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, ScalarNode) and node.start_mark.index == index:
            return node
        if isinstance(node, MappingNode):
            stack += [v for _, v in node.value]
        elif isinstance(node, SequenceNode):
            stack += node.value
    return None


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
