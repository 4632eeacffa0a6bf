"""The schema check's fast path: a document that differs from one known valid only in the string
value of ``image`` or ``storageUri`` keys is valid, when its schema says so.

A pin edit changes the image a workload runs and nothing else of its rendered objects; checking
each changed object again with jsonschema is most of a promotion's validation time. This module
decides such an object without jsonschema, and steps aside (the full check decides) unless all
of this holds:

- the earlier document is known valid: a verdict stored in the render cache for exactly its text
  (``docverdict:`` keys, written by ``KnownValid`` for every document it finds valid, with the paths
  of its image lines read by the YAML parser, so that the next change needs no parse);
- the two texts have the same lines but for lines ``<indent>[- ]image: <value>`` (or
  ``storageUri``), whose values on both sides are one plain YAML scalar of ``[A-Za-z0-9._/:@+-]``
  that YAML 1.1 reads as a string: the new document is the old one with those strings replaced;
- in the old document (composed by the YAML parser, ``image_lines``) each such line is a plain,
  untagged string value of that key in a block mapping, ending its line, and no merge key (``<<``)
  is used;
- the schema itself allows it (``string_path``): from the root of the object's schema down to each
  changed value every schema node uses only keywords that cannot depend on the value changed
  (``type``, ``properties``, ``items``, ``additionalProperties``, ``required``, counts,
  descriptions and ``x-kubernetes-*`` annotations), and the value's own node accepts every string
  (``type`` absent, ``string`` or ``[string, null]``, no other assertion; not ``format``, ``enum``,
  ``pattern``, lengths). ``Volume.image`` (an object) and any constrained string are thus left to
  the full check, and so is a kind no schema covers.

The same holds between the objects of many sites of one template in one check (``KnownValid``): one
that differs from an object found valid by the full check only in plain string values of any key (a
name, a namespace, an annotation), every one at a path whose schema accepts any string, and not in the
root's ``apiVersion`` or ``kind``, is valid too.

It is proven equal to the full check on generated documents (tests/render/test_schemafast.py,
``scripts/prove_fastpaths.py --documents N``).
"""

from __future__ import annotations

import hashlib
import json
import re

import yaml
from yaml.resolver import Resolver

from gitops_mlops.render.schemas import Checked, Finding, Schemas

KEYS = ("image", "storageUri")
_LINE = re.compile(r"( *(?:- )*)(image|storageUri): (\S+)$")
_ANY_LINE = re.compile(r"( *(?:- )*)([A-Za-z0-9_][A-Za-z0-9_./-]*): (\S+)$")  # a plain string value of any plain key
_WHICH = {"apiVersion", "kind"}  # at the root they choose the schema: never a value that may change
_SAFE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._/:@+-]*[A-Za-z0-9])?$")
_STR = "tag:yaml.org,2002:str"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = Resolver()
_ANNOTATIONS = {"description", "title", "default", "example", "examples", "$defs", "definitions", "$comment", "readOnly", "deprecated"}
_ROOT = {"$schema", "$id"}  # only at the root: a nested $id would move the base its references are read from
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


_ODD_BREAKS = re.compile("[\t\r\x85\u2028\u2029]")  # a tab, or a line break YAML counts that split("\\n") does not


def _plain_string(value: str) -> bool:
    """Whether ``value`` is one plain scalar YAML 1.1 reads as a string (not a number, bool, null, date)."""
    return bool(_SAFE.match(value)) and _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == _STR


def changed_values(old: str, new: str, any_key: bool = False) -> list[int] | None:
    """The lines where ``new`` differs from ``old`` only in a plain string value of an image key (``any_key``:
    of any plain key); None otherwise."""
    line_re = _ANY_LINE if any_key else _LINE
    if old == new or _ODD_BREAKS.search(old) or _ODD_BREAKS.search(new):
        return None
    a, b = old.split("\n"), new.split("\n")
    if len(a) != len(b):
        return None
    lines = []
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x == y:
            continue
        mx, my = line_re.match(x), line_re.match(y)
        if not mx or not my or mx.group(1, 2) != my.group(1, 2) or not _plain_string(mx.group(3)) or not _plain_string(my.group(3)):
            return None
        lines.append(i)
    return lines


