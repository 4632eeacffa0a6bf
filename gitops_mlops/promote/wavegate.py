"""The gate of waves and soak times on a promotion.

A promotion into a stage with waves names its wave (``--wave next`` or ``--wave N``) or says it
takes the whole selection at once (``--all-waves``); without either it is refused (exit 3).
``--wave`` on a stage without waves, or with a selection that is not one stage, is bad input.
Wave N+1 goes only when waves 1..N are done (``promote/waves.py``). Any promotion into a stage
also needs, of the stage before: every wave done when it has waves, and the digest run there for
the stage's ``soak``. ``--force-order`` skips these gates as it skips the stage order.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from gitops_mlops.change.intents import PromoteRequest
from gitops_mlops.config.load import Config, Model, Stage
from gitops_mlops.config.sites import Site
from gitops_mlops.config.waves import Wave
from gitops_mlops.core import settings
from gitops_mlops.core.errors import InputError, PolicyError
from gitops_mlops.gitstore import promotions, verifications
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.promote.plan import Intent, lives_at
from gitops_mlops.promote.waves import Rollout, assign, rollout_of, shown_duration
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.state import ModelMatcher, render_state

_ALL = Wave(percent=100.0)  # one wave of the whole stage: how far a stage without waves is


def stage_named(config: Config, name: str) -> Stage:
    return next(s for s in config.stages if s.name == name)


def stage_sites(model: Model, stage: Stage, all_sites: tuple[Site, ...]) -> tuple[Site, ...]:
    """The stage's sites the model lives at (its ``sites:``, when the config gives one)."""
    return tuple(s for s in all_sites if s.stage == stage.name and lives_at(model, s))


def parse_wave(text: str, stage: Stage) -> int | None:
    """``next`` (None) or a wave's number, 1 to the stage's number of waves."""
    if text == "next":
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 6 or not 1 <= int(text) <= len(stage.waves):
        raise InputError(f"--wave {text[:20]!r}: expected 'next' or a number from 1 to {len(stage.waves)} (stage {stage.name} has {len(stage.waves)} waves)")
    return int(text)


def check_request(intent: Intent, request: PromoteRequest) -> None:
    """What the request may ask, known before any render or registry: refusals change nothing."""
    stages = list(dict.fromkeys(t.stage for t in intent.targets))
    if request.wave is not None:
        if request.all_waves:
            raise InputError("--wave and --all-waves: choose one")
        if len(stages) != 1 or tuple(request.selectors) != (stages[0],):
            raise InputError(f"--wave needs --to STAGE, one whole stage (got --to {' --to '.join(request.selectors)})")
        stage = stage_named(intent.config, stages[0])
        if not stage.waves:
            raise InputError(f"--wave: stage {stage.name} has no waves (stages[].waves in gitops-mlops.yaml); promote without --wave")
        parse_wave(request.wave, stage)
        return
    staged = [s for s in stages if stage_named(intent.config, s).waves]
    if staged and not request.all_waves:
        waves = len(stage_named(intent.config, staged[0]).waves)
        raise PolicyError(
            f"stage {staged[0]} takes a digest in {waves} waves: pass --wave next (or --wave N), "
            f"or --all-waves to take the whole selection at once (or drive it with: gitops-mlops rollout)"
        )


def read_rollout(repo_dir: Path, intent: Intent, stage: Stage, cache: RenderCache | None = None, upto: int | None = None) -> Rollout:
    """Where the intent's digest stands in ``stage``: renders, promotion records and verifications. With
    ``upto``, only waves 1..upto are read and returned (the same states as in the whole read): the sites
    of later waves are not rendered."""
    config, model, digest = intent.config, intent.model, intent.image.digest or ""
    sites = stage_sites(model, stage, intent.all_sites)
    wanted = sites
    if upto is not None:
        names = {s.name for wave in assign(model.name, stage, sites)[:upto] for s in wave}
        wanted = tuple(s for s in sites if s.name in names)
    state = render_state(repo_dir, config, wanted, cache=cache)
    matcher = ModelMatcher(config)
    running: dict[str, set[str]] = {}
    for name, rendered in state.items():
        digests = {c.digest for c in matcher.by_model(name, rendered.containers).get(model.name, [])} if rendered.ok else {"?"}
        if digests:
            running[name] = digests
    git = GitRepo(repo_dir)
    arrived = promotions.arrivals(promotions.records(git, model.name), digest, set(running))
    verified = {}
    if config.checks_for(model, stage.name):
        verified = verifications.latest(verifications.read(git, config, model.name, fetch=git.has_remote(config.remote)))
    rollout = rollout_of(config, model, stage, digest, sites, running, arrived, verified)
    return rollout if upto is None else replace(rollout, waves=rollout.waves[:upto])


