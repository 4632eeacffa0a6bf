"""The model registry's labels on a modelcar's InferenceService, kept in the storageUri patch the tool owns.

The OpenShift AI dashboard links a deployment to its registered version by two labels on the
InferenceService (``LABELS``: the RegisteredModel's id and the ModelVersion's id). A promotion of a
registered version writes them as two ``add`` ops in the same JSON 6902 patch that pins the
storageUri, after its op, so one edit moves the URI and the labels together::

    patch: |-
      - op: replace
        path: /spec/predictor/model/storageUri
        value: oci://quay.io/example/fraud-detector:1.4.0@sha256:…
      - op: add
        path: /metadata/labels/modelregistry.opendatahub.io~1registered-model-id
        value: "1"
      - op: add
        path: /metadata/labels/modelregistry.opendatahub.io~1model-version-id
        value: "7"

A promotion of an image that was not registered removes them (the deployment runs no registered
version; labels left behind would name one it does not run). A JSON 6902 ``add`` needs
``metadata.labels`` to exist in what the patch applies to: an InferenceService without labels fails
its render (exit 4), as kustomize says. In a literal block only the lines of these ops change;
another scalar style is rewritten as a literal block, and the edit says so.
"""

from __future__ import annotations

from gitops_mlops.core.errors import InputError
from gitops_mlops.pins import modelcar
from gitops_mlops.pins.modelcaredit import literal_block
from gitops_mlops.yamltext import edit as yamledit
from gitops_mlops.yamltext.nodes import MappingNode, ScalarNode, SequenceNode, compose, line_of, mapping_get

REGISTERED_MODEL_ID = "modelregistry.opendatahub.io/registered-model-id"
MODEL_VERSION_ID = "modelregistry.opendatahub.io/model-version-id"
LABELS = (REGISTERED_MODEL_ID, MODEL_VERSION_ID)


def label_path(label: str) -> str:
    """The JSON pointer of a label (RFC 6901: ``~`` as ``~0``, ``/`` as ``~1``)."""
    return "/metadata/labels/" + label.replace("~", "~0").replace("/", "~1")


PATHS = {label_path(label): label for label in LABELS}


def registry_labels(model_id: str, version_id: str) -> dict[str, str]:
    """The labels linking an InferenceService to a registered version, in the order they are written."""
    return {REGISTERED_MODEL_ID: model_id, MODEL_VERSION_ID: version_id}


def labels_of(text: str, source: str, name: str) -> dict[str, str]:
    """The registry's labels the modelcar patch of ``name`` sets ({} when none, or no such patch)."""
    pin = _pin(text, source, name)
    if pin is None:
        return {}
    items = _ops(pin.patch.value, f"{source}:{line_of(pin.patch)}")[1]
    return {PATHS[path]: value for path, (_, value) in items.items()}


def set_labels(text: str, source: str, name: str, labels: dict[str, str] | None) -> tuple[str, str]:
    """(``text`` with the modelcar patch of ``name`` setting exactly ``labels`` of the registry's
    (None or {}: none), a note when the patch was rewritten as a literal block)."""
    labels = {k: v for k, v in (labels or {}).items() if k in LABELS}
    if not labels and "opendatahub" not in text and "\\" not in text:
        return text, ""  # none to write and none written, not even in an escaped form: nothing to read
    pin = _pin(text, source, name)
    if pin is None:
        if labels:
            raise InputError(f"{source}: no storageUri patch for {name} to carry the model registry's labels")
        return text, ""
    where = f"{source}:{line_of(pin.patch)}"
    edit = _line_edit(pin.patch.value, where, labels)
    if edit is None:
        return text, ""
    content = "\n".join(_apply(pin.patch.value.split("\n"), edit))
    if pin.patch.style == "|":
        return _in_literal(text, source, pin, edit, content), ""
    style = {"": "plain", None: "plain", "'": "single-quoted", '"': "double-quoted", ">": "folded"}.get(pin.patch.style, pin.patch.style)
    note = f"{where}: the {style} patch of {name} cannot take the model registry's labels in place; rewritten as a literal block (patch: |-)"
    return _as_literal(text, source, pin, content), note


def _pin(text: str, source: str, name: str) -> modelcar.Found | None:
    pin = next((f for f in modelcar.find(compose(text, source), text, source) if f.pin_name == name), None)
    if pin is not None and pin.error:
        raise InputError(pin.error)
    return pin