def image_lines(doc: str, any_key: bool = False) -> dict | None:
    """What the fast path needs of a document, read once by the YAML parser: its ``apiVersion`` and ``kind``,
    and for each line holding an image key's value (``any_key``: any plain key's, but the root's ``apiVersion``
    and ``kind``; a plain untagged string in a block mapping, the whole rest of its line) the paths of that
    value. None when the document is not a mapping, uses a merge key, or holds a line break the parser counts
    as one and ``split("\\n")`` does not (their line numbers would disagree)."""
    if _ODD_BREAKS.search(doc):
        return None
    try:
        root = yaml.compose(doc, Loader=_Loader)
    except yaml.YAMLError:
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    lines: dict[str, list[list]] = {}
    if not _walk(root, (), lines, doc.split("\n"), _ANY_LINE if any_key else _LINE):
        return None
    head = {k.value: v.value for k, v in root.value if isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode)}
    kind, api_version = head.get("kind"), head.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(api_version, str):
        return None
    return {"apiVersion": api_version, "kind": kind, "lines": lines}


def _walk(node, path: tuple, lines: dict[str, list[list]], text: list[str], line_re: re.Pattern) -> bool:
    """Record the paths of the values ``line_re`` reads, by line; False when a merge key or a complex key is met."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge" or not isinstance(key, yaml.ScalarNode):
                return False
            if isinstance(value, yaml.ScalarNode):
                wanted = key.value in KEYS if line_re is _LINE else not (path == () and key.value in _WHICH)
                if wanted and _plain_value(node, key, value, text, line_re):
                    lines.setdefault(str(value.start_mark.line), []).append([*path, key.value])
            elif not _walk(value, (*path, key.value), lines, text, line_re):
                return False
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            if not _walk(item, (*path, i), lines, text, line_re):
                return False
    return True


def _plain_value(mapping, key, value, text: list[str], line_re: re.Pattern) -> bool:
    """Whether ``value`` is the plain string that ``line_re`` reads on its line: the whole rest of the line after ``key: ``."""
    line = value.start_mark.line
    found = line_re.match(text[line]) if line < len(text) else None
    return bool(
        found
        and not mapping.flow_style
        and value.style in (None, "")  # plain (the C parser says "")
        and value.tag == _STR
        and key.tag == _STR
        and key.style in (None, "")
        and found.group(2) == key.value
        and value.end_mark.line == line
        and value.start_mark.column == found.start(3)
        and value.end_mark.column == len(text[line])
    )


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
                if not _allowed(sub, _STRUCTURAL | _ROOT if sub is schema else _STRUCTURAL):
                    return False
                if isinstance(step, str):
                    properties = sub.get("properties") or {}
                    extra = sub.get("additionalProperties", True)
                    if not isinstance(properties, dict):
                        return False
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


def follows_valid(schemas: Schemas, old: str, new: str, known: dict | None = None, any_key: bool = False) -> bool:
    """Whether ``new`` is valid because ``old`` is (the caller knows it is) and they differ only in image
    strings (``any_key``: string values of any key but the root's ``apiVersion`` and ``kind``) the schema
    leaves unconstrained; False means "not decided here", never "invalid". ``known``: ``image_lines(old,
    any_key)`` when the caller has it (stored with the old document's verdict)."""
    lines = changed_values(old, new, any_key)
    if not lines:
        return False
    known = known if known is not None else image_lines(old, any_key)
    if known is None or any(str(i) not in known["lines"] for i in lines):
        return False
    validator = schemas.validator(known["apiVersion"], known["kind"])
    if validator is None:
        return False
    resolver = getattr(validator, "_resolver", None)  # how the schema's references are read
    for path in (tuple(p) for i in lines for p in known["lines"][str(i)]):
        key = (schemas.identity, known["apiVersion"], known["kind"], path)
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
    stored valid verdict and that ``follows_valid`` it is not checked again, nor is one that follows (``any_key``)
    a document this checker found valid by the full check (the objects of many sites of one template, alike
    but for their names, namespaces and annotations). Every document found valid, either way, has its verdict
    stored in the render cache for the next change, with its ``image_lines`` (a document that follows another
    has the other's: the same lines, the same paths, other strings)."""

    REFERENCES = 4  # documents found valid that a new one is compared with, per line count (the latest)

    def __init__(self, schemas: Schemas, cache=None, deferred: bool = False) -> None:
        self.schemas, self.cache, self.deferred = schemas, cache, deferred  # deferred: verdicts written by ``flush``, in one transaction
        self.pending: dict[str, str] = {}
        self.fast = 0  # documents decided by the fast path, for benchmarks and tests
        self._references: dict[int, list[tuple[str, dict, str]]] = {}  # line count -> (document, any-key lines, stored verdict)

    def check_pairs(self, pairs: list[tuple[str | None, str]]) -> Checked:
        """The findings of every new document of ``(earlier document or None, new document)`` pairs."""
        keys = [verdict_key(self.schemas, old) for old, _ in pairs if old is not None]
        known = {k: self.pending[k] for k in keys if k in self.pending}
        if self.cache is not None and len(known) < len(keys):
            known |= self.cache.metas([k for k in keys if k not in known])
        errors: list[Finding] = []
        unchecked: list[str] = []
        valid: dict[str, str] = {}
        for old, new in pairs:
            stored = known.get(verdict_key(self.schemas, old)) if old is not None else None
            lines = _loads(stored)
            if lines is not None and follows_valid(self.schemas, old, new, lines):
                self.fast += 1
                valid[verdict_key(self.schemas, new)] = stored
                continue
            like = self._follows_reference(new)
            if like is not None:
                self.fast += 1
                if like:
                    valid[verdict_key(self.schemas, new)] = like
                continue
            found = self.schemas.check_docs([new])
            errors += found.errors
            unchecked += [k for k in found.unchecked if k not in unchecked]
            if not found.errors and not found.unchecked:
                mine = image_lines(new)
                verdict = json.dumps(mine, separators=(",", ":")) if mine is not None else ""
                if verdict and self.cache is not None:
                    valid[verdict_key(self.schemas, new)] = verdict
                self._remember(new, verdict)
        if self.cache is not None and valid:
            self.pending |= valid
            if not self.deferred:
                self.flush()
        return Checked(tuple(errors), tuple(unchecked))

    def flush(self) -> None:
        """Write the verdicts found so far to the render cache."""
        if self.cache is not None and self.pending:
            self.cache.set_metas(self.pending)
        self.pending = {}

    def _follows_reference(self, new: str) -> str | None:
        """The stored verdict ('' when none) of a document found valid here that ``new`` follows; None when it follows none."""
        for doc, lines, verdict in reversed(self._references.get(new.count("\n"), ())):
            if follows_valid(self.schemas, doc, new, lines, any_key=True):
                return verdict
        return None

    def _remember(self, doc: str, verdict: str) -> None:
        lines = image_lines(doc, any_key=True)
        if lines is not None:
            kept = self._references.setdefault(doc.count("\n"), [])
            kept.append((doc, lines, verdict))
            del kept[: -self.REFERENCES]


def _loads(stored: str | None) -> dict | None:
    """A stored verdict's ``image_lines``; None when there is none or it is not in that form."""
    if not stored:
        return None
    try:
        data = json.loads(stored)
    except ValueError:
        return None
    ok = isinstance(data, dict) and isinstance(data.get("lines"), dict) and isinstance(data.get("kind"), str) and isinstance(data.get("apiVersion"), str)
    return data if ok else None
