"""Strict, fast YAML reading into node trees that keep character positions.

Only this module and ``kustomization.py``/``config.py`` read YAML. Files the tool
manages must be plain: one document, no duplicate keys, no aliases (an alias
bomb is refused at the first alias, before any expansion), no merge keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:  # the C parser is ~15x faster; the pure one gives identical nodes
    from ruamel.yaml.cyaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - exercised only without the C extension
    from ruamel.yaml.loader import SafeLoader as _Loader

from gitops_mlops.core.errors import InputError

__all__ = ["MappingNode", "Node", "ScalarNode", "SequenceNode", "compose", "line_of", "mapping_get", "to_python"]

MAX_DEPTH = 1000  # nesting of mappings and sequences; kustomize allows 10,000, no manifest needs a tenth

_BOOL_TRUE = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"}


def line_of(node: Node) -> int:
    """1-based line of a node's start."""
    return node.start_mark.line + 1


def compose(text: str, source: str) -> Node | None:
    """Compose exactly one YAML document, refusing aliases, anchors, merge keys and duplicate keys."""
    if text.startswith("\ufeff"):
        raise InputError(f"{source}: a UTF-8 byte order mark is not supported")
    if sum(text.count(c) for c in "[{-:?") > MAX_DEPTH:  # fewer of them cannot nest deeper: no scan
        _refuse_deep(text, source)
    with _reading(text, source) as loader:
        nodes = []
        while loader.check_node():
            nodes.append(loader.get_node())
            if len(nodes) > 1:
                raise InputError(f"{source}:{line_of(nodes[1])}: more than one YAML document")
        if "&" in text:
            _refuse_anchors(text, source)
    if not nodes:
        return None
    _check_tree(nodes[0], source)
    return nodes[0]


def _refuse_deep(text: str, source: str) -> None:
    """Refuse collections nested deeper than MAX_DEPTH, read as events (the C composer recurses and
    crashes the process on tens of thousands of levels; every level is opened by one of ``[{-:?``)."""
    depth = 0
    with _reading(text, source) as loader:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise InputError(f"{source}:{event.start_mark.line + 1}: YAML nested deeper than {MAX_DEPTH} levels")
            elif isinstance(event, CollectionEndEvent):
                depth -= 1


@contextmanager
def _reading(text: str, source: str) -> Iterator:
    """A loader of ``text``; a YAML error while it reads is one line naming ``source`` (and the line, where known)."""
    loader = _Loader(text)
    try:
        yield loader
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise InputError(f"{source}{line}: invalid YAML: {exc.problem or exc.context}") from None
    except YAMLError as exc:
        raise InputError(f"{source}: invalid YAML: {str(exc).splitlines()[0]}") from None
    finally:
        loader.dispose()


def _refuse_anchors(text: str, source: str) -> None:
    loader = _Loader(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            if getattr(event, "anchor", None):
                raise InputError(f"{source}:{event.start_mark.line + 1}: YAML anchors and aliases are not allowed")
    finally:
        loader.dispose()


def _check_tree(root: Node, source: str) -> None:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            raise InputError(f"{source}:{line_of(node)}: YAML aliases are not allowed")
        seen.add(id(node))
        if isinstance(node, MappingNode):
            keys: dict[Any, int] = {}
            for key, value in node.value:
                if key.tag == "tag:yaml.org,2002:merge" or (isinstance(key, ScalarNode) and key.value == "<<" and key.style is None):
                    raise InputError(f"{source}:{line_of(key)}: YAML merge keys (<<) are not allowed")
                if not isinstance(key, ScalarNode):
                    raise InputError(f"{source}:{line_of(key)}: mapping keys must be plain strings")
                if key.value in keys:
                    raise InputError(f"{source}:{line_of(key)}: duplicate key {key.value!r} (first at line {keys[key.value]})")
                keys[key.value] = line_of(key)
                stack.append(key)
                stack.append(value)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)


def mapping_get(node: Node, key: str) -> tuple[ScalarNode, Node] | None:
    """The (key node, value node) pair for ``key`` in a mapping node, or None."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if k.value == key:
                return k, v
    return None


def to_python(node: Node | None) -> Any:
    """Convert a checked node tree to plain Python values (no custom tags)."""
    if node is None:
        return None
    if isinstance(node, MappingNode):
        return {k.value: to_python(v) for k, v in node.value}
    if isinstance(node, SequenceNode):
        return [to_python(v) for v in node.value]
    tag, value = node.tag, node.value
    if tag.endswith(":null"):
        return None
    if tag.endswith(":bool"):
        return value in _BOOL_TRUE
    if tag.endswith(":int"):
        text = value.replace("_", "")
        try:
            return int(text, 0)
        except ValueError:
            try:
                return int(text, 10)  # YAML 1.2: 017 is decimal 17
            except ValueError:
                return value
    if tag.endswith(":float"):
        text = value.replace("_", "").lower()
        if text.lstrip("+-") in (".inf", ".nan"):
            text = text.replace(".", "")
        try:
            return float(text)
        except ValueError:
            return value
    return value
