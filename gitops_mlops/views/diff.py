"""Rendered differences between two refs, per site, for pull-request review.

Both refs are checked out into temporary worktrees (the user's checkout is never
touched). A site is affected when a file in its kustomization closure (its
overlay and every base or component it reaches) changed; affected sites are
rendered at both refs and kept when their output differs. Each kept site's models
are read from the two renders too: what the model's workloads run at the base and
at the head, wherever the image is set (a pin, a base, a patch). How a report is
shown lives in ``diffreport.py``.
"""

from __future__ import annotations

import difflib
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from gitops_mlops.config.load import Config, load_config
from gitops_mlops.config.sites import Site, discover_sites, parse_shard, select, shard, site_pin_fields
from gitops_mlops.core import scratch, settings
from gitops_mlops.core.errors import InputError
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.inputs import References, closure, walk_references
from gitops_mlops.render.state import Container, ModelMatcher, render_state, split_image

PARALLEL_SIDES_FROM = 50  # sites; below that a second process costs more than it saves


@dataclass(frozen=True)
class ModelChange:
    """What one model's workloads at one site render at the base and at the head: the distinct
    images (sorted; none where the render has no workload of the model) and the version they run."""

    site: str
    model: str
    old_images: tuple[str, ...]
    new_images: tuple[str, ...]
    old_version: str = ""
    new_version: str = ""
    release: str = ""  # the release the model moves in, per the head's config ('' when none)


@dataclass(frozen=True)
class SiteDiff:
    site: str
    diff: str
    models: tuple[ModelChange, ...] = ()
    stage: str = ""

    @property
    def body(self) -> str:
        """The diff without its two header lines: equal at sites whose renders changed alike."""
        return self.diff.split("\n", 2)[2] if self.diff.count("\n") >= 2 else ""


@dataclass(frozen=True)
class DiffReport:
    base: str
    head: str
    sites: tuple[SiteDiff, ...]

    @property
    def models(self) -> tuple[ModelChange, ...]:
        return tuple(m for s in self.sites for m in s.models)


def default_base(git: GitRepo, head: str, remote: str, branch: str) -> str:
    try:
        upstream = git.resolve(f"refs/remotes/{remote}/{branch}")
    except InputError:
        raise InputError(f"no {remote}/{branch} to compare with; fetch it or pass --base REF") from None
    return git.merge_base(head, upstream)


@dataclass
class _Side:
    """One ref checked out: its config and sites, read once, and what walk_references learned;
    ``home`` is the repository whose render cache serves it."""

    tree: Path
    home: Path
    config: Config | None = None
    sites: dict[str, Site] = field(default_factory=dict)
    refs: References = field(default_factory=References)

    @classmethod
    def at(cls, tree: Path, home: Path) -> _Side:
        try:
            config = load_config(tree)
        except InputError:
            return cls(tree, home)  # no config at that ref: no sites there
        return cls(tree, home, config, {s.name: s for s in discover_sites(tree, config)})

    @property
    def allowed_remote(self) -> tuple[str, ...]:
        return self.config.policy.remote_resources if self.config else ()


def diff_refs(repo_dir: Path, base: str | None = None, head: str | None = None, selectors: tuple[str, ...] = (), shard_of: str | None = None) -> DiffReport:
    repo_dir = Path(repo_dir).resolve()
    if shard_of is not None:
        parse_shard(shard_of)
    git = GitRepo(repo_dir)
    head_sha = git.resolve(head or "HEAD")
    if base is None:
        config = load_config(repo_dir)
        base_sha = default_base(git, head_sha, config.remote, config.target_branch)
    else:
        base_sha = git.resolve(base)
    with scratch.folder("diff", settings.scratch_dir()) as tmp:
        trees = {}
        for name, sha in (("base", base_sha), ("head", head_sha)):
            trees[name] = Path(tmp) / name
            git.add_worktree(trees[name], sha)
        base_worker = None
        try:
            sides = {name: _Side.at(tree, repo_dir) for name, tree in trees.items()}
            base_worker = _BaseWorker(sides["base"], len(sides["base"].sites))
            names = _affected(git, sides, base_sha, head_sha, selectors)
            if shard_of is not None:  # the same split as validate --shard, by site name
                names = [s.name for s in shard(tuple(Site(n, "", "") for n in names), shard_of)]
            return DiffReport(base_sha, head_sha, tuple(_compare(sides, names, base_worker)))
        finally:
            if base_worker is not None:
                base_worker.close()
            for path in trees.values():
                git.remove_worktree(path)


