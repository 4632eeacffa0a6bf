"""Rendered differences between two refs, per site, for pull-request review.

Both refs are checked out into temporary worktrees (the user's checkout is never
touched). A site is affected when a file in its kustomization closure (its
overlay and every base or component it reaches) changed; affected sites are
rendered at both refs and kept when their output differs.
"""

from __future__ import annotations

import difflib
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gitops_mlops import scratch, settings
from gitops_mlops.config import Config, load_config
from gitops_mlops.errors import InputError
from gitops_mlops.gitrepo import GitRepo
from gitops_mlops.inputs import References, check_references, closure
from gitops_mlops.kustomization import Pin
from gitops_mlops.present import grouped, short, some
from gitops_mlops.rendercache import RenderCache
from gitops_mlops.renders import render_state
from gitops_mlops.sites import Site, discover_sites, parse_shard, select, shard, site_pin_fields

PARALLEL_SIDES_FROM = 50  # sites; below that a second process costs more than it saves
MARKDOWN_LIMIT = 60_000  # pull-request comments are capped at 65,536 characters


@dataclass(frozen=True)
class PinDelta:
    site: str
    model: str
    old_version: str
    new_version: str
    old_digest: str
    new_digest: str


@dataclass(frozen=True)
class SiteDiff:
    site: str
    diff: str
    pins: tuple[PinDelta, ...] = ()
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
    def pins(self) -> tuple[PinDelta, ...]:
        return tuple(p for s in self.sites for p in s.pins)


def default_base(git: GitRepo, head: str, remote: str, branch: str) -> str:
    try:
        upstream = git.resolve(f"refs/remotes/{remote}/{branch}")
    except InputError:
        raise InputError(f"no {remote}/{branch} to compare with; fetch it or pass --base REF") from None
    return git.merge_base(head, upstream)


@dataclass
class _Side:
    """One ref checked out: its config and sites, read once, and what check_references learned;
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
            check_references(head_side.tree, site, head_side.allowed_remote, head_side.refs)
        except InputError:
            names.add(site.name)  # broken at head: the render shows why
            continue
        if any(d.relative_to(root).as_posix() in changed_dirs for d in closure((root / site.path).resolve(), head_side.refs)):
            names.add(site.name)
    return sorted(names)


def _rendered(side: _Side, names: list[str]) -> dict[str, str]:
    """Each named site of one side rendered (or its error as a comment), from the repository's
    render cache where it holds the site's inputs (a warm cache, or one seeded from the hydrated branch)."""
    present = tuple(side.sites[n] for n in names if n in side.sites)
    if not present:
        return {}
    with RenderCache(side.home) as cache:
        results = render_state(side.tree, side.config, present, outputs=True, refs=side.refs, cache=cache)
    return {n: (r.output if r.ok else f"# render failed: {r.error}\n") for n, r in results.items()}


class _BaseWorker:
    """The base side, read and rendered in a forked process while this one reads the head side:
    the reading and checking is single-threaded Python, so two sides use two cores. The one
    worker process keeps the side it checked between the two calls. Without fork, or for a
    handful of sites, everything runs here."""

    _side: _Side | None = None  # in the worker process

    def __init__(self, side: _Side, size: int) -> None:
        self.side, self.pool, self.checked = side, None, None
        try:
            context = multiprocessing.get_context("fork")
        except ValueError:
            context = None
        if context is not None and size >= PARALLEL_SIDES_FROM:
            self.pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
            self.checked = self.pool.submit(_BaseWorker._check_all, side)

    @staticmethod
    def _check_all(side: _Side) -> None:
        for site in side.sites.values():
            try:
                check_references(side.tree, site, side.allowed_remote, side.refs)
            except InputError:
                pass  # reported by the render
        _BaseWorker._side = side

    @staticmethod
    def _render_checked(names: list[str]) -> dict[str, str]:
        return _rendered(_BaseWorker._side, names)

    def render(self, names: list[str]):
        """A callable returning the base side's renders of ``names`` (running meanwhile when forked)."""
        if self.pool is None:
            return lambda: _rendered(self.side, names)
        future = self.pool.submit(_BaseWorker._render_checked, names)  # after _check_all: one worker, in order

        def result() -> dict[str, str]:
            self.checked.result()
            return future.result()

        return result

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _compare(sides: dict[str, _Side], names: list[str], base_worker: _BaseWorker) -> list[SiteDiff]:
    base_rendered = base_worker.render(names)
    rendered = {"head": _rendered(sides["head"], names)}
    rendered["base"] = base_rendered()
    config = sides["head"].config or sides["base"].config
    models = {m.pin_name: m.name for m in config.models} if config else {}
    out = []
    bodies: dict[tuple[str, str], str] = {}  # sites that share both builds share the diff body
    for name in names:
        before, after = rendered["base"].get(name, ""), rendered["head"].get(name, "")
        if before == after:
            continue
        body = bodies.get((before, after))
        if body is None:
            lines = difflib.unified_diff(before.splitlines(True), after.splitlines(True), "a", "b", n=3)
            body = bodies[(before, after)] = "".join(list(lines)[2:])
        site = sides["head"].sites.get(name) or sides["base"].sites.get(name)
        out.append(SiteDiff(name, f"--- base/{name}\n+++ head/{name}\n{body}", _pin_deltas(sides, models, name), site.stage if site else ""))
    return out


