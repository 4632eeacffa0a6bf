"""Semantic-version ranges for stage constraints: ``">=1.2.0 <2.0.0"``, ``"^1.4.0 || ~2.1.0"``.

A range is alternatives separated by ``||``; an alternative is comparators
separated by spaces, all of which must hold: ``>=``, ``>``, ``<=``, ``<``,
``=``/``==`` (or a bare version), ``!=``, ``^X.Y.Z`` (same major; same minor
below 1.0.0) and ``~X.Y.Z`` (same minor). Versions are full ``X.Y.Z`` with an
optional leading ``v``. A pre-release is allowed only when the stage allows
pre-releases; the comparators then order it as semver does (1.5.0-rc.1 < 1.5.0).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

import semver

from gitops_mlops.core.errors import InputError

_COMPARATOR_RE = re.compile(r"^(>=|<=|==|!=|>|<|=|\^|~)?\s*[vV]?(\S+)$")
_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "=": operator.eq, "==": operator.eq, "!=": operator.ne}


def parse_version(text: str) -> semver.Version | None:
    """A semantic version from a tag (``1.4.0``, ``v1.4.0``), or None."""
    candidate = text[1:] if text[:1] in "vV" else text
    try:
        return semver.Version.parse(candidate)
    except (ValueError, TypeError):
        return None


@dataclass(frozen=True)
class Range:
    text: str
    alternatives: tuple[tuple[tuple[str, semver.Version], ...], ...]  # (op, version) conjunctions

    def allows(self, version: semver.Version, prereleases: bool = False) -> bool:
        if version.prerelease and not prereleases:
            return False
        if not self.alternatives:
            return True
        return any(all(_OPS[op](version, bound) for op, bound in terms) for terms in self.alternatives)


def _shown(text: str) -> str:
    """``text`` quoted for an error message, cut to 80 characters: a constraint is untrusted input."""
    return repr(text[:80]) + ("..." if len(text) > 80 else "")


def parse_range(text: str) -> Range:
    """Parse a constraint; an empty one allows every version. InputError names the bad part."""
    alternatives = []
    if text.strip():
        for alternative in text.split("||"):
            terms: list[tuple[str, semver.Version]] = []
            tokens = re.findall(r"(?:>=|<=|==|!=|>|<|=|\^|~)?\s*[^\s<>=!^~]+", alternative)
            if not tokens or "".join(tokens).replace(" ", "") != alternative.replace(" ", ""):
                raise InputError(f"constraint {_shown(text)}: cannot read {_shown(alternative.strip())}")
            for token in tokens:
                match = _COMPARATOR_RE.match(token.strip())
                version = parse_version(match.group(2)) if match else None
                if version is None:
                    raise InputError(f"constraint {_shown(text)}: {_shown(token.strip())} is not a comparator with a full X.Y.Z version")
                op = match.group(1) or "="
                if op == "^":
                    upper = version.bump_major() if version.major else version.bump_minor() if version.minor else version.bump_patch()
                    terms += [(">=", version), ("<", upper)]
                elif op == "~":
                    terms += [(">=", version), ("<", version.bump_minor())]
                else:
                    terms.append((op, version))
            alternatives.append(tuple(terms))
    return Range(text, tuple(alternatives))