def _affected(git: GitRepo, sides: dict[str, _Side], base: str, head: str, selectors: tuple[str, ...]) -> list[str]:
    """Sites present on one side only, broken at head, or whose build at head reads a changed directory.

    The head side decides: a site whose closure at head holds no changed directory reads, at
    base, the very same files (the first changed file on any path of its closure would be in
    a changed directory), so its output cannot differ."""
    changed_dirs = {"/".join(p.split("/")[:i]) for p in git.changed_paths(base, head) for i in range(1, p.count("/") + 1)}
    base_side, head_side = sides["base"], sides["head"]
    names = {n for n, site in base_side.sites.items() if n not in head_side.sites and (not selectors or select((site,), selectors))}
    chosen = select(tuple(head_side.sites.values()), selectors) if selectors else tuple(head_side.sites.values())
    root = head_side.tree.resolve()
    for site in chosen:
        if site.name not in base_side.sites:
            names.add(site.name)
            continue
        try:
            walk_references(head_side.tree, site, head_side.allowed_remote, head_side.refs)
        except InputError:
            names.add(site.name)  # broken at head: the render shows why
            continue
        if any(d.relative_to(root).as_posix() in changed_dirs for d in closure((root / site.path).resolve(), head_side.refs)):
            names.add(site.name)
    return sorted(names)


class _Render(NamedTuple):
    text: str  # the rendered output, or its error as a comment
    containers: tuple[Container, ...] | None  # None: the site did not render


def _rendered(side: _Side, names: list[str]) -> dict[str, _Render]:
    """Each named site of one side rendered (or its error as a comment), from the repository's
    render cache where it holds the site's inputs (a warm cache, or one seeded from the hydrated branch)."""
    present = tuple(side.sites[n] for n in names if n in side.sites)
    if not present:
        return {}
    with RenderCache(side.home) as cache:
        results = render_state(side.tree, side.config, present, outputs=True, refs=side.refs, cache=cache)
    return {n: _Render(r.output, r.containers) if r.ok else _Render(f"# render failed: {r.error}\n", None) for n, r in results.items()}


class _BaseWorker:
    """The base side, read and rendered in a forked process while this one reads the head side:
    the reading and checking is single-threaded Python, so two sides use two cores. The one
    worker process keeps the side whose references it walked between the two calls. Without fork, or for a
    handful of sites, everything runs here."""

    _side: _Side | None = None  # in the worker process

    def __init__(self, side: _Side, size: int) -> None:
        self.side, self.pool, self.walked = side, None, None
        try:
            context = multiprocessing.get_context("fork")
        except ValueError:
            context = None
        if context is not None and size >= PARALLEL_SIDES_FROM:
            self.pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
            self.walked = self.pool.submit(_BaseWorker._walk_references, side)

    @staticmethod
    def _walk_references(side: _Side) -> None:
        for site in side.sites.values():
            try:
                walk_references(side.tree, site, side.allowed_remote, side.refs)
            except InputError:
                pass  # reported by the render
        _BaseWorker._side = side

    @staticmethod
    def _render_walked(names: list[str]) -> dict[str, _Render]:
        return _rendered(_BaseWorker._side, names)

    def render(self, names: list[str]):
        """A callable returning the base side's renders of ``names`` (running meanwhile when forked)."""
        if self.pool is None:
            return lambda: _rendered(self.side, names)
        future = self.pool.submit(_BaseWorker._render_walked, names)  # after _walk_references: one worker, in order

        def result() -> dict[str, _Render]:
            self.walked.result()
            return future.result()

        return result

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


