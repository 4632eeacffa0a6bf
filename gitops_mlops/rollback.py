"""Where a rollback goes: for each site, the previous digest recorded in history (or the one asked for)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitops_mlops import kustomization
from gitops_mlops.config import Config, Model
from gitops_mlops.errors import InputError
from gitops_mlops.gitrepo import GitRepo
from gitops_mlops.history import Entry, read_history
from gitops_mlops.kustomization import Pin
from gitops_mlops.sites import Site


@dataclass(frozen=True)
class Deployed:
    digest: str
    version: str
    commit: str  # the commit that deployed it ("" for the state before any recorded promotion)


@dataclass(frozen=True)
class RollbackTarget:
    site: str
    digest: str
    version: str
    current: Pin | None


def deployed_at(git: GitRepo, entries: list[Entry], site: Site, model: Model, kustomization_file: str) -> list[Deployed]:
    """What the site ran, newest first: every recorded promotion/rollback, then the state before the first one."""
    found = [Deployed(e.digest_at(site.name) or "", e.version, e.commit) for e in entries if site.name in e.sites]
    if found:
        before = git.show_file(f"{found[-1].commit}^", kustomization_file)
        if before is not None:
            try:
                pin = kustomization.parse(before, kustomization_file).pin(model.image)
            except InputError:
                pin = None
            if pin is not None and pin.digest:
                found.append(Deployed(pin.digest, pin.new_tag or "", ""))
    return found


def rollback_targets(repo_dir: Path, config: Config, model: Model, sites: tuple[Site, ...], pins: dict[str, Pin | None], files: dict[str, str], to: str | None) -> list[RollbackTarget]:
    git = GitRepo(repo_dir)
    entries = read_history(repo_dir, model.name)
    held = {(h.site, h.digest) for h in config.holds if h.model == model.name}
    targets = []
    for site in sites:
        current = pins.get(site.name)
        history = deployed_at(git, entries, site, model, files[site.name])
        if to is not None:
            key = "digest" if to.startswith("sha256:") else "version"
            match = next((d for d in history if getattr(d, key) == to), None)
            if match is None:
                raise InputError(f"{model.name} {key} {to} was never deployed at {site.name}")
        else:
            current_digest = current.digest if current else None
            match = next((d for d in history if d.digest != current_digest and (site.name, d.digest) not in held), None)
            if match is None:
                raise InputError(f"no earlier {model.name} digest is recorded for {site.name}; pass --to VERSION|DIGEST")
        targets.append(RollbackTarget(site.name, match.digest, match.version, current))
    return targets
