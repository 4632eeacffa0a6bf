"""A release's history (the combinations it was promoted and rolled back as) and status (the
combination each site renders now, and whether it is one promoted together).

History reads the commits' trailers (``Release:`` and a block per member). Status reads
each site's render for every member; a site's combination is one promoted together when
the newest record of a member's change there is the release's, and each member that
record moved still renders what it recorded (a member moved alone since, by the tool,
makes it not; a change by hand is seen only through the digests).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitops_mlops.config.load import Config, load_config
from gitops_mlops.config.releases import Release
from gitops_mlops.config.sites import Site, check_selector, discover_sites, select
from gitops_mlops.core.errors import InputError
from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.promote.combination import Member, combinations
from gitops_mlops.promote.plan import lives_at
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.state import split_image


@dataclass(frozen=True)
class Combination:
    """One commit of the release: what each member it moved went to, and where."""

    commit: str
    date: str
    author: str
    action: str
    members: tuple[trailers.Record, ...]

    @property
    def sites(self) -> tuple[str, ...]:
        return tuple(sorted({s for r in self.members for s in r.sites}))

    def as_json(self) -> dict:
        members = [
            {
                "model": r.model,
                "version": r.version or None,
                "images": [{"image": i, "digest": split_image(i)[2] or None, "sites": list(s)} for i, s in r.images],
            }
            for r in self.members
        ]
        return {"commit": self.commit, "date": self.date, "author": self.author, "action": self.action, "sites": list(self.sites), "members": members}


@dataclass(frozen=True)
class Row:
    site: str
    stage: str
    members: tuple[Member, ...]  # in the release's order; image '' where the site does not run it
    together: bool  # the combination is one the release promoted (or rolled back) together
    commit: str = ""  # the release's commit that set it, when together

    def as_json(self) -> dict:
        return {
            "site": self.site,
            "stage": self.stage,
            "members": [{"model": m.model, "version": m.version or None, "digest": m.digest or None, "image": m.image or None} for m in self.members],
            "together": self.together,
            "commit": self.commit or None,
        }


def _records(git: GitRepo, release: Release) -> list[tuple[object, list[trailers.Record]]]:
    """Every promotion or rollback touching a member, newest first, with each commit's member records."""
    grep = [f"^Model: ({'|'.join(release.members)})$", f"^Action: ({'|'.join(trailers.ACTIONS)})$"]
    out = []
    for commit in git.log_trailers("HEAD", grep=grep):
        records = [r for r in trailers.read_all(commit) if r.model in release.members]
        if records:
            out.append((commit, records))
    return out


def release_history(repo_dir: Path, name: str, limit: int | None = None) -> list[Combination]:
    """The release's promotions and rollbacks (commits naming it), newest first."""
    config = load_config(Path(repo_dir))
    release = config.release(name)
    if limit is not None and limit < 1:
        raise InputError("--limit must be at least 1")
    found = []
    for commit, records in _records(GitRepo(Path(repo_dir)), release):
        mine = tuple(r for r in records if r.release == release.name)
        if mine:
            found.append(Combination(commit.sha, commit.date, commit.author, mine[0].action, mine))
        if limit is not None and len(found) >= limit:
            break
    return found


def release_status(repo_dir: Path, name: str, selectors: tuple[str, ...] = ()) -> list[Row]:
    """One row per site that runs a member: each member's version, and whether the combination was promoted together."""
    repo_dir = Path(repo_dir).resolve()
    config = load_config(repo_dir)
    release = config.release(name)
    for selector in selectors:
        check_selector(selector)
    every = discover_sites(repo_dir, config)
    sites = tuple(s for s in (select(every, selectors) if selectors else every) if any(lives_at(config.model(m), s) for m in release.members))
    with RenderCache(repo_dir) as cache:
        now = combinations(repo_dir, config, release.members, sites, cache)
    history = _records(GitRepo(repo_dir), release)
    rows = []
    for site in sites:
        members = tuple(now[site.name][m] for m in release.members)
        if not any(m.image for m in members):
            continue
        together, commit = _together(config, release, site, now[site.name], history)
        rows.append(Row(site.name, site.stage, members, together, commit))
    return rows


def _together(config: Config, release: Release, site: Site, now: dict[str, Member], history) -> tuple[bool, str]:
    """Whether the newest record of a member's change at ``site`` is the release's, and still what it renders."""
    for commit, records in history:
        here = [r for r in records if site.name in r.site_set]
        if not here:
            continue
        if any(r.release != release.name for r in here):
            return False, ""
        for record in here:
            recorded = {split_image(image)[2] for image, names in record.images if site.name in names}
            if now[record.model].digest not in recorded:
                return False, ""
        return True, commit.sha
    return False, ""