def previous_stage(repo_dir: Path, intent: Intent, now: datetime) -> list[tuple[str, float]]:
    """What holds the intent's stages back on account of the stage before each: (why, seconds to wait;
    0 when waiting will not help). Empty when nothing does."""
    config, found = intent.config, []
    for name in dict.fromkeys(t.stage for t in intent.targets):
        index = config.stage_index(name)
        if index == 0:
            continue
        stage, before = config.stages[index], config.stages[index - 1]
        if not before.waves and not stage.soak:
            continue
        rollout = read_rollout(repo_dir, intent, before) if before.waves else None
        if rollout is not None and not rollout.done(now):
            blocker = rollout.blocker(len(rollout.waves), now)
            wave = next(w for w in rollout.waves if not w.done(now))
            wait = wave.soak_left(now) if wave.out and wave.soak_left(now) else 0.0
            found.append((f"stage {name} needs every wave of {before.name} done with {intent.image.digest[:19]}: {blocker}", wait))
            continue
        if stage.soak:
            found += _soak(repo_dir, intent, stage, before, now)
    return found


def _soak(repo_dir: Path, intent: Intent, stage: Stage, before: Stage, now: datetime) -> list[tuple[str, float]]:
    """The stage's soak: how long the stage before has run the digest (from the newest commit that brought it there)."""
    digest = intent.image.digest or ""
    rollout = read_rollout(repo_dir, intent, replace(before, waves=(_ALL,)))
    wave = rollout.waves[0]
    if not wave.sites or not wave.out:
        return []  # nothing of the model there, or not there yet: the stage order says so
    if wave.arrived is None:
        return [
            (
                f"stage {stage.name} needs {before.name} to have run {digest[:19]} for {shown_duration(stage.soak)}, and no promotion records when it arrived",
                0.0,
            )
        ]
    left = stage.soak - (now - wave.arrived).total_seconds()
    if left <= 0:
        return []
    return [(f"stage {stage.name} soak: {before.name} has run {digest[:19]} since {wave.arrived.isoformat()}; {shown_duration(left)} left", left)]


def narrow(repo_dir: Path, intent: Intent, request: PromoteRequest) -> Intent:
    """The intent with the gates of waves and soak applied: the wave's sites as targets, or a refusal."""
    now = settings.now()
    if not request.force_order:
        held = previous_stage(repo_dir, intent, now)
        if held:
            raise PolicyError(f"{held[0][0]} (or --force-order)")
    if request.wave is None:
        return intent
    stage = stage_named(intent.config, intent.targets[0].stage)
    number = parse_wave(request.wave, stage)
    rollout = read_rollout(repo_dir, intent, stage, upto=number)  # wave N needs waves 1..N only
    wave = rollout.waves[number - 1] if number else (rollout.next_wave() or rollout.waves[-1])
    if not request.force_order and wave.number > 1 and not wave.out:  # a wave already out is up to date, whatever the waves before
        blocker = rollout.blocker(wave.number - 1, now)
        if blocker:
            raise PolicyError(f"stage {stage.name} wave {wave.number} waits for the waves before it: {blocker} (or --force-order)")
    members = {s.name for s in assign(intent.model.name, stage, stage_sites(intent.model, stage, intent.all_sites))[wave.number - 1]}
    targets = tuple(t for t in intent.targets if t.name in members)
    if not targets:
        raise InputError(f"stage {stage.name} wave {wave.number} has no site: the stage has fewer sites than waves")
    return replace(intent, targets=targets, wave=f"{wave.number}/{len(stage.waves)}")
