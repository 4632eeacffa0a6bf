"""A modelcar's canary: the ``canaryTrafficPercent`` of its InferenceService's predictor, set by one
more op in the storageUri patch the tool owns (``modelcar``)::

    patch: |-
      - op: replace
        path: /spec/predictor/model/storageUri
        value: oci://quay.io/example/fraud-detector:1.4.0@sha256:…
      - op: add
        path: /spec/predictor/canaryTrafficPercent
        value: 10

``add`` sets the field whether or not the base has it (RFC 6902). An edit changes only that op's
lines: its value in place, the op added after the storageUri op, or the op removed. The patch must
be a literal block (the form the tool writes); any other style is bad input that says so.
"""

from __future__ import annotations

from gitops_mlops.core.errors import InputError
from gitops_mlops.pins import modelcar
from gitops_mlops.pins.modelcar import Found
from gitops_mlops.yamltext.nodes import MappingNode, ScalarNode, SequenceNode, compose, line_of

CANARY_PATH = "/spec/predictor/canaryTrafficPercent"


def read_canary(text: str, source: str, name: str) -> int | None:
    """The canaryTrafficPercent the storageUri patch of ``name`` sets; None when it sets none (or there is no patch)."""
    pin = _pin(text, source, name)
    if pin is None:
        return None
    op = _ops(pin, source)[1]
    return None if op is None else _percent(op, f"{source}:{line_of(pin.patch)}")


def set_canary(text: str, source: str, name: str, percent: int | None) -> str:
    """``text`` with the storageUri patch of ``name`` setting canaryTrafficPercent to ``percent`` (None: not at all)."""
    pin = _pin(text, source, name)
    if pin is None:
        if percent is None:
            return text
        raise InputError(f"{source}: no storageUri patch for {name} to set canaryTrafficPercent in")
    where = f"{source}:{line_of(pin.patch)}"
    storage, op = _ops(pin, source)
    current = None if op is None else _percent(op, where)
    if current == percent and (op is None or percent is None or _plain(op)):
        return text
    if pin.patch.style != "|":
        raise InputError(f"{where}: the patch of {name} is not a literal block; write it as one (patch: |-) to set canaryTrafficPercent")
    block = _Block(text, pin.patch)
    if op is None:
        edited = block.insert_after(_last_line(storage), _new_op(block, storage, percent))
    elif percent is None:
        edited = block.remove(op.start_mark.line, _last_line(op))
    else:
        value = _value(op)
        edited = block.replace(value.start_mark.line, value.start_mark.column, value.end_mark.column, str(percent))
    if read_canary(edited, source, name) != percent or _pin(edited, source, name).value != pin.value:
        raise InputError(f"{where}: the patch of {name} cannot take canaryTrafficPercent here; write it in the form the tool writes (patch: |-)")
    return edited


def _pin(text: str, source: str, name: str) -> Found | None:
    pin = next((f for f in modelcar.find(compose(text, source), text, source) if f.pin_name == name), None)
    if pin is not None and pin.error:
        raise InputError(pin.error)
    return pin


def _ops(pin: Found, source: str) -> tuple[MappingNode, MappingNode | None]:
    """(the storageUri op, the canaryTrafficPercent op or None) of the pin's decoded patch."""
    where = f"{source}:{line_of(pin.patch)}"
    ops = compose(pin.patch.value, where)
    assert isinstance(ops, SequenceNode)  # modelcar.find read a storageUri op from it
    storage, canary = None, []
    for op in ops.value:
        fields = {k.value: v for k, v in op.value} if isinstance(op, MappingNode) else {}
        path = fields.get("path")
        if isinstance(path, ScalarNode) and path.value == modelcar.STORAGE_PATH:
            storage = op
        elif isinstance(path, ScalarNode) and path.value == CANARY_PATH:
            canary.append(op)
    if len(canary) > 1:
        raise InputError(f"{where}: the patch of {pin.pin_name} sets canaryTrafficPercent twice")
    if canary and (canary[0].flow_style or storage.flow_style):
        raise InputError(f"{where}: the canaryTrafficPercent op of {pin.pin_name} must be a block mapping (- op: add)")
    return storage, canary[0] if canary else None


