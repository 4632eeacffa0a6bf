"""The line scanner: the Pod-template containers of one rendered document in the block form
kustomize writes, read line by line without a YAML parser. Anything not in that form (a tab, a
flow collection where a container or image is, an alias, an escaped scalar) is left to the parser:
the scanner says it cannot decide, never guesses."""

from __future__ import annotations

import re

POD_PATHS = (("spec", "template", "spec"), ("spec", "jobTemplate", "spec", "template", "spec"), ("spec", "predictor"), ("spec",))
_POD_KEYS = set(POD_PATHS)
_KEY_LINE = re.compile(r"( *)(- )?([A-Za-z0-9_][A-Za-z0-9_./-]*):(?: +(.*))?$")
_PLAIN = re.compile(r"[A-Za-z0-9_./:@+-]+$")


class Undecided(Exception):
    """The document is not in the form the scanner reads; the parser decides."""


def scalar(value: str) -> str | None:
    """A plain or simply quoted scalar; None for anything a parser must decide."""
    if " #" in value:
        value = value.split(" #", 1)[0]
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        return inner if "\\" not in inner and value[0] not in inner else None
    return value if _PLAIN.match(value) else None


def scan(doc: str) -> list[tuple[str, str, str]] | None:
    """(Kind/name, container name, image) of every container and initContainer of the document's
    Pod template; None when anything is not in kustomize's block form, and the YAML parser decides."""
    if "\t" in doc or "\r" in doc:
        return None
    scanner = _Scanner()
    try:
        for line in doc.split("\n"):
            scanner.line(line)
    except Undecided:
        return None
    scanner.end_item()
    resource = f"{scanner.kind}/{scanner.name}"
    return [(resource, container, image) for container, image in scanner.found]


class _Scanner:
    """The state of one scan: the enclosing mappings, and the containers list being read."""

    def __init__(self) -> None:
        self.kind = self.name = ""
        self.path: list[tuple[int, str]] = []  # (indent, key) of the mappings enclosing the current line
        self.found: list[tuple[str, str]] = []  # (container name, image)
        self.dash: int | None = None  # in a containers list: the indent of its items' dashes (None: not yet known)
        self.listing = False
        self.item: dict[str, str] | None = None
        self.block = -1  # inside a block scalar: lines indented past this are its text

    def end_item(self) -> None:
        if self.listing and self.item and "image" in self.item:
            self.found.append((self.item.get("name", ""), self.item["image"]))

    def line(self, line: str) -> None:
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if not stripped or stripped.startswith("#") or indent > self.block >= 0:
            return
        self.block = -1
        match = _KEY_LINE.match(line)
        if self.listing and self._list_line(match, indent):
            return
        if match is None:
            if stripped.startswith("- ") or stripped == "-":
                return  # an item of a list of scalars
            raise Undecided
        self._mapping_line(match, indent)

    def _list_line(self, match: re.Match | None, indent: int) -> bool:
        """A line inside a containers list; False when it ends the list (and is read as a mapping line)."""
        dashed = match is not None and match.group(2)
        if self.dash is None and dashed and indent >= self.path[-1][0]:
            self.dash = indent
        if self.dash is not None and dashed and indent == self.dash:
            self.end_item()
            self.item = {}
            key_indent = indent + 2
        elif self.dash is not None and indent > self.dash:
            key_indent = indent
        else:
            self.end_item()
            self.listing, self.item, self.dash = False, None, None
            return False
        if match and key_indent == self.dash + 2 and match.group(3) in ("image", "name"):
            value = scalar(match.group(4) or "")
            if value is None:
                raise Undecided
            self.item[match.group(3)] = value
        elif match and match.group(4) and match.group(4)[:1] in "|>":
            self.block = key_indent
        return True

    def _mapping_line(self, match: re.Match, indent: int) -> None:
        key_indent = indent + 2 if match.group(2) else indent
        key, value = match.group(3), match.group(4)
        path = self.path
        while path and path[-1][0] >= key_indent:
            path.pop()
        if key_indent == 0 and key == "kind":
            self.kind = scalar(value or "") or ""
        elif key_indent == 2 and key == "name" and [k for _, k in path] == ["metadata"]:
            self.name = scalar(value or "") or ""
        if not value:
            if key in ("containers", "initContainers") and tuple(k for _, k in path) in _POD_KEYS:
                self.listing, self.dash, self.item = True, None, None
            path.append((key_indent, key))
        elif value[:1] in "|>":
            self.block = key_indent
        elif value[:1] in "[{&*!" and key in ("containers", "initContainers", "image"):
            raise Undecided
