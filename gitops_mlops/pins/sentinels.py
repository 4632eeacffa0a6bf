"""Pin-invariant renders: a site rendered once with its pin values replaced by sentinels serves
every later render that differs only in pin values, by substituting the values for the sentinels.

kustomize's images transformer writes a pin's newName, newTag and digest into image fields
and nowhere else, so the rendered output with the real values is exactly the sentinel
render with each sentinel string replaced by its value, provided the sentinel keeps the
pin's shape (which fields it has) and every value is a plain image token that YAML
writes unquoted. Where that cannot be assured (an unusual value, an unreadable file) the
site has no pin-invariant form and renders with kustomize as always.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from gitops_mlops.core.errors import GitOpsError
from gitops_mlops.core.names import DIGEST_RE
from gitops_mlops.pins import kustomization, modelcar
from gitops_mlops.pins.pinread import Pin
from gitops_mlops.yamltext import edit as yamledit

_SAFE = {
    "newName": re.compile(r"^[a-z0-9][a-z0-9._/:-]*[a-z0-9]$"),
    "newTag": re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"),
    "digest": DIGEST_RE,
}
_SENTINEL_RE = re.compile(r"gitops-mlops-pin-\d{4}-[nt]|sha256:(?:5e){28}[0-9a-f]{8}")
_SENTINEL_STARTS = ("gitops-mlops-pin-", "sha256:" + "5e" * 28)  # each match of _SENTINEL_RE starts with one


def has_sentinel(text: str) -> bool:
    """Whether a sentinel is in ``text``: ``_SENTINEL_RE.search``, asked only of a text holding the
    literal start of one (a regular expression that begins with an alternation is tried at every
    position; ``in`` finds a literal at C speed)."""
    return any(start in text for start in _SENTINEL_STARTS) and _SENTINEL_RE.search(text) is not None


def sentinel(index: int, field: str) -> str:
    if field == "newName":
        return f"sentinel.invalid/gitops-mlops-pin-{index:04d}-n"
    if field == "newTag":
        return f"gitops-mlops-pin-{index:04d}-t"
    return "sha256:" + "5e" * 28 + f"{index:08x}"


@dataclass(frozen=True)
class PinInvariant:
    text: str  # the kustomization with every pin value replaced by its sentinel
    values: tuple[tuple[str, str], ...]  # (sentinel, real value), longest sentinels first

    def substitute(self, rendered: str) -> str:
        for token, value in self.values:
            rendered = rendered.replace(token, value)
        return rendered


def pin_invariant(text: str, source: str, shapes: dict | None = None) -> PinInvariant | None:
    """The sentinel form of a kustomization, or None when its pins cannot be made invariant.

    ``shapes`` keeps the form of each text shape seen (the text outside its pin values, and each
    value's field and quoting), so texts that differ only in pin values (one site's kustomization
    along its promotions) are put in sentinel form once."""
    if has_sentinel(text):
        return None  # a sentinel already in the file would be substituted too
    try:
        spans = kustomization.pin_value_spans(text, source)
    except GitOpsError:
        return None
    if not spans or not all(_SAFE[field].match(value) for field, _, _, value, _ in spans):
        return None
    shape = _shape(text, spans)
    known = shapes.get(shape) if shapes is not None else None
    if known is None:
        tokens = tuple(sentinel(index, field) for index, (field, *_) in enumerate(spans))
        order = tuple(sorted(range(len(tokens)), key=lambda i: -len(tokens[i])))  # longest sentinels first
        known = (_filled(shape, spans), tokens, order)
        if shapes is not None:
            shapes[shape] = known
    form, tokens, order = known
    return PinInvariant(form, tuple((tokens[i], spans[i][3]) for i in order))


def _shape(text: str, spans: list[tuple[str, int, int, str, str | None]]) -> tuple:
    """What decides a text's sentinel form: the text outside its pin values and, in the order of
    ``spans``, each value's field, quoting and place among them."""
    placed = sorted(range(len(spans)), key=lambda i: spans[i][1])
    segments, at = [], 0
    for i in placed:
        segments.append(text[at : spans[i][1]])
        at = spans[i][2]
    segments.append(text[at:])
    return ("shape", tuple(segments), tuple((i, spans[i][0], spans[i][4]) for i in placed))


@functools.cache
def _written(index: int, field: str, style: str | None) -> str:
    """The sentinel of a pin value as the file writes it: in the value's quoting style."""
    return yamledit.format_scalar(sentinel(index, field), style)


def _filled(shape: tuple, spans: list[tuple[str, int, int, str, str | None]]) -> str:
    """The text outside the pin values (``shape``'s segments) with each value's sentinel, as written, in
    its place: ``yamledit.apply_edits`` of those edits, the values' spans being apart and never empty."""
    _, segments, placed = shape
    parts = [segments[0]]
    for (index, field, style), segment in zip(placed, segments[1:], strict=True):
        parts.append(_written(index, field, style))
        parts.append(segment)
    return "".join(parts)


_HEADER = re.compile(r"(?:[ \t]*(?:#[^\n]*)?\n)*")


def leading_comments(text: str) -> int:
    """Where the text after its leading comment and blank lines starts (a site's own header)."""
    return _HEADER.match(text).end()


def pin_invariant_shared(text: str, source: str, memo: dict[str, PinInvariant | None], shapes: dict | None = None) -> PinInvariant | None:
    """``pin_invariant`` for many kustomizations that differ only in their leading comment lines
    (sites made from one template, each with its own header): the rest is worked out once per text.
    The same result: comment lines hold no pin and move no pin's place within the rest. ``shapes``
    as for ``pin_invariant``."""
    body = text[leading_comments(text) :]
    header = text[: len(text) - len(body)]
    if has_sentinel(header):
        return None
    if body not in memo:
        memo[body] = pin_invariant(body, source, shapes)
    form = memo[body]
    return PinInvariant(header + form.text, form.values) if form is not None and header else form


class Forms:
    """The pin-invariant forms of one run, each text's worked out once: what the sites render now,
    their states along the history and the render check after a write read the same kustomizations
    (a rollback's restored pin is an earlier state's text again). ``of`` is ``pin_invariant`` of the
    text, as ``pin_invariant_shared`` and the shapes give it: the source names a file in errors only,
    and a text with an error has no form whatever its source."""

    def __init__(self) -> None:
        self._memo: dict[str, PinInvariant | None] = {}
        self._shapes: dict = {}

    def of(self, text: str, source: str) -> PinInvariant | None:
        return pin_invariant_shared(text, source, self._memo, self._shapes)


def pins_of_form(form: PinInvariant, form_pins: tuple[Pin, ...]) -> tuple[Pin, ...]:
    """The pins of the text ``form`` stands for, from ``form_pins``, the pins read from its form text:
    each sentinel read back as its value. For a text with no storageUri patch that may hold a pin
    (``may_hold_pin``), where every pin field is a plain ``images:`` value and so one sentinel."""
    values = dict(form.values)
    return tuple(
        Pin(  # made, not ``dataclasses.replace``d: a history reads a pin of every state
            pin.name,
            values.get(pin.new_name, pin.new_name) if pin.new_name else pin.new_name,
            values.get(pin.new_tag, pin.new_tag) if pin.new_tag else pin.new_tag,
            values.get(pin.digest, pin.digest) if pin.digest else pin.digest,
            line=pin.line,
        )
        for pin in form_pins
    )


def may_read_through(text: str) -> bool:
    """Whether ``pins_of_form`` serves ``text``: no storageUri patch in it may hold a pin."""
    return not modelcar.may_hold_pin(text)