def _value(op: MappingNode) -> ScalarNode:
    return next(v for k, v in op.value if k.value == "value")


def _percent(op: MappingNode, where: str) -> int:
    fields = {k.value: v for k, v in op.value}
    kind, value = fields.get("op"), fields.get("value")
    if not isinstance(kind, ScalarNode) or kind.value not in ("add", "replace") or not isinstance(value, ScalarNode):
        raise InputError(f"{where}: the canaryTrafficPercent op must be 'add' (or 'replace') with a value")
    text = value.value
    if (
        not (text.isascii() and text.isdigit() and len(text) <= 3)
        or int(text) > 100
        or value.style in ("|", ">")
        or value.start_mark.line != value.end_mark.line
    ):
        raise InputError(f"{where}: canaryTrafficPercent {text[:20]!r} is not a whole number from 0 to 100")
    return int(text)


def _plain(op: MappingNode) -> bool:
    """Whether the op's value is the plain integer the tool writes (a quoted '10' is a string: KServe refuses it)."""
    return _value(op).style in ("", None)


def _last_line(op: MappingNode) -> int:
    """The decoded line the op's last value ends on."""
    return max(v.end_mark.line if v.end_mark.column else v.end_mark.line - 1 for _, v in op.value)


def _new_op(block: _Block, storage: MappingNode, percent: int) -> list[str]:
    """The lines of a new canaryTrafficPercent op, dashed and indented as the storageUri op."""
    line = block.decoded[storage.start_mark.line]
    dash = len(line) - len(line.lstrip(" "))
    keys = " " * storage.start_mark.column
    first = " " * dash + "-" + " " * (storage.start_mark.column - dash - 1)
    return [first + "op: add", keys + f"path: {CANARY_PATH}", keys + f"value: {percent}"]


class _Block:
    """A literal block scalar's lines in the text, by the decoded line they hold."""

    def __init__(self, text: str, node: ScalarNode) -> None:
        self.text = text
        self.newline = "\r\n" if "\r\n" in text else "\n"
        start = text.index("\n", node.start_mark.index) + 1  # after the indicator line
        lines = text[start : node.end_mark.index].split("\n")
        self.indent = next((len(x) - len(x.lstrip(" ")) for x in lines if x.strip()), 0)
        self.starts = [start]
        for line in lines[:-1]:
            self.starts.append(self.starts[-1] + len(line) + 1)
        self.decoded = node.value.split("\n")

    def _end(self, line: int) -> int:
        """The offset just past line ``line``'s newline (the text's end when it has none)."""
        end = self.text.find("\n", self.starts[line])
        return len(self.text) if end < 0 else end + 1

    def insert_after(self, line: int, new: list[str]) -> str:
        at = self._end(line)
        body = "".join(" " * self.indent + x + self.newline for x in new)
        if at == len(self.text) and not self.text.endswith("\n"):
            body = self.newline + body[: -len(self.newline)]
        return self.text[:at] + body + self.text[at:]

    def remove(self, first: int, last: int) -> str:
        start, end = self.starts[first], self._end(last)
        if end == len(self.text) and not self.text.endswith("\n"):
            start -= len(self.newline)  # the last line of the file: its newline before goes instead
        return self.text[:start] + self.text[end:]

    def replace(self, line: int, start: int, end: int, value: str) -> str:
        at = self.starts[line] + self.indent
        return self.text[: at + start] + value + self.text[at + end :]


def rolled_back(text: str, source: str, name: str) -> str:
    """``text`` with a canaryTrafficPercent its patch sets put to 0 (none set: unchanged): all traffic back to
    the previous revision at once, as KServe does for 0, while the storageUri is restored beside it."""
    if "canaryTrafficPercent" not in text or read_canary(text, source, name) is None:
        return text
    return set_canary(text, source, name, 0)
