"""Add and remove rollback holds in ``gitops-mlops.yaml``, byte-exact outside the edited lines.

A hold (model, site, digest) records that automation must not promote that
digest to that site again (it was rolled back) until someone releases it.
"""

from __future__ import annotations

from gitops_mlops.config.load import CONFIG_FILE, Hold, composed_config
from gitops_mlops.core.errors import InputError
from gitops_mlops.yamltext.edit import content_end, dash_column, end_of_line, flow_separator, format_scalar
from gitops_mlops.yamltext.nodes import MappingNode, ScalarNode, SequenceNode, mapping_get, to_python


def _fields(hold: Hold) -> list[tuple[str, str]]:
    fields = [("model", hold.model), ("site", hold.site), ("digest", hold.digest)]
    return fields + ([("reason", hold.reason)] if hold.reason else [])


def _block(holds: list[Hold], dash_col: int, newline: str) -> str:
    pad = " " * dash_col
    out = []
    for hold in holds:
        fields = _fields(hold)
        out.append(f"{pad}- {fields[0][0]}: {format_scalar(fields[0][1])}")
        out += [f"{pad}  {k}: {format_scalar(v)}" for k, v in fields[1:]]
    return newline.join(out) + newline


def _locate(text: str):
    root = composed_config(text)
    if not isinstance(root, MappingNode):
        raise InputError(f"{CONFIG_FILE}: not a mapping")
    return root, mapping_get(root, "holds")


def add_holds(text: str, holds: list[Hold]) -> str:
    """``text`` with ``holds`` appended to ``holds:`` (created when missing)."""
    if not holds:
        return text
    newline = "\r\n" if "\r\n" in text else "\n"
    root, pair = _locate(text)
    if pair is None or (isinstance(pair[1], ScalarNode) and pair[1].tag.endswith(":null") and not pair[1].value):
        body = "holds:" + newline + _block(holds, 2, newline)
        if pair is not None:  # `holds:` with nothing after it: replace that line
            start = text.rfind("\n", 0, pair[0].start_mark.index) + 1
            return text[:start] + body + text[end_of_line(text, pair[1].end_mark.index) :]
        prefix = text if not text or text.endswith(("\n", "\r")) else text + newline
        return prefix + body
    key, node = pair
    if not isinstance(node, SequenceNode):
        raise InputError(f"{CONFIG_FILE}:{node.start_mark.line + 1}: holds must be a list")
    if node.flow_style and not node.value:  # `holds: []` becomes a block list
        start, end = node.start_mark.index, node.end_mark.index
        comment = text[end : end_of_line(text, end)].rstrip("\r\n")  # keep `# ...` after the `[]`
        block = _block(holds, key.start_mark.column + 2, newline)
        return text[:start].rstrip(" ") + comment + newline + block + text[end_of_line(text, end) :]
    if node.flow_style:
        close = node.end_mark.index - 1
        items = ", ".join("{" + ", ".join(f"{k}: {format_scalar(v, flow=True)}" for k, v in _fields(h)) + "}" for h in holds)
        return text[:close] + flow_separator(text, close) + items + text[close:]
    at = end_of_line(text, content_end(node))
    body = _block(holds, dash_column(text, node.value[-1]), newline)
    if at == len(text) and not text.endswith(("\n", "\r")):
        body = newline + body.rstrip("\r\n")
    return text[:at] + body + text[at:]


def remove_holds(text: str, model: str, sites: set[str], digest: str | None = None) -> tuple[str, list[Hold]]:
    """``text`` without the holds of ``model`` at ``sites`` (and ``digest`` if given); and the holds removed."""
    root, pair = _locate(text)
    if pair is None or not isinstance(pair[1], SequenceNode) or not pair[1].value:
        return text, []
    key, node = pair
    removed: list[Hold] = []
    keep = []
    for item in node.value:
        value = to_python(item)
        if isinstance(value, dict) and value.get("model") == model and value.get("site") in sites and (digest is None or value.get("digest") == digest):
            removed.append(Hold(model=value["model"], site=value["site"], digest=value.get("digest", ""), reason=value.get("reason") or ""))
        else:
            keep.append(item)
    if not removed:
        return text, []
    if not keep:
        if node.flow_style:
            return text[: node.start_mark.index].rstrip(" ") + " []" + text[node.end_mark.index :], removed
        start = key.end_mark.index + 1
        rest = text[start : end_of_line(text, start)].rstrip("\r\n")
        comment = rest if rest.strip().startswith("#") else ""  # `holds:  # none yet` keeps its comment, spacing and all
        newline = "\r\n" if "\r\n" in text else "\n"
        return text[:start].rstrip(" ") + " []" + comment + newline + text[end_of_line(text, content_end(node)) :], removed
    if node.flow_style:
        inner = ", ".join(text[i.start_mark.index : i.end_mark.index] for i in keep)
        return text[: node.start_mark.index] + "[" + inner + "]" + text[node.end_mark.index :], removed
    for item in reversed([i for i in node.value if i not in keep]):
        start = text.rfind("\n", 0, item.start_mark.index) + 1
        text = text[:start] + text[end_of_line(text, content_end(item)) :]
    return text, removed
