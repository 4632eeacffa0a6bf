"""Drive a digest through the waves of a stage, one step at a time, from what Git records.

A step reads where the rollout stands (``promote/waves.py``: renders, promotion commits,
recorded verifications), then:

1. halted (the digest is on hold at a site of the stage, after a rollback): stop;
2. verifies the waves that are out and have soaked but have no successful verification yet
   (``loop/verify.py`` against Prometheus; the verdicts are recorded in Git). A failed check
   rolls back every site of the stage that runs the digest in one commit (``promote/rollback.py``:
   the digest goes on hold) and stops; an inconclusive one is measured again on the next step;
3. promotes the next wave when the waves before it are done (and, for the first wave, when the
   stage before is done and the stage's soak has passed), as ``promote --wave N`` would;
4. otherwise waits: it says what for and how long.

Nothing is kept outside Git: a step run again continues where the last one left off. A step that
pushes first fast-forwards the checkout to the remote's branch, so a long ``--watch`` reads what
others pushed since (a rollback, a hold).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gitops_mlops.change.intents import PromoteRequest, Publish, RollbackRequest
from gitops_mlops.config.load import load_config
from gitops_mlops.core import settings
from gitops_mlops.core.errors import InputError, MonitoringError, PolicyError
from gitops_mlops.core.present import some
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.loop.prometheus import Client
from gitops_mlops.loop.verify import Run, verify
from gitops_mlops.promote.plan import Intent, resolve_intent
from gitops_mlops.promote.promotion import promote
from gitops_mlops.promote.rollback import rollback
from gitops_mlops.promote.wavegate import previous_stage, read_rollout, stage_named
from gitops_mlops.promote.waves import Rollout, shown_duration

STATES = ("in-progress", "waiting", "done", "halted")


@dataclass(frozen=True)
class Step:
    model: str
    stage: str
    digest: str
    state: str  # one of STATES
    waves_done: int = 0
    waves: int = 0
    actions: tuple[str, ...] = ()  # what this step did, in order
    reason: str = ""  # what it waits for, or why it stopped
    wait: float = 0.0  # seconds until waiting may end (0: unknown)
    commits: tuple[str, ...] = ()
    rolled_back: tuple[str, ...] = ()

    def as_json(self) -> dict:
        return {
            "model": self.model,
            "stage": self.stage,
            "digest": self.digest,
            "state": self.state,
            "wavesDone": self.waves_done,
            "waves": self.waves,
            "actions": list(self.actions),
            "reason": self.reason or None,
            "waitSeconds": round(self.wait, 3) if self.wait else None,
            "commits": list(self.commits),
            "rolledBack": list(self.rolled_back),
        }


@dataclass(frozen=True)
class Options:
    push: bool = False
    verify_registry: bool = True  # the digest is checked to exist in its registry before the first wave
    insecure_registries: tuple[str, ...] = ()
    member_only: bool = False  # a member of a release rolled out alone (--member-only); else refused as promote refuses it
    client: Client | None = field(default=None, compare=False)  # Prometheus (tests pass their own)
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)  # between a check's measurements


def step(repo_dir: Path, model: str, image: str, stage: str, options: Options = Options()) -> Step:
    """One step of the rollout of ``image`` (IMAGE@sha256:...) through ``stage``."""
    repo_dir = Path(repo_dir).resolve()
    if options.push:
        _catch_up(repo_dir)
    intent = _intent(repo_dir, model, image, stage)
    spec, now = stage_named(intent.config, stage), settings.now()
    rollout = read_rollout(repo_dir, intent, spec)
    done = _step(rollout, now)
    if rollout.halted:
        held = f"{intent.model.name}@{rollout.digest[:19]} is on hold at {spec.name} after a rollback"
        return done(state="halted", reason=f"{held}; lift it with release-hold to roll out again")
    actions, commits = [], []
    if intent.config.checks_for(intent.model, spec.name):
        outcome = _verify_due(repo_dir, intent, rollout, now, options)
        if outcome is not None:
            actions.append(outcome[0])
            if outcome[1] == "failed":
                return _roll_back(repo_dir, intent, rollout, outcome[0], options, done, actions)
            if outcome[1] == "inconclusive":
                return done(state="waiting", actions=tuple(actions), reason=outcome[0])
            rollout = read_rollout(repo_dir, intent, spec)
            done = _step(rollout, now)
    wave = rollout.next_wave()
    if wave is None:
        if rollout.done(now):
            return done(state="done", actions=tuple(actions), reason=f"every wave of {spec.name} runs {rollout.digest[:19]} and is done")
        last = next(w for w in rollout.waves if not w.done(now))
        return done(state="waiting", actions=tuple(actions), reason=last.why_not(now), wait=last.soak_left(now))
    blocker = _blocker(repo_dir, intent, rollout, wave.number, now)
    if blocker is not None:
        return done(state="waiting", actions=tuple(actions), reason=blocker[0], wait=blocker[1])
    request = PromoteRequest(
        intent.model.name,
        image,
        (spec.name,),
        wave=str(wave.number),
        verify=options.verify_registry,
        insecure_registries=options.insecure_registries,
        member_only=options.member_only,
    )
    result = promote(repo_dir, request, Publish(push=options.push))
    actions.append(f"promoted wave {wave.number}/{len(rollout.waves)}: {len(result.changed)} site(s) ({some(result.changed)})")
    commits += [result.commit] if result.commit else []
    return done(state="in-progress", actions=tuple(actions), commits=tuple(commits))


def _catch_up(repo_dir: Path) -> None:
    """A rollout that pushes reads the branch as the remote has it: the checkout is fast-forwarded to the
    remote's branch when it can be (a long --watch sees what others pushed, a rollback above all)."""
    config, git = load_config(repo_dir), GitRepo(repo_dir)
    if not git.has_remote(config.remote) or git.head() is None:
        return
    tip = git.fetch(config.remote, config.target_branch)
    head = git.head()
    if tip != head and git.is_ancestor(head, tip):
        git.reset_keep(tip)


