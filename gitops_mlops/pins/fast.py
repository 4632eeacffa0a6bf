"""A fast reader of kustomization pins, for read-only views over thousands of files.

It accepts only the plain block form tools and people write; anything else (flow style,
anchors, escapes, several documents, an indented root) returns None and the caller uses the
full parser (``kustomization.parse``), so both always agree (tests/pins/test_kustomization.py).
"""

from __future__ import annotations

import functools
import re

_IMAGES_LINE = re.compile(r"images:[ ]*\n")
_S = r"""("[^"\\\n]*"|'[^'\n]*'|[A-Za-z0-9_./][A-Za-z0-9_./:@+-]*)"""
_LEADING_SPACES = re.compile(" *")
_BLANK_LINES = re.compile("\n*")


@functools.lru_cache(maxsize=16)
def _entries_at(indent: str) -> tuple[re.Pattern, re.Pattern]:
    """The pattern of one entry at this indentation (groups: name, newName, newTag, digest) and of a run of them."""

    def entry(value: str) -> str:
        return rf"{indent}- name: {value}\n(?:{indent}  newName: {value}\n)?(?:{indent}  newTag: {value}\n)?(?:{indent}  digest: {value}\n)?"

    return re.compile(entry(_S)), re.compile(f"(?:{entry('(?:' + _S[1:])})*")


def _images_block(text: str) -> tuple[int, int, re.Pattern] | None:
    """Where the entries of the one top-level ``images:`` block lie, and the entry pattern that
    reads them; (0, 0, _) when there are no images; None when the full parser must decide."""
    if "&" in text or "\r" in text or "\n---" in text or "\n..." in text:
        return None
    count = text.count("\nimages") + text.startswith("images")
    if count != 1:
        return None if "images" in text else (0, 0, _entries_at("")[0])
    found = _IMAGES_LINE.match(text, 0 if text.startswith("images") else text.find("\nimages") + 1)
    if found is None:
        return None
    start = found.end()
    entry, run = _entries_at(_LEADING_SPACES.match(text, start).group())
    end = run.match(text, start).end()
    after = _BLANK_LINES.match(text, end).end()  # then the next top-level line, or the end
    if after < len(text) and (text[after] == " " or text.startswith("- ", after)):
        return None  # something else inside the block: a comment, another key, another indentation
    return start, end, entry


def _fast_matches(text: str) -> list[re.Match] | None:
    """The ``images:`` entries of a kustomization in the plain form this tool writes (name, newName,
    newTag, digest, in that order, no comments inside), or None when the full parser must decide."""
    block = _images_block(text)
    if block is None:
        return None
    start, end, entry = block
    matches = list(entry.finditer(text, start, end))
    if len({_unquote(m.group(1)) for m in matches}) != len(matches):
        return None  # duplicate pins: the parser reports them
    return matches


def fast_pin_fields(text: str) -> list[tuple[str, str | None, str | None, str | None]] | None:
    """(name, newName, newTag, digest) of every pin, or None when the full parser must decide.

    Same acceptance as _fast_matches, read with one findall: status reads a hundred pins from
    each of a thousand files."""
    block = _images_block(text)
    if block is None:
        return None
    start, end, entry = block
    rows = entry.findall(text, start, end)  # '' for an absent optional field (a present one is never empty)
    if text.find('"', start, end) == -1 and text.find("'", start, end) == -1:
        fields = [(n, nn or None, t or None, d or None) for n, nn, t, d in rows]
    else:
        fields = [(_unquote(n), *(_unquote(v) if v else None for v in rest)) for n, *rest in rows]
    if len({f[0] for f in fields}) != len(fields):
        return None
    return fields


def _unquote(value: str | None) -> str | None:
    return value[1:-1] if value and value[0] in "\"'" else value
