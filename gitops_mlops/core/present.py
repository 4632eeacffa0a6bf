"""How results are shown: one JSON/YAML vocabulary for machines, fleet-sized summaries for people.

The vocabulary (every command, README "JSON output"): ``site``, ``stage``, ``model``,
``version``, ``digest`` (always the full ``sha256:...``), ``image`` (always the full
reference ``registry/path[:tag]@sha256:...``); lists of sites are ``sites`` (of names);
counts of sites are ``count``; what does not exist is ``None`` (never ``""``); "everywhere"
is ``None``, not ``[]``; ``commit`` and ``branch`` are ``None`` when nothing was committed.
A result that is a list is ``[]`` when empty. Each command's output is written down in
``schemas/output/<command>.json`` (tests/cli/test_output_schemas.py holds them to it).
"""

from __future__ import annotations

import io
import json
import shlex
from collections.abc import Hashable, Iterable

SHOWN = 3  # sites named in a grouped line before "and N more"


def dump(data, fmt: str) -> str:
    """``data`` as JSON (indented) or YAML (block style), ending with a newline."""
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    from ruamel.yaml import YAML  # here: a command that prints no YAML starts without it

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False
    yaml.width = 2**16  # a digest or an image reference stays on its key's line, as a reader greps for it
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def some(sites: Iterable[str], shown: int = SHOWN) -> str:
    """``a, b, c`` or ``a, b, c and 197 more``."""
    names = list(sites)
    head = ", ".join(names[:shown])
    return head if len(names) <= shown else f"{head} and {len(names) - shown} more"


def grouped(items: Iterable[tuple[Hashable, str]]) -> list[tuple[Hashable, list[str]]]:
    """(key, site) pairs gathered by key, in the order keys are first seen."""
    groups: dict[Hashable, list[str]] = {}
    for key, site in items:
        groups.setdefault(key, []).append(site)
    return list(groups.items())


def short(digest: str) -> str:
    """A digest as people read it: ``sha256:`` and 12 hex characters (accepted back as a prefix)."""
    return digest[:19] if digest else "-"


def count(n: int, noun: str, plural: str = "") -> str:
    """``1 site``, ``3 sites``: a number and its noun in the right form."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def rolled_back(model: str, changes: list[dict], selectors: Iterable[str] = ()) -> list[str]:
    """What a rollback did, one line per (version and digest gone back to, digest held): where, and the
    release-hold command that lifts the hold (the sites by name, or past a few the selectors given)."""
    lines = []
    keyed = (((c["to"]["version"], c["to"]["digest"], c["from"]["digest"]), c["site"]) for c in changes)
    for (version, digest, held), sites in grouped(keyed):
        where = sites[0] if len(sites) == 1 else f"{count(len(sites), 'site')} ({some(sites)})"
        line = f"rolled back {model} at {where} to {version or '-'} ({short(digest or '')})"
        if held and held != digest:
            chosen = sites if len(sites) <= SHOWN or not selectors else list(selectors)
            flags = " ".join(f"--site {shlex.quote(s)}" for s in chosen)
            line += f"; held {short(held)} there (release with: gitops-mlops release-hold {shlex.quote(model)} {flags} --digest {held})"
        lines.append(line)
    return lines
