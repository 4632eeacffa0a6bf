"""Waves within a stage, and soak times, read from the config.

A stage may take a digest in waves (``stages[].waves``)::

    waves:
      - sites: edge/berlin-01    # a selector (or a list of them): these sites
        soak: 30m
      - sites: 10%               # a cumulative share of the stage's sites (rounded up, at least one)
        soak: 2h
      - sites: 100%              # the last wave always covers the rest of the stage

``sites`` is a selector (or a list), a cumulative count of sites (``10``), or a cumulative
percentage (``"25%"``); counts and percentages must increase from wave to wave. ``soak`` is
how long a wave runs the digest before the next may take it; ``stages[].soak`` how long the
stage before must have run a digest before this stage takes it. A soak is ``30s``, ``45m``,
``2h``, ``1d`` or ``1d12h`` (at most 90 days). Which sites a wave takes is decided where the
sites are known (``promote/waves.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gitops_mlops.config.checks import parse_duration
from gitops_mlops.config.reader import Reader
from gitops_mlops.core.errors import InputError
from gitops_mlops.yamltext.nodes import Node, ScalarNode, SequenceNode, line_of

MAX_SOAK = 90 * 24 * 3600  # seconds
_DAYS = re.compile(r"^([0-9]{1,4})d(.*)$", re.ASCII)
_PERCENT = re.compile(r"^([0-9]{1,3}(?:\.[0-9]{1,6})?)\s*%$", re.ASCII)
_SELECTOR = re.compile(r"^[A-Za-z0-9_.*?\[\]/-]+$")


@dataclass(frozen=True)
class Wave:
    """One wave of a stage: the sites a selector names, or a cumulative count or share of the stage."""

    selectors: tuple[str, ...] = ()
    count: int = 0  # cumulative number of the stage's sites after this wave
    percent: float = 0.0  # cumulative share of the stage's sites after this wave
    soak: float = 0.0  # seconds the wave runs the digest before the next wave may take it
    where: str = field(default="", compare=False)  # gitops-mlops.yaml:LINE, for messages

    def describe(self) -> str:
        if self.selectors:
            return ", ".join(self.selectors)
        return f"{self.count} site(s)" if self.count else f"{self.percent:g}%"


def parse_soak(text: str, where: str) -> float:
    """``30s``, ``45m``, ``2h``, ``1d``, ``1d12h`` (a duration with days), as seconds, at most 90 days."""
    text = str(text).strip()
    match = _DAYS.match(text)
    days, rest = (int(match.group(1)), match.group(2)) if match else (0, text)
    try:
        seconds = days * 86400 + (parse_duration(rest, where, maximum=MAX_SOAK) if rest or not match else 0)
    except InputError:
        raise InputError(f"{where}: soak {text!r} is not a duration like 30m, 2h, 1d or 1d12h") from None
    if seconds > MAX_SOAK:
        raise InputError(f"{where}: soak {text!r} is longer than the 90-day limit")
    return seconds


def read_soak(source: str, r: Reader, what: str) -> float:
    """The ``soak`` of a stage or a wave, with the line it is on (0 when not given)."""
    node = r.values.get("soak")
    if node is None:
        return 0.0
    where = f"{source}:{line_of(node)}: {what}"
    if not isinstance(node, ScalarNode) or not node.tag.endswith((":str", ":int", ":float")):
        raise InputError(f"{where}: soak must be a duration like 30m, 2h or 1d")
    return parse_soak(node.value, where)


def read_waves(source: str, stage: Reader, name: str) -> tuple[Wave, ...]:
    """The ``waves:`` of stage ``name``: counts and percentages increasing, each wave naming some site."""
    if "waves" in stage.values and not stage.list("waves"):
        raise stage.error(stage.values["waves"], f"stage {name!r}: waves must list at least one wave")
    waves: list[Wave] = []
    for number, node in enumerate(stage.list("waves"), start=1):
        what = f"stage {name!r} wave {number}"
        r = Reader(source, node, what, {"sites", "soak"})
        if "sites" not in r.values:
            raise r.error(node, f"{what} needs 'sites' (a selector, a count of sites or a percentage like \"10%\")")
        wave = _sites(r, r.values["sites"], what)
        wave = Wave(wave.selectors, wave.count, wave.percent, read_soak(source, r, what), f"{source}:{line_of(node)}")
        _check_increasing(r, node, what, wave, waves)
        waves.append(wave)
    return tuple(waves)


def _sites(r: Reader, node: Node, what: str) -> Wave:
    """A wave's ``sites``: a count, a percentage, a selector or a list of selectors."""
    if isinstance(node, ScalarNode) and node.tag.endswith(":int"):
        if not node.value.isdigit() or int(node.value) < 1:
            raise r.error(node, f"{what} names no site: a count of sites is a whole number of at least 1")
        return Wave(count=int(node.value))
    if isinstance(node, ScalarNode) and node.tag.endswith(":str") and node.value.strip().endswith("%"):
        match = _PERCENT.match(node.value.strip())
        if not match or not 0 < float(match.group(1)) <= 100:
            raise r.error(node, f"{what}: {node.value!r} is not a share of the stage from 0% (excluded) to 100%")
        return Wave(percent=float(match.group(1)))
    items = list(node.value) if isinstance(node, SequenceNode) else [node]
    selectors = []
    for item in items:
        if not isinstance(item, ScalarNode) or not item.tag.endswith(":str") or not item.value:
            raise r.error(item, f"{what} names no site: sites is a selector, a list of selectors, a count or a percentage")
        if not _SELECTOR.match(item.value) or item.value.startswith(("/", "-")) or ".." in item.value.split("/"):
            raise r.error(item, f"{what}: site selector {item.value!r}: only site names, group prefixes and globs (* ? []) are allowed")
        selectors.append(item.value)
    if not selectors:
        raise r.error(node, f"{what} names no site: its list of selectors is empty")
    return Wave(selectors=tuple(selectors))


def _check_increasing(r: Reader, node: Node, what: str, wave: Wave, earlier: list[Wave]) -> None:
    """Counts and percentages are cumulative: each must be larger than the one before of its kind."""
    if wave.count:
        before = max((w.count for w in earlier if w.count), default=0)
        if wave.count <= before:
            raise r.error(node, f"{what}: {wave.count} sites does not increase on the {before} of an earlier wave (counts are cumulative)")
    if wave.percent:
        before = max((w.percent for w in earlier if w.percent), default=0.0)
        if wave.percent <= before:
            raise r.error(node, f"{what}: {wave.percent:g}% does not increase on the {before:g}% of an earlier wave (shares are cumulative)")
