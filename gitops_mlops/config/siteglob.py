"""Site path patterns of gitops-mlops.yaml: shell globs within one path segment.

``*`` (any run of characters), ``?`` (one character) and ``[...]`` (one of a set, ``[!...]`` none
of it) match within a segment and never cross ``/``: ``envs/qa-*``, ``clusters/*/overlays/prod``.
Only ``*`` captures: ``{1}``, ``{2}``... in a site's ``name`` or ``stage`` stand for what the first,
second... ``*`` of the path matched (each ``*`` takes as much as it can, the first first: ``*-*``
on ``a-b-c`` gives ``a-b`` and ``c``). As in a shell, a hidden entry (``.x``) matches only a
segment that starts with ``.``.
"""

from __future__ import annotations

import re

GLOB_CHARS = "*?["
_FIELD = re.compile(r"\{(\d+)\}")


def is_pattern(path: str) -> bool:
    return any(c in path for c in GLOB_CHARS)


def captures(path: str) -> int:
    """How many ``{N}`` the path offers: one per ``*``."""
    return path.count("*")


def segment_regex(segment: str) -> re.Pattern[str]:
    """The regular expression of one path segment (a group per ``*``); ValueError names what is wrong."""
    out, i = [], 0
    while i < len(segment):
        c = segment[i]
        if c == "*":
            if segment.startswith("**", i):
                raise ValueError("'**' is not a pattern here: '*' matches within one path segment, never across '/'")
            out.append("([^/]*)")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = segment.find("]", i + 2 if segment[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end < 0:
                raise ValueError(f"'[' at {segment!r} has no closing ']'")
            body = segment[i + 1 : end]
            negate = body[:1] == "!"
            body = body[1:] if negate else body
            out.append("[" + ("^/" if negate else "") + "".join(ch if ch == "-" else re.escape(ch) for ch in body) + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def check(path: str) -> None:
    """Raise ValueError when a segment of the pattern cannot be read."""
    for segment in path.split("/"):
        if is_pattern(segment):
            segment_regex(segment)


def matching(segment: str, names: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """(name, what each ``*`` matched) of the names one pattern segment matches."""
    regex = segment_regex(segment)
    found = []
    for name in names:
        match = regex.fullmatch(name)
        if match is not None and (not name.startswith(".") or segment.startswith(".")):
            found.append((name, match.groups()))
    return found


def fill(template: str, captured: tuple[str, ...]) -> str:
    """``template`` with each ``{N}`` replaced by what the N-th ``*`` matched."""
    return _FIELD.sub(lambda m: captured[int(m.group(1)) - 1], template)


def example(template: str, count: int) -> str:
    """``template`` filled with a stand-in for each of ``count`` captures; ``{bad}`` where N is out of range."""
    return _FIELD.sub(lambda m: "x" if 1 <= int(m.group(1)) <= count else "{bad}", template)


def has_fields(template: str) -> bool:
    return _FIELD.search(template) is not None
