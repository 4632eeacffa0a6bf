"""Rendered differences between two refs, per site, for pull-request review.

Both refs are checked out into temporary worktrees (the user's checkout is never
touched). A site is affected when a file in its kustomization closure (its
overlay and every base or component it reaches) changed; affected sites are
rendered at both refs and kept when their output differs.
"""

from __future__ import annotations

import difflib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gitops_mlops import kustomization
from gitops_mlops.config import load_config
from gitops_mlops.errors import InputError
from gitops_mlops.gitrepo import GitRepo
from gitops_mlops.kustomization import Pin
from gitops_mlops.kustomize import References, check_references, closure, render_sites
from gitops_mlops.sites import Site, discover_sites, kustomization_of, select

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


def diff_refs(repo_dir: Path, base: str | None = None, head: str | None = None, selectors: tuple[str, ...] = ()) -> DiffReport:
    repo_dir = Path(repo_dir).resolve()
    git = GitRepo(repo_dir)
    head_sha = git.resolve(head or "HEAD")
    if base is None:
        config = load_config(repo_dir)
        base_sha = default_base(git, head_sha, config.remote, config.target_branch)
    else:
        base_sha = git.resolve(base)
    with tempfile.TemporaryDirectory(prefix="gitops-mlops-diff-") as tmp:
        trees = {}
        for side, sha in (("base", base_sha), ("head", head_sha)):
            trees[side] = Path(tmp) / side
            git.add_worktree(trees[side], sha)
        try:
            refs = {side: References() for side in trees}
            sites = _affected(git, trees, base_sha, head_sha, selectors, refs)
            return DiffReport(base_sha, head_sha, tuple(_compare(trees, sites, refs)))
        finally:
            for path in trees.values():
                git.remove_worktree(path)


def _sites_at(tree: Path) -> tuple[object, dict[str, Site]]:
    try:
        config = load_config(tree)
    except InputError:
        return None, {}
    return config, {s.name: s for s in discover_sites(tree, config)}


def _affected(git: GitRepo, trees: dict[str, Path], base: str, head: str, selectors: tuple[str, ...], refs: dict[str, References]) -> list[str]:
    changed_dirs = {"/".join(p.split("/")[:i]) for p in git.changed_paths(base, head) for i in range(1, p.count("/") + 1)}
    names: set[str] = set()
    for side, tree in trees.items():
        config, sites = _sites_at(tree)
        chosen = select(tuple(sites.values()), selectors) if selectors else tuple(sites.values())
        root = tree.resolve()
        other = trees["head" if side == "base" else "base"]
        for site in chosen:
            if site.name in names:
                continue
            if not (other / site.path).is_dir():
                names.add(site.name)
                continue
            try:
                check_references(tree, site, config.policy.remote_resources, refs[side])
            except InputError:
                names.add(site.name)  # broken on one side: the render shows why
                continue
            if any(d.relative_to(root).as_posix() in changed_dirs for d in closure((root / site.path).resolve(), refs[side])):
                names.add(site.name)
    return sorted(names)


def _compare(trees: dict[str, Path], names: list[str], refs: dict[str, References]) -> list[SiteDiff]:
    rendered = {}
    configs = {}
    for side, tree in trees.items():
        config, sites = _sites_at(tree)
        configs[side] = config
        present = tuple(sites[n] for n in names if n in sites)
        allowed = config.policy.remote_resources if config else ()
        results = render_sites(tree, present, allowed, refs=refs[side]) if present else {}
        rendered[side] = {n: (r.output if r.ok else f"# render failed: {r.error}\n") for n, r in results.items()}
        rendered[side + "_sites"] = sites
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
        out.append(SiteDiff(name, f"--- base/{name}\n+++ head/{name}\n{body}", _pin_deltas(trees, rendered, configs, name)))
    return out


def _pin_deltas(trees, rendered, configs, name: str) -> tuple[PinDelta, ...]:
    pins = {}
    for side in ("base", "head"):
        site = rendered[side + "_sites"].get(name)
        if site is None:
            pins[side] = {}
            continue
        try:
            path = kustomization_of(trees[side], site)
            pins[side] = {f[0]: Pin(*f) for f in kustomization.read_pin_fields(path, site.path)}
        except InputError:
            pins[side] = {}
    config = configs["head"] or configs["base"]
    models = {m.image: m.name for m in config.models} if config else {}
    deltas = []
    for image in sorted(set(pins["base"]) | set(pins["head"])):
        old, new = pins["base"].get(image), pins["head"].get(image)
        if old == new or (old and new and (old.digest, old.new_tag, old.new_name) == (new.digest, new.new_tag, new.new_name)):
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


def to_text(report: DiffReport) -> str:
    lines = [f"# {len(report.sites)} site(s) change between {report.base[:12]} and {report.head[:12]}"]
    for p in report.pins:
        lines.append(f"# {p.site}: {p.model} {p.old_version or '-'} -> {p.new_version or '-'}  {_short(p.old_digest)} -> {_short(p.new_digest)}")
    return "\n".join(lines) + "\n" + "".join(s.diff for s in report.sites)


def to_markdown(report: DiffReport) -> str:
    head = [
        f"### gitops-mlops: {len(report.sites)} site(s) change",
        "",
        f"Rendered with kustomize at `{report.base[:12]}` (base) and `{report.head[:12]}` (head).",
        "",
    ]
    if report.pins:
        head += ["| site | model | version | digest |", "| --- | --- | --- | --- |"]
        head += [f"| {p.site} | {p.model} | {p.old_version or '-'} → {p.new_version or '-'} | `{_short(p.old_digest)}` → `{_short(p.new_digest)}` |" for p in report.pins]
        head.append("")
    body = "\n".join(head)
    shown = 0
    for site in report.sites:
        block = f"\n<details><summary>{site.site}</summary>\n\n```diff\n{site.diff}```\n</details>\n"
        if len(body) + len(block) > MARKDOWN_LIMIT:
            break
        body += block
        shown += 1
    if shown < len(report.sites):
        body += f"\n_{len(report.sites) - shown} more site diffs not shown (comment size limit); run `gitops-mlops diff` locally._\n"
    return body


def _short(digest: str) -> str:
    return digest[:19] if digest else "-"
