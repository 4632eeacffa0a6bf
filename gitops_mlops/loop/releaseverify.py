"""``verify --release NAME``: every member of a release verified at the selected sites, one report.

Each member is verified as ``verify MODEL`` verifies it (``loop.verify``): the checks of each
selected site's stage against the digest the site renders for that member, recorded in Git.
Every member is prepared before the first query, so bad input (a stage without checks, a
site that does not render) fails before monitoring is asked anything; a member no selected
site runs is left out and named in ``not_running`` (none running at all is bad input). The
members are measured one after the other, in the release's order, with one monitoring client.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from gitops_mlops.config.load import load_config
from gitops_mlops.config.sites import discover_sites, select
from gitops_mlops.core.errors import InputError
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.loop.prometheus import Client
from gitops_mlops.loop.verify import ORDER, Run, VerifyReport, groups_for, measure
from gitops_mlops.render.state import ModelMatcher, render_state


@dataclass(frozen=True)
class ReleaseVerifyReport:
    release: str
    members: tuple[VerifyReport, ...]  # one per member some selected site runs, in the release's order
    not_running: tuple[str, ...] = ()  # members no selected site runs

    @property
    def verdict(self) -> str:
        return max((m.verdict for m in self.members), key=ORDER.index, default="successful")

    @property
    def requests(self) -> int:
        return sum(m.requests for m in self.members)

    @property
    def errors(self) -> tuple[str, ...]:
        return tuple(f"{m.model}: {e}" for m in self.members for e in m.errors)

    def as_json(self) -> dict:
        return {
            "release": self.release,
            "verdict": self.verdict,
            "requests": self.requests,
            "notRunning": list(self.not_running),
            "members": [
                {
                    "model": m.model,
                    "verdict": m.verdict,
                    "recorded": m.recorded,
                    "pushed": m.pushed,
                    "results": [s.as_json() for s in m.sites],
                }
                for m in self.members
            ],
        }


def verify_release(repo_dir: Path, release_name: str, selectors: tuple[str, ...], run: Run = Run()) -> ReleaseVerifyReport:
    """Verify every member of the release some selected site runs; nothing is queried until all are prepared."""
    repo_dir = Path(repo_dir).resolve()
    config = load_config(repo_dir)
    release = config.release(release_name)
    targets = select(discover_sites(repo_dir, config), selectors)
    state = render_state(repo_dir, config, targets)
    matcher = ModelMatcher(config)
    running = {m for s in targets if state[s.name].ok for m in matcher.by_model(s.name, state[s.name].containers)}
    broken = next((s for s in targets if not state[s.name].ok), None)
    if broken is not None:
        raise InputError(f"site {broken.name}: cannot verify a site that does not render: {state[broken.name].error}")
    members = [config.model(m) for m in release.members if m in running]
    if not members:
        raise InputError(f"release {release.name}: no selected site runs any of its members ({', '.join(release.members)})")
    prepared = [(model, groups_for(repo_dir, config, model, targets)) for model in members]
    git = GitRepo(repo_dir)
    if run.record:
        git.check_identity()
    run = replace(run, client=run.client or Client())  # one monitoring client for every member
    reports = tuple(measure(git, config, model, groups, run) for model, groups in prepared)
    return ReleaseVerifyReport(release.name, reports, tuple(m for m in release.members if m not in running))
