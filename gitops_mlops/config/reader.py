"""Typed access to the mapping nodes of the config, with file:line errors; shared by its parsers."""

from __future__ import annotations

import re

from gitops_mlops.core.errors import InputError
from gitops_mlops.yamltext.nodes import MappingNode, Node, ScalarNode, SequenceNode, line_of

_DECIMAL = re.compile(r"[0-9]{1,12}", re.ASCII)


class Reader:
    """Typed access to a mapping node with file:line errors."""

    def __init__(self, source: str, node: Node, where: str, allowed: set[str]) -> None:
        if not isinstance(node, MappingNode):
            raise InputError(f"{source}:{line_of(node)}: {where} must be a mapping")
        self.source, self.node, self.where = source, node, where
        self.values = {k.value: v for k, v in node.value}
        for key, _ in node.value:
            if key.value not in allowed:
                raise InputError(f"{source}:{line_of(key)}: unknown key {key.value!r} in {where} (allowed: {', '.join(sorted(allowed))})")

    def error(self, node: Node, message: str) -> InputError:
        return InputError(f"{self.source}:{line_of(node)}: {message}")

    def str(self, key: str, default: str | None = None, pattern: re.Pattern[str] | None = None) -> str:
        node = self.values.get(key)
        if node is None:
            if default is None:
                raise InputError(f"{self.source}:{line_of(self.node)}: {self.where} needs {key!r}")
            return default
        if not isinstance(node, ScalarNode) or not node.tag.endswith(":str") or not node.value:
            raise self.error(node, f"{self.where}.{key} must be a non-empty string")
        if pattern is not None and not pattern.match(node.value):
            raise self.error(node, f"{self.where}.{key} {node.value!r} is not a valid name")
        return node.value

    def url(self, key: str, default: str | None = None) -> str:
        """An http(s):// URL without a user or password: the config is committed, credentials go by their variable."""
        url = self.str(key, default)
        if not url:
            return url
        from gitops_mlops.core.httpclient import has_credentials, redact_url  # here: reading a config needs no HTTP client unless it names a URL

        if not re.match(r"^https?://[^\s/]+", url):
            raise self.error(self.values[key], f"{self.where}.{key} {redact_url(url)!r} is not an http(s):// URL")
        if has_credentials(url):
            raise self.error(
                self.values[key], f"{self.where}.{key} {redact_url(url)!r} carries a user or password: the config is committed; give a secret by its variable"
            )
        return url

    def int(self, key: str, default: int, minimum: int = 0, maximum: int = 1000) -> int:
        """A whole number written in decimal digits (no sign, ``0x``, ``_`` or exponent), within bounds."""
        node = self.values.get(key)
        if node is None:
            return default
        text = node.value if isinstance(node, ScalarNode) and node.tag.endswith(":int") else ""
        if not _DECIMAL.fullmatch(text) or not minimum <= int(text) <= maximum:
            raise self.error(node, f"{self.where}.{key} must be a whole number from {minimum} to {maximum}, in decimal digits")
        return int(text)

    def bool(self, key: str, default: bool = False) -> bool:
        node = self.values.get(key)
        if node is None:
            return default
        if not isinstance(node, ScalarNode) or not node.tag.endswith(":bool"):
            raise self.error(node, f"{self.where}.{key} must be true or false")
        return node.value.lower() in ("true", "yes", "on")

    def list(self, key: str) -> list[Node]:
        node = self.values.get(key)
        if node is None or (isinstance(node, ScalarNode) and node.tag.endswith(":null")):
            return []
        if not isinstance(node, SequenceNode):
            raise self.error(node, f"{self.where}.{key} must be a list")
        return list(node.value)

    def strings(self, key: str) -> tuple[str, ...]:
        out = []
        for item in self.list(key):
            if not isinstance(item, ScalarNode) or not item.value:
                raise self.error(item, f"{self.where}.{key} must be a list of strings")
            out.append(item.value)
        return tuple(out)
