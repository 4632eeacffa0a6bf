"""Text edits of YAML at parser-reported positions: the bytes around an edit stay as they were."""

from __future__ import annotations

import re

from gitops_mlops.yamltext.nodes import MappingNode, Node, SequenceNode

DOCUMENT_END = re.compile(r"^\.\.\.[ \t]*(#.*)?\r?$", re.M)
_PLAIN_SAFE = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./:@+-]*$|^[0-9]+\.[0-9]+\.[0-9]+([-+][A-Za-z0-9.+-]*)?$")
_NOT_STRING = re.compile(
    r"^(~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|y|Y|n|N"
    r"|[-+]?[0-9_]+(\.[0-9_]*)?([eE][-+]?[0-9]+)?|[-+]?\.[0-9]+|0x[0-9a-fA-F]+|0o[0-7]+|\.inf|\.nan)$"
)


def format_scalar(value: str, style: str | None = None, flow: bool = False) -> str:
    """A YAML scalar that reads back as the string ``value``, in the given quoting style when it is safe."""
    if style == "'" and "'" not in value:
        return f"'{value}'"
    if style == '"' or style == "'":
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if _PLAIN_SAFE.match(value) and not _NOT_STRING.match(value) and not value.endswith(":") and not (flow and ":" in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def apply_edits(text: str, edits: list[tuple[int, int, str]]) -> str:
    """Apply (start, end, replacement) edits from the end; at one position, earlier edits end up first."""
    for _, (start, end, replacement) in sorted(enumerate(edits), key=lambda item: (item[1][0], item[0]), reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def content_end(node: Node) -> int:
    """Index just past a node's own content (a block collection's end mark lies beyond trailing comments)."""
    while isinstance(node, (MappingNode, SequenceNode)) and not node.flow_style and node.value:
        node = node.value[-1][1] if isinstance(node, MappingNode) else node.value[-1]
    return node.end_mark.index


def flow_separator(text: str, close: int) -> str:
    """What goes before an item inserted at a flow collection's closing bracket."""
    before = text[:close].rstrip()
    return "" if before.endswith((",", "[", "{")) else ", "


def end_of_line(text: str, index: int) -> int:
    """Index just past the line break of the line holding ``index`` (len(text) at EOF)."""
    if index > 0 and text[index - 1] == "\n":
        return index  # a block value that already ends with its line break
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


def dash_column(text: str, item: Node) -> int:
    """Column of the '-' that starts a block sequence item."""
    line_start = text.rfind("\n", 0, item.start_mark.index) + 1
    dash = text.rfind("-", line_start, item.start_mark.index)
    return dash - line_start if dash >= 0 else item.start_mark.column


def sequence_indent(text: str, root: MappingNode) -> int:
    """The file's sequence indentation, from its first block sequence (0 if none)."""
    for _, value in root.value:
        if isinstance(value, SequenceNode) and not value.flow_style and value.value:
            return dash_column(text, value.value[0])
    return 0
