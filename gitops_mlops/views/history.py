"""Promotions and rollbacks of a model, read from commit trailers (never from free text)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from pathlib import Path

from gitops_mlops.config.load import Config, Model, load_config
from gitops_mlops.config.sites import Site, check_selector, discover_sites, matches, select
from gitops_mlops.core.errors import InputError
from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo, Trailered
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.sitehistory import site_states
from gitops_mlops.render.state import split_image

CHUNK = 500


@dataclass(frozen=True)
class Entry:
    commit: str
    date: str
    author: str
    action: str
    model: str
    version: str
    images: tuple[tuple[str, tuple[str, ...]], ...]  # (image ref, sites) pairs: one for a promotion
    forced: bool = False
    stage: str | None = None  # the stage of its sites; None when they are in several (or no longer exist)
    registered_model: str = ""  # the model registry's RegisteredModel it was promoted from ('' when not)
    model_version_id: str = ""  # and the id of that ModelVersion in the registry
    wave: str = ""  # "N/M": the wave of its stage a promotion took ('' when none)

    @property
    def sites(self) -> tuple[str, ...]:
        return tuple(site for _, sites in self.images for site in sites)

    @property
    def digest(self) -> str:
        digests = {image.partition("@")[2] for image, _ in self.images}
        return digests.pop() if len(digests) == 1 else ""

    @property
    def several(self) -> bool:
        """Its sites went to different images (a rollback may return sites to different builds)."""
        return len({image for image, _ in self.images}) > 1

    @property
    def tag(self) -> str:
        """The tag of its one image ('' when it has several, or none)."""
        return "" if self.several or not self.images else split_image(self.images[0][0])[1]

    def as_json(self) -> dict:
        return {
            "commit": self.commit,
            "date": self.date,
            "author": self.author,
            "action": self.action,
            "model": self.model,
            "version": self.version or None,
            "digest": self.digest or None,
            "image": None if self.several or not self.images else self.images[0][0],
            "stage": self.stage,
            "sites": list(self.sites),
            "registeredModel": self.registered_model or None,
            "modelVersion": self.model_version_id or None,
            "wave": self.wave or None,
        }


def entry_of(commit: Trailered, model: str | None = None) -> Entry | None:
    """An Entry from a commit's trailers (``model``'s block, of a release's commit), or None when they are not a gitops-mlops record."""
    record = trailers.read(commit, model)
    if record is None:
        return None
    return Entry(
        commit=commit.sha,
        date=commit.date,
        author=commit.author,
        action=record.action,
        model=record.model,
        version=record.version,
        images=record.images,
        forced=record.forced,
        registered_model=record.registered_model,
        model_version_id=record.model_version_id,
        wave=record.wave,
    )


def read_history(repo_dir: Path, model: str, selectors: tuple[str, ...] = (), limit: int | None = None, ref: str = "HEAD") -> list[Entry]:
    """Newest first. Unknown model or ref, or a model with no history: InputError.

    For the whole model, or several sites, the tool's own records (commit trailers). For one
    site, its renders at every commit that touched its inputs: changes by hand and from
    before the tool's first commit too (action ``change``)."""
    repo_dir = Path(repo_dir)
    config = load_config(repo_dir)
    config.model(model)
    for selector in selectors:
        check_selector(selector)
    if limit is not None and limit < 1:
        raise InputError("--limit must be at least 1")
    git = GitRepo(repo_dir)
    git.resolve(ref)
    found = discover_sites(repo_dir, config)
    if selectors and ref == "HEAD":
        chosen = select(found, selectors)
        if len(chosen) == 1:
            return site_history(repo_dir, git, config, config.model(model), chosen[0], limit)
    return staged(_recorded(git, model, selectors, limit, ref), {s.name: s.stage for s in found})


def staged(entries: list[Entry], stages: dict[str, str]) -> list[Entry]:
    """Each entry with the stage of its sites, when they are all in one."""
    out = []
    for entry in entries:
        found = {stages.get(site) for site in entry.sites}
        out.append(replace(entry, stage=found.pop()) if len(found) == 1 else entry)
    return out


def _recorded(git: GitRepo, model: str, selectors: tuple[str, ...], limit: int | None, ref: str) -> list[Entry]:
    """The tool's own records of the model (commit trailers), newest first."""
    grep = [f"^Model: {model}$", f"^Action: ({'|'.join(trailers.ACTIONS)})$"]
    entries: list[Entry] = []
    skip = 0
    while True:
        chunk = git.log_trailers(ref, grep=grep, limit=limit if not selectors else CHUNK, skip=skip)
        for commit in chunk:
            entry = entry_of(commit, model)
            if entry is None or entry.model != model:
                continue
            if selectors and not any(matches(site, sel) for site in entry.sites for sel in selectors):
                continue
            entries.append(entry)
            if limit is not None and len(entries) >= limit:
                return entries
        if not selectors or len(chunk) < CHUNK:
            break
        skip += CHUNK
    return entries  # none is an empty history, not an error


def site_history(repo_dir: Path, git: GitRepo, config: Config, model: Model, site: Site, limit: int | None) -> list[Entry]:
    """Every change of what the site renders for the model, newest first, from its renders at earlier commits."""
    entries: list[Entry] = []
    with RenderCache(repo_dir) as cache:
        states = site_states(Path(repo_dir).resolve(), git, config, model, site, model.pin_name, cache)
        newer = next(states, None)
        for older in itertools.chain(states, (None,)):  # lazily: with a limit, the states past it are never read
            if newer is None:
                break
            if older is None or older.images != newer.images:
                if newer.images:
                    record = newer.record if newer.record is not None and newer.record.model == model.name and site.name in newer.record.sites else None
                    image = newer.images[0]
                    entries.append(
                        Entry(
                            newer.commit,
                            newer.date,
                            newer.author,
                            record.action if record else "change",
                            model.name,
                            record.version if record else newer.version,  # the tool's own record names the semantic version
                            ((image, (site.name,)),),
                            record.forced if record else False,
                            site.stage,
                            wave=record.wave if record else "",
                        )
                    )
                    if limit is not None and len(entries) >= limit:
                        break
            newer = older
    return entries