_ABSENT = _Render("", ())  # a site that is not there at one ref renders nothing


def _compare(sides: dict[str, _Side], names: list[str], base_worker: _BaseWorker) -> list[SiteDiff]:
    base_rendered = base_worker.render(names)
    rendered = {"head": _rendered(sides["head"], names)}
    rendered["base"] = base_rendered()
    models = _ModelReader(sides)
    out = []
    bodies: dict[tuple[str, str], str] = {}  # sites that share both builds share the diff body
    for name in names:
        before, after = rendered["base"].get(name, _ABSENT), rendered["head"].get(name, _ABSENT)
        if before.text == after.text:
            continue
        body = bodies.get((before.text, after.text))
        if body is None:
            lines = difflib.unified_diff(before.text.splitlines(True), after.text.splitlines(True), "a", "b", n=3)
            body = bodies[(before.text, after.text)] = "".join(list(lines)[2:])
        site = sides["head"].sites.get(name) or sides["base"].sites.get(name)
        changes = models.changes(name, before.containers, after.containers)
        out.append(SiteDiff(name, f"--- base/{name}\n+++ head/{name}\n{body}", changes, site.stage if site else ""))
    return out


class _ModelReader:
    """Which models a site's two renders run, each side read with its own config's models."""

    def __init__(self, sides: dict[str, _Side]) -> None:
        self.sides = sides
        self.matchers = {name: ModelMatcher(side.config) for name, side in sides.items() if side.config}
        config = sides["head"].config or sides["base"].config
        self.order = {m.name: i for i, m in enumerate(config.models)} if config else {}
        self.release_of = {m: r.name for r in config.releases for m in r.members} if config else {}
        for release in config.releases if config else ():  # a release's members shown together, where its first member is
            first = min(self.order[m] for m in release.members)
            self.order.update({m: first + n / 100 for n, m in enumerate(release.members)})

    def changes(self, name: str, before: tuple[Container, ...] | None, after: tuple[Container, ...] | None) -> tuple[ModelChange, ...]:
        """Each model whose rendered images differ; none where a side did not render (its diff says why)."""
        if before is None or after is None:
            return ()
        old, new = self._running("base", name, before), self._running("head", name, after)
        found = []
        for model in sorted(set(old) | set(new), key=lambda m: (self.order.get(m, len(self.order)), m)):
            images = old.get(model, ()), new.get(model, ())
            if images[0] != images[1]:
                versions = (self._version("base", name, images[0]), self._version("head", name, images[1]))
                found.append(ModelChange(name, model, *images, *versions, release=self.release_of.get(model, "")))
        return tuple(found)

    def _running(self, side: str, name: str, containers: tuple[Container, ...]) -> dict[str, tuple[str, ...]]:
        matcher = self.matchers.get(side)
        if matcher is None or not containers:
            return {}
        return {model: tuple(sorted({c.image for c in cs})) for model, cs in matcher.by_model(name, containers).items()}

    def _version(self, side: str, name: str, images: tuple[str, ...]) -> str:
        """The rendered tag; else the newTag of the site's own pin of that digest (kustomize drops the
        tag of a pin with a digest), as ``status`` reads it."""
        tags = {split_image(i)[1] for i in images}
        if len(tags) != 1:
            return ""
        tag = tags.pop()
        if tag or len(images) != 1:
            return tag
        digest = split_image(images[0])[2]
        site = self.sides[side].sites.get(name)
        if not digest or site is None:
            return ""
        try:
            fields = site_pin_fields(self.sides[side].tree, site)
        except InputError:
            return ""
        return next((f[2] for f in fields if f[3] == digest and f[2]), "")
