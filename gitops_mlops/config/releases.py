"""The ``releases:`` section and each model's ``requires:``: models that move together, and what they need of each other.

A release names models (a model, its serving runtime, the application that calls it)
that are promoted, gated and rolled back as one combination. A model belongs to at
most one release. ``requires: {fraud-detector: ">=1.4.0 <2.0.0"}`` on a model's entry
states the versions of another model it works with; ``requiresLabel: io.example.requires`` names
a label of the model's image whose value states the same, as ``fraud-detector >=1.4.0 <2.0.0;
other >=1`` (``parse_label``), read from the image's config in its registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gitops_mlops.config.reader import Reader
from gitops_mlops.core.errors import InputError
from gitops_mlops.core.names import NAME_RE, did_you_mean
from gitops_mlops.core.semrange import parse_range
from gitops_mlops.yamltext.nodes import MappingNode, Node, ScalarNode, line_of

LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}\Z")  # an image label key, as OCI and Docker write them
MAX_LABEL_REQUIREMENTS = 64
MAX_LABEL_CHARS = 4096  # 64 requirements of a name and a range fit many times over


@dataclass(frozen=True)
class Release:
    name: str
    members: tuple[str, ...]  # model names, as listed
    where: str = field(default="", compare=False)  # gitops-mlops.yaml:LINE of its entry, for messages


def read_requires(source: str, r: Reader, model: str) -> tuple[tuple[str, str], ...]:
    """A model's ``requires:``: (other model, semver range) pairs; a range that does not parse is bad input."""
    node = r.values.get("requires")
    if node is None or (isinstance(node, ScalarNode) and node.tag.endswith(":null")):
        return ()
    if not isinstance(node, MappingNode):
        raise r.error(node, f"model {model!r}: requires must be a mapping of model: range")
    out = []
    for key, value in node.value:
        if not isinstance(value, ScalarNode) or not value.value.strip():
            raise InputError(f"{source}:{line_of(value)}: model {model!r}: requires.{key.value} must be a semver range such as '>=1.4.0 <2.0.0'")
        try:
            parse_range(value.value)
        except InputError as exc:
            raise InputError(f"{source}:{line_of(value)}: model {model!r}: requires.{key.value}: {exc}") from None
        if key.value == model:
            raise InputError(f"{source}:{line_of(key)}: model {model!r} requires itself")
        out.append((key.value, value.value))
    return tuple(out)


def parse_label(text: str, where: str, model: str, names: list[str]) -> tuple[tuple[str, str], ...]:
    """A ``requiresLabel`` value, ``MODEL RANGE; MODEL RANGE``, checked as ``requires:`` is: each model
    configured, each range a semver range, no model named twice or requiring itself (``where``: the image and label)."""
    out: list[tuple[str, str]] = []
    if len(text) > MAX_LABEL_CHARS:
        raise InputError(f"{where}: longer than {MAX_LABEL_CHARS} characters")
    parts = [p.strip() for p in text.split(";") if p.strip()]
    if len(parts) > MAX_LABEL_REQUIREMENTS:
        raise InputError(f"{where}: more than {MAX_LABEL_REQUIREMENTS} requirements")
    for part in parts:
        other, _, text_range = part.partition(" ")
        if not text_range.strip():
            raise InputError(f"{where}: {part[:80]!r} is not 'MODEL RANGE' (such as 'fraud-detector >=1.4.0 <2.0.0')")
        if other not in names:
            raise InputError(f"{where}: model {model!r} requires unknown model {other[:80]!r}{did_you_mean(other, names)}")
        if other == model:
            raise InputError(f"{where}: model {model!r} requires itself")
        if any(o == other for o, _ in out):
            raise InputError(f"{where}: model {other!r} is named twice")
        try:
            parse_range(text_range.strip())
        except InputError as exc:
            raise InputError(f"{where}: requires {other}: {exc}") from None
        out.append((other, text_range.strip()))
    return tuple(out)


def read_releases(source: str, top: Reader, models: list, lines: dict[str, int]) -> tuple[Release, ...]:
    """The ``releases:`` entries, checked against the models (``lines``: each model's line, for ``requires`` errors)."""
    names = [m.name for m in models]
    for model in models:
        for other, _ in model.requires:
            if other not in names:
                raise InputError(f"{source}:{lines[model.name]}: model {model.name!r} requires unknown model {other!r}{did_you_mean(other, names)}")
    releases: list[Release] = []
    owner: dict[str, str] = {}
    for node in top.list("releases"):
        releases.append(_release(source, node, names, releases, owner))
    return tuple(releases)


def _release(source: str, node: Node, names: list[str], releases: list[Release], owner: dict[str, str]) -> Release:
    r = Reader(source, node, "release", {"name", "members"})
    name = r.str("name", pattern=NAME_RE)
    if any(x.name == name for x in releases):
        raise r.error(node, f"release {name!r} is defined twice")
    members = r.strings("members")
    if not members:
        raise r.error(r.values.get("members", node), f"release {name!r} needs at least one model under 'members'")
    for i, (item, member) in enumerate(zip(r.list("members"), members, strict=True)):
        if member not in names:
            raise r.error(item, f"release {name!r}: unknown model {member!r}{did_you_mean(member, names)} (configured: {', '.join(names)})")
        if member in members[:i]:
            raise r.error(item, f"release {name!r}: model {member!r} is named twice")
        if member in owner:
            raise r.error(item, f"model {member!r} is in two releases: {owner[member]!r} and {name!r} (a model belongs to at most one)")
        owner[member] = name
    return Release(name, members, f"{source}:{line_of(node)}")