def _intent(repo_dir: Path, model: str, image: str, stage: str) -> Intent:
    """The rollout's model, image and stage, checked: a digest, and a stage with waves."""
    intent = resolve_intent(repo_dir, PromoteRequest(model, image, (stage,), registry_checked=True))
    if not intent.image.digest:
        raise InputError(f"rollout: image {image} has no digest; pass IMAGE@sha256:<digest> (every wave must take the same build)")
    spec = next((s for s in intent.config.stages if s.name == stage), None)
    if spec is None:
        raise InputError(f"rollout --to {stage}: not a stage ({', '.join(s.name for s in intent.config.stages)})")
    if not spec.waves:
        raise InputError(f"rollout --to {stage}: stage {stage} has no waves (stages[].waves in gitops-mlops.yaml); use promote --to {stage}")
    return intent


def _step(rollout: Rollout, now) -> Callable[..., Step]:
    def make(**fields) -> Step:
        return Step(rollout.model, rollout.stage, rollout.digest, waves_done=rollout.done_count(now), waves=len(rollout.waves), **fields)

    return make


def _blocker(repo_dir: Path, intent: Intent, rollout: Rollout, number: int, now) -> tuple[str, float] | None:
    """What the next wave waits for: the waves before it, or (for the first) the stage before and the
    stage's soak. A hold-up that waiting will not end is a refusal (exit 3)."""
    if number > 1:
        reason = rollout.blocker(number - 1, now)
        if not reason:
            return None
        blocking = next(w for w in rollout.waves[: number - 1] if not w.done(now))
        return reason, blocking.soak_left(now)
    held = previous_stage(repo_dir, intent, now)
    if not held:
        return None
    if held[0][1] <= 0:
        raise PolicyError(held[0][0])
    return held[0]


def _verify_due(repo_dir: Path, intent: Intent, rollout: Rollout, now, options: Options) -> tuple[str, str] | None:
    """Verify the sites of the waves that are out and soaked but not verified yet: (what was done, the verdict)."""
    due = [w for w in rollout.waves if w.out and w.soak_left(now) == 0 and w.verified < len(w.sites)]
    sites = tuple(name for w in due for name in w.current)
    if not sites:
        return None
    report = verify(repo_dir, intent.model.name, sites, Run(push=options.push, client=options.client, sleep=options.sleep))
    if report.errors:
        raise MonitoringError(f"rollout: verifying {some(list(sites))}: {report.errors[0]}")
    waves = ", ".join(str(w.number) for w in due)
    failed = [s for s in report.sites if s.verdict == "failed"]
    if failed:
        check = next(c for c in failed[0].checks if c.verdict == "failed")
        more = f" (and {len(failed) - 1} more sites)" if len(failed) > 1 else ""
        return (
            f"verified wave {waves}: check {check.check} failed at {failed[0].site}{more}: values {list(check.values)}, condition {check.condition}",
            "failed",
        )
    unsure = [s.site for s in report.sites if s.verdict != "successful"]
    if unsure:
        return f"verified wave {waves}: inconclusive at {some(unsure)}; measured again on the next step", "inconclusive"
    return f"verified wave {waves}: {len(report.sites)} site(s) successful", "successful"


def _roll_back(repo_dir: Path, intent: Intent, rollout: Rollout, why: str, options: Options, done, actions: list[str]) -> Step:
    """Every site of the stage that runs the digest goes back, in one commit; the digest goes on hold."""
    sites = tuple(name for w in rollout.waves for name in w.current)
    reason = f"rollout of {rollout.digest[:19]} to {rollout.stage}: {why.split(': ', 1)[1]}"
    result = rollback(repo_dir, RollbackRequest(intent.model.name, sites, reason=reason, verify=False), Publish(push=options.push))
    actions.append(f"rolled back {len(result.changed)} site(s) ({some(result.changed)}); {rollout.digest[:19]} on hold")
    commits = (result.commit,) if result.commit else ()
    return done(state="halted", actions=tuple(actions), reason=why, commits=commits, rolled_back=result.changed)


def watch(repo_dir: Path, model: str, image: str, stage: str, options: Options, interval: float, report: Callable[[Step], None]) -> Step:
    """Steps until the stage is done or halted, ``interval`` seconds apart (less when a soak ends sooner)."""
    while True:
        found = step(repo_dir, model, image, stage, options)
        report(found)
        if found.state in ("done", "halted"):
            return found
        if found.state == "waiting":
            pause = min(interval, found.wait) if found.wait else interval
            options.sleep(max(pause, 0.001))
        # in-progress: the next wave may already be due (no soak): step again at once


__all__ = ["STATES", "Options", "Step", "shown_duration", "step", "watch"]
