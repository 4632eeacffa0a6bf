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

import re
from dataclasses import dataclass

from gitops_mlops import kustomization, yamledit
from gitops_mlops.errors import GitOpsError
from gitops_mlops.names import DIGEST_RE

_SAFE = {
    "newName": re.compile(r"^[a-z0-9][a-z0-9._/:-]*[a-z0-9]$"),
    "newTag": re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"),
    "digest": DIGEST_RE,
}
_SENTINEL_RE = re.compile(r"gitops-mlops-pin-\d{4}-[nt]|sha256:(?:5e){28}[0-9a-f]{8}")


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


def pin_invariant(text: str, source: str) -> PinInvariant | None:
    """The sentinel form of a kustomization, or None when its pins cannot be made invariant."""
    if _SENTINEL_RE.search(text):
        return None  # a sentinel already in the file would be substituted too
    try:
        spans = kustomization.pin_value_spans(text, source)
    except GitOpsError:
        return None
    edits, values = [], []
    for index, (field, start, end, value, style) in enumerate(spans):
        if not _SAFE[field].match(value):
            return None
        token = sentinel(index, field)
        edits.append((start, end, yamledit.format_scalar(token, style)))
        values.append((token, value))
    if not edits:
        return None
    values.sort(key=lambda pair: -len(pair[0]))
    return PinInvariant(yamledit.apply_edits(text, edits), tuple(values))


_HEADER = re.compile(r"(?:[ \t]*(?:#[^\n]*)?\n)*")


def pin_invariant_shared(text: str, source: str, memo: dict[str, PinInvariant | None]) -> PinInvariant | None:
    """``pin_invariant`` for many kustomizations that differ only in their leading comment lines
    (sites made from one template, each with its own header): the rest is worked out once per text.
    The same result: comment lines hold no pin and move no pin's place within the rest."""
    body = text[_HEADER.match(text).end() :]
    header = text[: len(text) - len(body)]
    if _SENTINEL_RE.search(header):
        return None
    if body not in memo:
        memo[body] = pin_invariant(body, source)
    form = memo[body]
    return PinInvariant(header + form.text, form.values) if form is not None and header else form