def _pins_at(side: _Side, name: str) -> dict[str, Pin]:
    site = side.sites.get(name)
    if site is None:
        return {}
    try:
        return {f[0]: Pin(*f) for f in site_pin_fields(side.tree, site)}
    except InputError:
        return {}


def _pin_deltas(sides: dict[str, _Side], models: dict[str, str], name: str) -> tuple[PinDelta, ...]:
    old_pins, new_pins = _pins_at(sides["base"], name), _pins_at(sides["head"], name)
    deltas = []
    for image in sorted(set(old_pins) | set(new_pins)):
        old, new = old_pins.get(image), new_pins.get(image)
        if old == new:
            continue
        deltas.append(
            PinDelta(
                site=name,
                model=models.get(image, image),
                old_version=(old.new_tag if old else "") or "",
                new_version=(new.new_tag if new else "") or "",
                old_digest=(old.digest if old else "") or "",
                new_digest=(new.digest if new else "") or "",
            )
        )
    return tuple(deltas)


def to_json(report: DiffReport) -> list[dict]:
    """Per site: its stage, the pins that changed (model, from, to) and the rendered diff."""
    return [
        {
            "site": s.site,
            "stage": s.stage,
            "pins": [
                {
                    "model": p.model,
                    "from": {"version": p.old_version or None, "digest": p.old_digest or None},
                    "to": {"version": p.new_version or None, "digest": p.new_digest or None},
                }
                for p in s.pins
            ],
            "diff": s.diff,
        }
        for s in report.sites
    ]


def pin_lines(report: DiffReport) -> list[str]:
    """One line per (model, from -> to): the count and the first few sites."""
    keyed = (((p.model, p.old_version, p.new_version, p.old_digest, p.new_digest), p.site) for p in report.pins)
    lines = []
    for (model, old_version, new_version, old_digest, new_digest), names in grouped(keyed):
        change = f"{model} {old_version or '-'} -> {new_version or '-'}  {short(old_digest)} -> {short(new_digest)}"
        lines.append(f"{change}  ({len(names)} site{'s' if len(names) != 1 else ''}: {some(names)})")
    return lines


def same_changes(report: DiffReport) -> list[tuple[SiteDiff, list[str]]]:
    """Sites whose renders changed alike, each group once: (its first site's diff, every site in it)."""
    first: dict[str, SiteDiff] = {}
    for s in report.sites:
        first.setdefault(s.body, s)
    return [(first[body], names) for body, names in grouped((s.body, s.site) for s in report.sites)]


def to_text(report: DiffReport) -> str:
    lines = [f"# {len(report.sites)} site(s) change between {report.base[:12]} and {report.head[:12]}"]
    lines += [f"# {line}" for line in pin_lines(report)]
    out = "\n".join(lines) + "\n"
    for diff, names in same_changes(report):
        if len(names) > 1:
            out += f"# the same change at {len(names)} sites: {', '.join(names)}\n"
        out += diff.diff
    return out


def to_markdown(report: DiffReport) -> str:
    head = [
        f"### gitops-mlops: {len(report.sites)} site(s) change",
        "",
        f"Rendered with kustomize at `{report.base[:12]}` (base) and `{report.head[:12]}` (head).",
        "",
    ]
    if report.pins:
        head += ["| model | version | digest | sites |", "| --- | --- | --- | --- |"]
        keyed = (((p.model, p.old_version, p.new_version, p.old_digest, p.new_digest), p.site) for p in report.pins)
        for (model, old_version, new_version, old_digest, new_digest), names in grouped(keyed):
            versions = f"{old_version or '-'} → {new_version or '-'}"
            head.append(f"| {model} | {versions} | `{short(old_digest)}` → `{short(new_digest)}` | {len(names)}: {some(names)} |")
        head.append("")
    body = "\n".join(head)
    groups = same_changes(report)
    shown = 0
    for diff, names in groups:
        title = diff.site if len(names) == 1 else f"{len(names)} sites: {some(names, 10)}"
        block = f"\n<details><summary>{title}</summary>\n\n```diff\n{diff.diff}```\n</details>\n"
        if len(body) + len(block) > MARKDOWN_LIMIT:
            break
        body += block
        shown += 1
    if shown < len(groups):
        body += f"\n_{len(groups) - shown} more distinct changes not shown (comment size limit); run `gitops-mlops diff` locally._\n"
    return body
