"""Where each model's rollout through each stage with waves stands, for ``status``.

The rollout of a (model, stage) is that of the digest its newest promotion there brought (a
rollback after it leaves that digest on hold: the rollout is halted). Read from the status rows
(what each site renders), the promotion commits and the recorded verifications.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitops_mlops.config.load import Config, Model
from gitops_mlops.config.sites import Site
from gitops_mlops.core import settings
from gitops_mlops.core.errors import GitOpsError
from gitops_mlops.gitstore import promotions, verifications
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.promote.plan import lives_at
from gitops_mlops.promote.waves import Rollout, assign, rollout_of


@dataclass(frozen=True)
class StageRollout:
    model: str
    stage: str
    digest: str
    version: str
    waves_done: int
    waves: int
    sites_at: int  # sites of the stage that run the digest
    sites: int  # sites of the stage that run the model
    soak_left: float  # seconds until the wave soaking now has soaked (0: none soaking)
    verification: str  # the newest verification of the digest at the stage: 'verdict at TIME' ('' when none)
    halted: bool

    def as_json(self) -> dict:
        verdict, _, at = self.verification.partition(" at ")
        return {
            "model": self.model,
            "stage": self.stage,
            "digest": self.digest,
            "version": self.version or None,
            "wavesDone": self.waves_done,
            "waves": self.waves,
            "sitesAtDigest": self.sites_at,
            "sites": self.sites,
            "soakLeftSeconds": round(self.soak_left) if self.soak_left else 0,
            "lastVerification": {"verdict": verdict, "at": at} if self.verification else None,
            "halted": self.halted,
        }


def waves_of_sites(config: Config, models: list[Model], sites: tuple[Site, ...]) -> dict[tuple[str, str], int]:
    """(model, site) -> the number of the wave it is in, for the stages with waves."""
    found: dict[tuple[str, str], int] = {}
    for model in models:
        for stage in (s for s in config.stages if s.waves):
            members = tuple(s for s in sites if s.stage == stage.name and lives_at(model, s))
            if not members:
                continue
            for number, wave in enumerate(assign(model.name, stage, members), start=1):
                found.update(((model.name, s.name), number) for s in wave)
    return found


def read_rollouts(repo_dir: Path, config: Config, models: list[Model], sites: tuple[Site, ...], rows: list) -> list[StageRollout]:
    """One entry per (model, stage with waves) that a promotion has reached."""
    staged = [s for s in config.stages if s.waves]
    if not staged:
        return []
    git, now, out = GitRepo(repo_dir), settings.now(), []
    running: dict[tuple[str, str], dict[str, set[str]]] = {}
    versions: dict[tuple[str, str], str] = {}
    for row in rows:
        running.setdefault((row.model, row.stage), {})[row.site] = {row.digest}
        versions[(row.model, row.digest)] = row.version
    for model in models:
        try:
            found = promotions.records(git, model.name)
        except GitOpsError:
            continue
        verified = None
        for stage in staged:
            members = tuple(s for s in sites if s.stage == stage.name and lives_at(model, s))
            digest = _newest_digest(found, {s.name for s in members})
            here = running.get((model.name, stage.name), {})
            if not digest or not here:
                continue
            if verified is None:
                verified = _verified(git, config, model)  # shown whether or not the stage requires it
            arrived = promotions.arrivals(found, digest, set(here))
            rollout = rollout_of(config, model, stage, digest, members, here, arrived, verified)
            out.append(_entry(rollout, versions.get((model.name, digest), ""), now))
    return out


def _newest_digest(found: list[promotions.Recorded], sites: set[str]) -> str:
    """The digest the newest promotion to any of ``sites`` brought ('' when none did)."""
    for entry in found:
        if entry.record.action != "promote":
            continue
        for site, digest in entry.digests().items():
            if site in sites:
                return digest
    return ""


def _verified(git: GitRepo, config: Config, model: Model) -> dict:
    try:
        return verifications.latest(verifications.read(git, config, model.name))
    except GitOpsError:
        return {}


def _entry(rollout: Rollout, version: str, now) -> StageRollout:
    soaking = next((w for w in rollout.waves if not w.done(now)), None)
    left = soaking.soak_left(now) if soaking is not None and soaking.out else 0.0
    checked = [w.last_verification for w in rollout.waves if w.last_verification]
    newest = max(checked, key=lambda text: text.partition(" at ")[2]) if checked else ""
    return StageRollout(
        rollout.model,
        rollout.stage,
        rollout.digest,
        version,
        rollout.done_count(now),
        len(rollout.waves),
        sum(w.at_digest for w in rollout.waves),
        sum(len(w.sites) for w in rollout.waves),
        left,
        newest,
        rollout.halted,
    )
