"""Which sites each wave of a stage takes, and where a digest's rollout through those waves stands.

Sites a wave's selector names are that wave's. The others are taken in a stable order: sorted by
``sha256(model + "\\0" + site)``, so the same sites go first for a model every time, and different
models put different sites first (the risk is spread). A count or a percentage is cumulative over
the stage (a share rounded up, at least one site); the last wave takes whatever is left.

A wave is *out* when every site of it that runs the model renders the digest; *done* when, also,
its soak has passed since the newest commit that brought the digest to one of its sites (committer
time), and — when the stage has checks — each of its sites has a successful verification of the
digest recorded after that commit. Everything is read from Git and the renders: nothing else is kept.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime

from gitops_mlops.config.load import Config, Model, Stage
from gitops_mlops.config.sites import Site, matches
from gitops_mlops.core.errors import InputError
from gitops_mlops.gitstore.verifications import Verification


def order_key(model: str, site: str) -> bytes:
    return hashlib.sha256(f"{model}\0{site}".encode()).digest()


def assign(model: str, stage: Stage, sites: tuple[Site, ...] | list[Site]) -> tuple[tuple[Site, ...], ...]:
    """The sites of each wave of ``stage`` (``sites``: the stage's sites the model lives at)."""
    waves = stage.waves
    taken: set[str] = set()
    named: list[list[Site]] = [[] for _ in waves]
    for index, wave in enumerate(waves):
        if not wave.selectors:
            continue
        named[index] = [s for s in sites if s.name not in taken and any(s.stage == sel or matches(s.name, sel) for sel in wave.selectors)]
        if not named[index]:
            raise InputError(f"{wave.where}: stage {stage.name} wave {index + 1} names no site of the stage ({wave.describe()})")
        taken.update(s.name for s in named[index])
    pool = sorted((s for s in sites if s.name not in taken), key=lambda s: order_key(model, s.name))
    total, assigned, at = len(sites), 0, 0
    out: list[tuple[Site, ...]] = []
    for index, wave in enumerate(waves):
        if index == len(waves) - 1:
            chosen, at = tuple(named[index]) + tuple(pool[at:]), len(pool)
        elif wave.selectors:
            chosen = tuple(named[index])
        else:
            goal = min(total, wave.count) if wave.count else max(1, math.ceil(total * wave.percent / 100 - 1e-9))
            take = max(goal - assigned, 1) if at < len(pool) else 0
            chosen, at = tuple(pool[at : at + take]), at + take
        assigned += len(chosen)
        out.append(chosen)
    return tuple(out)


@dataclass(frozen=True)
class WaveState:
    number: int
    sites: tuple[str, ...]  # the wave's sites that run the model
    current: tuple[str, ...]  # those of them that render the digest
    arrived: datetime | None  # the newest commit that brought the digest to one of them
    soak: float  # seconds
    verified: int  # how many have a successful verification of the digest since it arrived
    needs_verification: bool
    last_verification: str = ""  # the newest verification's verdict and time at these sites, 'verdict at'

    @property
    def at_digest(self) -> int:
        return len(self.current)

    @property
    def out(self) -> bool:
        return self.at_digest == len(self.sites)

    def soak_left(self, now: datetime) -> float:
        """Seconds of soak left (0 when passed; the whole soak when the wave is not out)."""
        if not self.out:
            return self.soak
        if self.arrived is None or not self.soak:
            return 0.0
        return max(0.0, self.soak - (now - self.arrived).total_seconds())

    def done(self, now: datetime) -> bool:
        return self.out and self.soak_left(now) == 0 and (not self.needs_verification or self.verified == len(self.sites))

    def why_not(self, now: datetime) -> str:
        """Why the wave is not done, in a few words ('' when it is)."""
        if not self.out:
            return f"wave {self.number}: {len(self.sites) - self.at_digest} of {len(self.sites)} site(s) do not run the digest yet"
        left = self.soak_left(now)
        if left:
            return f"wave {self.number}: soak {shown_duration(left)} left"
        if self.needs_verification and self.verified < len(self.sites):
            return f"wave {self.number}: {len(self.sites) - self.verified} of {len(self.sites)} site(s) have no successful verification of the digest yet"
        return ""


@dataclass(frozen=True)
class Rollout:
    model: str
    stage: str
    digest: str
    waves: tuple[WaveState, ...]
    halted: bool = False  # the digest is on hold at a site of the stage (a rollback after a failed check)

    def next_wave(self) -> WaveState | None:
        """The first wave not out, or None when every wave is."""
        return next((w for w in self.waves if not w.out), None)

    def done_count(self, now: datetime) -> int:
        count = 0
        for wave in self.waves:
            if not wave.done(now):
                break
            count += 1
        return count

    def done(self, now: datetime) -> bool:
        return self.done_count(now) == len(self.waves)

    def blocker(self, before: int, now: datetime) -> str:
        """Why wave ``before`` + 1 may not go yet: the first of waves 1..before that is not done ('' when none)."""
        return next((w.why_not(now) for w in self.waves[:before] if not w.done(now)), "")


def shown_duration(seconds: float) -> str:
    seconds = int(math.ceil(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs and not (days or hours) else ""]
    return "".join(parts) or "0s"


def rollout_of(
    config: Config,
    model: Model,
    stage: Stage,
    digest: str,
    stage_sites: tuple[Site, ...],
    running: dict[str, set[str]],
    arrived: dict[str, datetime],
    verified: dict[str, Verification],
) -> Rollout:
    """Where ``digest``'s rollout through ``stage`` stands: ``running`` (site -> the model's rendered digests,
    only sites that run it), ``arrived`` (site -> when the digest was committed for it), ``verified``
    (site -> its latest verification)."""
    needs = bool(config.checks_for(model, stage.name))
    states = []
    for number, members in enumerate(assign(model.name, stage, stage_sites), start=1):
        names = tuple(s.name for s in members if running.get(s.name))
        at = [n for n in names if running[n] == {digest}]
        times = [arrived[n] for n in at if n in arrived]
        newest = max(times) if times else None
        good = [n for n in at if _verified_since(verified.get(n), digest, newest)]
        seen = [verified[n] for n in at if n in verified and verified[n].digest == digest]
        last = max(seen, key=lambda v: str(v.at)) if seen else None
        states.append(
            WaveState(number, names, tuple(at), newest, stage.waves[number - 1].soak, len(good), needs, f"{last.verdict} at {last.at}" if last else "")
        )
    held = {h.site for h in config.holds if h.model == model.name and h.digest == digest}
    halted = any(s.name in held for s in stage_sites)
    return Rollout(model.name, stage.name, digest, tuple(states), halted)


def _verified_since(found: Verification | None, digest: str, since: datetime | None) -> bool:
    if found is None or found.digest != digest or found.verdict != "successful":
        return False
    if since is None:
        return True
    try:
        at = datetime.fromisoformat(found.at.replace("Z", "+00:00")) if isinstance(found.at, str) else None
    except ValueError:
        return False
    return at is not None and at.tzinfo is not None and at >= since.replace(microsecond=0)  # a time without a zone is not the tool's
