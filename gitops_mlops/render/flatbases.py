"""Plain bases rendered once per command, not once per site.

A cold render of many sites spends most of kustomize's time loading the same bases
again for every site: each base's kustomization, its files and its transformers, per
site. A *plain* base is one whose build only loads its own files and changes their
content (``labels``, ``commonLabels``, ``commonAnnotations``, ``images``): no names,
namespaces, generators, patches, components or transformer configurations. What
kustomize hands an overlay from such a base is exactly its rendered output, so a site
whose ``resources`` name consecutive plain bases reads the same resources from one
folder holding their renders, and renders to the same bytes.

Only where nothing in the site's build reads the order resources were loaded in
(``sortOptions``) or where they came from (``buildMetadata``). Exactness is checked
by tests over the example fleet, fleets of distinct sites and unusual base files
(tests/render/test_flatbases.py); a site whose flattened render fails is rendered as it is,
so an error is always kustomize's own.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from gitops_mlops.core.errors import InputError
from gitops_mlops.pins import kustomization
from gitops_mlops.render.inputs import TOP_KEY, References, closure, fast_references

# The keys a plain base may have: each only changes the content of the base's own resources.
PLAIN_KEYS = frozenset({"apiVersion", "kind", "resources", "labels", "commonLabels", "commonAnnotations", "images"})
# Anything that would make kustomize read where or in which order resources were loaded.
_ORDER_OR_ORIGIN = ("sortOptions", "buildMetadata")

_RESOURCES = re.compile(r"^resources:[ ]*(?:#[^\n]*)?$")
_ITEM = re.compile(r"^( *)- ([^\s#'\"\[\]{}]+)[ ]*(?:#[^\n]*)?$")
_FILLER = re.compile(r"^[ ]*(?:#[^\n]*)?$")

Run = tuple[Path, ...]  # consecutive plain bases in a site's resources, in order


@dataclass
class Plan:
    """A site's kustomization text in parts: verbatim text, and runs of plain bases that become
    one ``resources`` entry each (written with ``indent``)."""

    parts: list[str | Run]
    indent: str

    def runs(self) -> list[Run]:
        return [part for part in self.parts if isinstance(part, tuple)]

    def text(self, reference: dict[Run, str]) -> str:
        return "".join(part if isinstance(part, str) else f"{self.indent}- {reference[part]}\n" for part in self.parts)


@dataclass
class Flattener:
    """What one command learned about bases: which are plain, which builds read order or origin."""

    refs: References
    plain: dict[Path, bool] = field(default_factory=dict)
    ordered: dict[Path, bool] = field(default_factory=dict)

    def plan(self, text: str, own: Path) -> Plan | None:
        """``text`` (the kustomization of the site in folder ``own``) with its runs of plain bases,
        or None when it has none or its form is not the plain block form."""
        if fast_references(text) is None or any(word in text for word in _ORDER_OR_ORIGIN):
            return None
        if any(self._reads_order(directory) for directory in closure(own, self.refs)):
            return None
        lines = text.splitlines(keepends=True)
        start = next((i for i, line in enumerate(lines) if _RESOURCES.match(line.rstrip("\n"))), None)
        if start is None:
            return None
        parts: list[str | Run] = ["".join(lines[: start + 1])]
        run: list[Path] = []
        indent = ""
        end = start + 1
        for end in range(start + 1, len(lines) + 1):
            line = lines[end].rstrip("\n") if end < len(lines) else None
            item = _ITEM.match(line) if line is not None else None
            base = self._plain_base(own, item.group(2)) if item else None
            if base is not None and base not in run:
                run.append(base)
                indent = item.group(1)
                continue
            if run:
                parts.append(tuple(run))
                run = []
            if item is None and (line is None or not _FILLER.match(line)):
                break  # the end of the resources block
            parts.append(lines[end])
        parts.append("".join(lines[end:]))
        plan = Plan(parts, indent)
        return plan if plan.runs() else None

    def _plain_base(self, own: Path, entry: str) -> Path | None:
        if "://" in entry or entry.startswith("/"):
            return None
        directory = Path(os.path.normpath(own / entry))
        if not directory.is_dir():
            return None
        directory = directory.resolve()
        if directory == own or own in directory.parents or directory in own.parents:
            return None  # the site's own folders, or one that holds it: not a base
        known = self.plain.get(directory)
        if known is None:
            known = self.plain[directory] = _is_plain(directory)
        return directory if known else None

    def _reads_order(self, directory: Path) -> bool:
        known = self.ordered.get(directory)
        if known is None:
            text = _kustomization_text(directory)
            known = self.ordered[directory] = text is None or any(word in text for word in _ORDER_OR_ORIGIN)
        return known


def _kustomization_text(directory: Path) -> str | None:
    try:
        file = kustomization.find_kustomization_file(directory)
        return kustomization.read_text(file, str(file)) if file is not None else None
    except (InputError, OSError):
        return None


def _is_plain(directory: Path) -> bool:
    """Whether the base in ``directory`` only loads files of its own and changes their content."""
    text = _kustomization_text(directory)
    if text is None or any(word in text for word in _ORDER_OR_ORIGIN):
        return False
    entries = fast_references(text)
    keys = TOP_KEY.findall(text)
    if not entries or not set(keys) <= PLAIN_KEYS or len(keys) != len(set(keys)):
        return False
    if "kind" in keys and not re.search(r"^kind:[ ]*Kustomization[ ]*(?:#[^\n]*)?$", text, re.M):
        return False
    for entry in entries:
        path = directory / entry
        if "/" in entry or entry.startswith(".") or path.is_symlink() or not path.is_file():
            return False
    return True
