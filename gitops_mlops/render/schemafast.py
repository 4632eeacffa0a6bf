"""The schema check's fast path: a document that differs from one known valid only in the string
value of ``image`` or ``storageUri`` keys is valid, when its schema says so.

A pin edit changes the image a workload runs and nothing else of its rendered objects; checking
each changed object again with jsonschema is most of a promotion's validation time. This module
decides such an object without jsonschema, and steps aside (the full check decides) unless all
of this holds:

- the earlier document is known valid: a verdict stored in the render cache for exactly its text
  (``docverdict:`` keys, written by ``KnownValid`` for every document it finds valid);
- the two texts have the same lines but for lines ``<indent>[- ]image: <value>`` (or
  ``storageUri``), whose values on both sides are one plain YAML scalar of ``[A-Za-z0-9._/:@+-]``
  that YAML 1.1 reads as a string: the new document is the old one with those strings replaced;
- in the old document (composed by the YAML parser) each such line is a plain, untagged string
  value of that key in a block mapping, ending its line, and no merge key (``<<``) is used;
- the schema itself allows it (``string_path``): from the root of the object's schema down to each
  changed value every schema node uses only keywords that cannot depend on the value changed
  (``type``, ``properties``, ``items``, ``additionalProperties``, ``required``, counts,
  descriptions and ``x-kubernetes-*`` annotations), and the value's own node accepts every string
  (``type`` absent, ``string`` or ``[string, null]``, no other assertion; not ``format``, ``enum``,
  ``pattern``, lengths). ``Volume.image`` (an object) and any constrained string are thus left to
  the full check, and so is a kind no schema covers.

It is proven equal to the full check on generated documents (tests/render/test_schemafast.py,
``scripts/prove_fastpaths.py --documents N``).
"""

from __future__ import annotations

import hashlib
import re

import yaml
from yaml.resolver import Resolver

from gitops_mlops.render.schemas import Checked, Finding, Schemas

KEYS = ("image", "storageUri")
_LINE = re.compile(r"( *(?:- )*)(image|storageUri): (\S+)$")
_SAFE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._/:@+-]*[A-Za-z0-9])?$")
_STR = "tag:yaml.org,2002:str"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = Resolver()
_ANNOTATIONS = {"description", "title", "default", "example", "examples", "$schema", "$id", "$defs", "definitions", "$comment", "readOnly", "deprecated"}
_STRUCTURAL = _ANNOTATIONS | {
    "$ref",
    "type",
    "properties",
    "items",
    "additionalProperties",
    "required",
    "minProperties",
    "maxProperties",
    "minItems",
    "maxItems",
    "nullable",
}
_LEAF = _ANNOTATIONS | {"$ref", "type", "nullable"}


def _plain_string(value: str) -> bool:
    """Whether ``value`` is one plain scalar YAML 1.1 reads as a string (not a number, bool, null, date)."""
    return bool(_SAFE.match(value)) and _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == _STR


def changed_values(old: str, new: str) -> list[int] | None:
    """The lines where ``new`` differs from ``old`` only in a plain string value of an image key; None otherwise."""
    if old == new or "\t" in new or "\r" in new:
        return None
    a, b = old.split("\n"), new.split("\n")
    if len(a) != len(b):
        return None
    lines = []
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x == y:
            continue
        mx, my = _LINE.match(x), _LINE.match(y)
        if not mx or not my or mx.group(1, 2) != my.group(1, 2) or not _plain_string(mx.group(3)) or not _plain_string(my.group(3)):
            return None
        lines.append(i)
    return lines


def value_paths(old: str, lines: list[int]) -> tuple[dict, list[tuple]] | None:
    """The old document (composed) and the path of the value on each of ``lines``: a plain untagged string of
    an image key in a block mapping, the whole rest of its line; None when any is not exactly that."""
    try:
        root = yaml.compose(old, Loader=_Loader)
    except yaml.YAMLError:
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    found: dict[int, list[tuple]] = {}
    if not _walk(root, (), set(lines), found, old.split("\n")):
        return None
    if set(found) != set(lines):
        return None
    return root, [path for i in lines for path in found[i]]