def _ops(content: str, where: str) -> tuple[SequenceNode, dict[str, tuple[MappingNode, str]]]:
    """The decoded patch's ops, and its label ops by path: (the op, its value)."""
    ops = compose(content, where)
    if not isinstance(ops, SequenceNode):
        raise InputError(f"{where}: the storageUri patch must be a list of ops to carry the model registry's labels")
    found: dict[str, tuple[MappingNode, str]] = {}
    for op in ops.value:
        fields = {k.value: v for k, v in op.value} if isinstance(op, MappingNode) else {}
        path = fields.get("path")
        if isinstance(path, ScalarNode) and path.value in PATHS:
            value = fields.get("value")
            if op.flow_style or path.value in found or not isinstance(value, ScalarNode):
                raise InputError(f"{where}: the op of label {PATHS[path.value]} must be one block mapping with a one-line value")
            found[path.value] = (op, value.value)
    return ops, found


def _line_edit(content: str, where: str, labels: dict[str, str]) -> tuple[set[int], int, list[str]] | None:
    """How the decoded patch's lines change to set ``labels``: (lines dropped, the line the new ops
    follow, the new ops' lines); None when the patch sets them already."""
    ops, found = _ops(content, where)
    if [(p, v) for p, (_, v) in found.items()] == [(label_path(k), v) for k, v in labels.items()]:
        return None
    if ops.flow_style:
        raise InputError(f"{where}: the storageUri patch must be a block list of ops to carry the model registry's labels")
    storage = next(op for op in ops.value if modelcar.storage_node(SequenceNode(ops.tag, [op]), where) is not None)
    drop: set[int] = set()
    for op, _ in found.values():
        drop.update(range(op.start_mark.line, _last_line(content, op) + 1))
    dash, key = yamledit.dash_column(content, storage), storage.start_mark.column
    new = []
    for label, value in labels.items():
        if not value.isdigit():
            raise InputError(f"{where}: label {label} value {value!r} is not a model registry id")
        new += [" " * dash + "-" + " " * (key - dash - 1) + "op: add", " " * key + f"path: {label_path(label)}", " " * key + f'value: "{value}"']
    return drop, _last_line(content, storage), new


def _apply(lines: list[str], edit: tuple[set[int], int, list[str]]) -> list[str]:
    drop, after, new = edit
    out = []
    for number, line in enumerate(lines):
        if number not in drop:
            out.append(line)
        if number == after:
            out += new
    return out


def _last_line(content: str, node) -> int:
    """The line (0-based) of the last character of a node's own content."""
    return content.count("\n", 0, max(yamledit.content_end(node) - 1, node.start_mark.index))


def _in_literal(text: str, source: str, pin: modelcar.Found, edit: tuple[set[int], int, list[str]], content: str) -> str:
    """``text`` with the literal block ``pin.patch`` edited line by line: only the label ops' lines change."""
    start = text.index("\n", pin.patch.start_mark.index) + 1
    old = pin.patch.value
    lines, at = [], start
    for _ in range(len((old[:-1] if old.endswith("\n") else old).split("\n"))):
        end = text.find("\n", at)
        end = len(text) if end < 0 else end + 1
        lines.append(text[at:end])
        at = end
    newline = "\r\n" if lines[0].endswith("\r\n") else "\n"
    indent = next(len(x) - len(x.lstrip(" ")) for x in lines if x.strip())
    drop, after, new = edit
    body = "".join(line if line.endswith("\n") else line + newline for line in _apply(lines, (drop, after, [" " * indent + n for n in new])))
    if not text[:at].endswith("\n"):
        body = body[: -len(newline)]
    return _checked(text[:start] + body + text[at:], source, pin, content)


def _as_literal(text: str, source: str, pin: modelcar.Found, content: str) -> str:
    """``text`` with the patch of ``pin`` written as a literal block holding ``content``."""
    where = f"{source}:{line_of(pin.patch)}"
    key = mapping_get(pin.entry, "patch")[0]
    line_end = yamledit.end_of_line(text, pin.patch.end_mark.index)
    rest = text[pin.patch.end_mark.index : line_end]
    if pin.entry.flow_style or rest.strip() and not rest.strip().startswith("#"):
        raise InputError(f"{where}: the patch of {pin.pin_name} is not a block mapping value; write it as a literal block (patch: |-)")
    newline = "\r\n" if "\r\n" in text else "\n"
    header, body = literal_block(content, key.start_mark.column + 2, key.start_mark.column, newline)
    if not rest.endswith("\n") and line_end < len(text):  # a block scalar's end lies past its line break
        rest += newline
    if line_end == len(text) and not text.endswith("\n"):
        body = newline + body[: -len(newline)]
    return _checked(text[: pin.patch.start_mark.index] + header + rest + body + text[line_end:], source, pin, content)


def _checked(edited: str, source: str, pin: modelcar.Found, content: str) -> str:
    written = modelcar.scalar_at(compose(edited, source), pin.patch.start_mark.index)
    if written is None or written.value != content:
        raise InputError(
            f"{source}:{line_of(pin.patch)}: the patch of {pin.pin_name} cannot take the model registry's labels; write it as a literal block (patch: |-)"
        )
    return edited