def _walk(node, path: tuple, lines: set[int], found: dict[int, list[tuple]], text: list[str]) -> bool:
    """Record the paths of the changed values; False when a merge key or an unusual form is met."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge" or not isinstance(key, yaml.ScalarNode):
                return False
            if isinstance(value, yaml.ScalarNode) and value.start_mark.line in lines and key.value in KEYS:
                line = value.start_mark.line
                if (
                    node.flow_style
                    or value.style not in (None, "")  # plain (the C parser says "")
                    or value.tag != _STR
                    or key.tag != _STR
                    or value.end_mark.line != line
                    or value.end_mark.column != len(text[line])
                ):
                    return False
                found.setdefault(line, []).append((*path, key.value))
            elif not _walk(value, (*path, key.value), lines, found, text):
                return False
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            if not _walk(item, (*path, i), lines, found, text):
                return False
    elif isinstance(node, yaml.ScalarNode) and node.start_mark.line in lines:
        return False  # a changed line that is not an image key's value (a sequence item, a key)
    return True


def _expand(schema, resolver) -> list[tuple[dict, object]] | None:
    """The schema node and every node its ``$ref`` leads to (each with the resolver to read its own refs)."""
    out = []
    while True:
        if not isinstance(schema, dict):
            return None if schema is not True else out
        out.append((schema, resolver))
        ref = schema.get("$ref")
        if ref is None:
            return out
        if resolver is None or not isinstance(ref, str) or len(out) > 32:
            return None
        try:
            resolved = resolver.lookup(ref)
        except Exception:  # an unresolvable reference: the full check decides (and reports it)
            return None
        schema, resolver = resolved.contents, resolved.resolver


def _allowed(schema: dict, keywords: set[str]) -> bool:
    return all(k in keywords or k.startswith("x-kubernetes-") for k in schema)


def string_path(schema: dict, resolver, path: tuple) -> bool:
    """Whether, under ``schema``, the value at ``path`` may be any string without changing the verdict of an
    object the schema accepted: only structural keywords on the way down, an unconstrained string at the end."""
    nodes = [(schema, resolver)]
    for step in path:
        children = []
        for node, res in nodes:
            expanded = _expand(node, res)
            if expanded is None:
                return False
            for sub, sub_res in expanded:
                if not _allowed(sub, _STRUCTURAL):
                    return False
                if isinstance(step, str):
                    properties = sub.get("properties") or {}
                    extra = sub.get("additionalProperties", True)
                    child = properties[step] if step in properties else extra
                else:
                    child = sub.get("items", True)
                if child is False or isinstance(child, list):
                    return False
                if child is not True:
                    children.append((child, sub_res))
        nodes = children
    for node, res in nodes:
        expanded = _expand(node, res)
        if expanded is None:
            return False
        for sub, _ in expanded:
            kind = sub.get("type", "string")
            if not _allowed(sub, _LEAF) or not (kind == "string" or (isinstance(kind, list) and "string" in kind)):
                return False
    return True


def follows_valid(schemas: Schemas, old: str, new: str) -> bool:
    """Whether ``new`` is valid because ``old`` is (the caller knows it is) and they differ only in image
    strings the schema leaves unconstrained; False means "not decided here", never "invalid"."""
    lines = changed_values(old, new)
    if not lines:
        return False
    composed = value_paths(old, lines)
    if composed is None:
        return False
    root, paths = composed
    head = {k.value: v.value for k, v in root.value if isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode)}
    kind, api_version = head.get("kind"), head.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(api_version, str):
        return False
    validator = schemas.validator(api_version, kind)
    if validator is None:
        return False
    resolver = getattr(validator, "_resolver", None)  # how the schema's references are read
    for path in paths:
        key = (schemas.identity, api_version, kind, path)
        if key not in _PATHS:
            _PATHS[key] = string_path(validator.schema, resolver, path)
        if not _PATHS[key]:
            return False
    return True


_PATHS: dict[tuple, bool] = {}  # (schemas, apiVersion, kind, path) -> string_path: a few per kind


def verdict_key(schemas: Schemas, doc: str) -> str:
    return "docverdict:" + hashlib.sha256(f"{schemas.identity}\0{doc}".encode()).hexdigest()


class KnownValid:
    """``Schemas.check_docs`` for documents that replace earlier ones: a document whose earlier version has a
    stored valid verdict and that ``follows_valid`` it is not checked again; every document found valid,
    either way, has its verdict stored in the render cache for the next change."""

    def __init__(self, schemas: Schemas, cache=None) -> None:
        self.schemas, self.cache = schemas, cache
        self.fast = 0  # documents decided by the fast path, for benchmarks and tests

    def check_pairs(self, pairs: list[tuple[str | None, str]]) -> Checked:
        """The findings of every new document of ``(earlier document or None, new document)`` pairs."""
        known = self.cache.metas([verdict_key(self.schemas, old) for old, _ in pairs if old is not None]) if self.cache is not None else {}
        errors: list[Finding] = []
        unchecked: list[str] = []
        valid: dict[str, str] = {}
        for old, new in pairs:
            if old is not None and verdict_key(self.schemas, old) in known and follows_valid(self.schemas, old, new):
                self.fast += 1
                valid[verdict_key(self.schemas, new)] = "valid"
                continue
            found = self.schemas.check_docs([new])
            errors += found.errors
            unchecked += [k for k in found.unchecked if k not in unchecked]
            if not found.errors and not found.unchecked:
                valid[verdict_key(self.schemas, new)] = "valid"
        if self.cache is not None and valid:
            self.cache.set_metas(valid)
        return Checked(tuple(errors), tuple(unchecked))
