"""Hydrated manifests: each site's rendered output committed to its own branch, beside the source.

With ``hydrate: {branch, path}`` in the config, every promotion (and rollback) also writes
the rendered manifests of the sites it changed to ``path/<site>/manifests.yaml`` on the
hydrated branch, in a commit whose ``Source-Commit:`` trailer names the source commit, and
pushes both branches in one atomic push: Argo CD can sync plain manifests, reviewers read
the exact change, and a fresh clone starts with a warm render cache (the branch also keeps,
under ``.gitops-mlops/``, each site's input keys and its pin-invariant render).

A hydrated branch is trusted only when it matches: its tip must have been made from the
source commit the new one builds on. Otherwise (someone committed to the source by hand,
or the branch was edited) it is rebuilt whole, every site rendered from the source.
Cache entries seeded from it are keyed by the content of each site's inputs, so a stale
entry can only ever serve inputs identical to the ones it was rendered from.

Anyone who can push to the hydrated branch can write anything there; only the source
branch vouches for it. The source commit a promotion makes carries ``Hydrated-Index:``,
the sha256 of the index it is hydrated with (each site's key and the sha256 of each
render), so the index, and through it every render, is the tool's. The cache is seeded
only from a vouched tip made from an ancestor of HEAD, and the branch is built on only
when its tip is vouched for; anything else is rendered again from the source.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from gitops_mlops.config.load import Config, load_config
from gitops_mlops.config.sites import discover_sites
from gitops_mlops.core.errors import GitError, InputError, RenderError
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.render.cache import Entry, RenderCache
from gitops_mlops.render.state import encode_containers, render_state

INDEX = ".gitops-mlops/sites.jsonl"  # one line per site: its keys, and what the cache keeps of its renders
RENDERS = ".gitops-mlops/renders"  # pin-invariant renders by key
MANIFESTS = "manifests.yaml"
ANCHOR = "Hydrated-Index"  # a source commit's trailer: the sha256 of the index it was hydrated with
SHA_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


@dataclass(frozen=True)
class Hydrated:
    sha: str
    branch: str
    base: str | None  # the hydrated tip it was made on
    rebuilt: bool  # the tip did not match its source: every site was rendered again
    sites: tuple[str, ...]


def tip(git: GitRepo, config: Config, fetch: bool = True) -> str | None:
    """The hydrated branch's tip: the remote's when there is a remote (fetched), else the local branch."""
    return git.branch_tip(config.remote, config.hydrate.branch, fetch)


def source_of(git: GitRepo, sha: str) -> str | None:
    for key, value in git.log_trailers(sha, limit=1)[0].trailers if sha else ():
        if key == "Source-Commit":
            return value
    return None


@dataclass(frozen=True)
class Prepared:
    """A hydrated commit's files, computed before the source commit that it hydrates is made."""

    files: dict[str, bytes | None]
    base: str | None
    rebuilt: bool
    sites: tuple[str, ...]
    index_sha: str  # sha256 of the index file: the source commit's Hydrated-Index trailer

    @property
    def trailer(self) -> str:
        return f"{ANCHOR}: {self.index_sha}\n"


def prepare(repo_dir: Path, git: GitRepo, config: Config, source_parent: str | None, changed: set[str], cache: RenderCache, base: str | None) -> Prepared:
    """The hydrated files for the source the work tree holds: the changed sites written on ``base``
    when the tool made it from ``source_parent`` (its index vouched for), else every site anew."""
    spec = config.hydrate
    rebuilt = base is None or source_parent is None or not vouched(git, base, source_parent)
    sites = discover_sites(repo_dir, config)
    chosen = sites if rebuilt else tuple(s for s in sites if s.name in changed)
    state = render_state(repo_dir, config, chosen, outputs=True, cache=cache, invariants=True)
    broken = [r.error for r in state.values() if not r.ok]
    if broken:
        raise RenderError(f"hydrate: {broken[0]}" + (f" (and {len(broken) - 1} more sites)" if len(broken) > 1 else ""))
    index = {} if rebuilt else _index(git, base)
    invariant_keys = [r.invariant for r in state.values() if r.invariant]
    invariant, entries = cache.outputs(invariant_keys), cache.entries(invariant_keys)
    files: dict[str, bytes | None] = {}
    for site in chosen:
        rendered = state[site.name]
        files[f"{spec.path}/{site.name}/{MANIFESTS}"] = rendered.output.encode()
        record = {"site": site.name, "key": rendered.key, "sha": rendered.output_sha, "containers": encode_containers(rendered.containers)}
        if rendered.invariant in invariant and rendered.invariant in entries:
            files[f"{RENDERS}/{rendered.invariant}.yaml"] = invariant[rendered.invariant].encode()
            entry = entries[rendered.invariant]
            record |= {"invariant": rendered.invariant, "invariantSha": entry.output_sha, "invariantContainers": entry.containers}
        index[site.name] = record
    files[INDEX] = "".join(json.dumps(record, sort_keys=True) + "\n" for _, record in sorted(index.items())).encode()
    return Prepared(files, base, rebuilt, tuple(s.name for s in chosen), hashlib.sha256(files[INDEX]).hexdigest())


def commit(git: GitRepo, config: Config, prepared: Prepared, source: str) -> Hydrated:
    """The hydrated commit of ``prepared`` for source commit ``source``; the local branch follows."""
    rebuilt = " (rebuilt)" if prepared.rebuilt else ""
    message = f"hydrate {source[:12]}: {len(prepared.sites)} site(s){rebuilt}\n\nSource-Commit: {source}\n"
    sha = git.commit_tree(prepared.base, prepared.files, message, replace_all=prepared.rebuilt)
    git.set_branch(config.hydrate.branch, sha, git.try_resolve(f"refs/heads/{config.hydrate.branch}"))
    return Hydrated(sha, config.hydrate.branch, prepared.base, prepared.rebuilt, prepared.sites)


def before_commit(repo_dir: Path, git: GitRepo, config: Config, source_parent: str | None, changed: set[str], cache: RenderCache) -> Prepared | None:
    """What a source commit about to be made will be hydrated with (its trailer vouches for it), or None
    when the config hydrates nothing."""
    return None if config.hydrate is None else prepare(repo_dir, git, config, source_parent, changed, cache, tip(git, config))


def after(git: GitRepo, config: Config, prepared: Prepared | None, source: str) -> tuple[tuple[str, str], ...]:
    """The hydrated commit of a source commit just made with ``prepared``'s trailer: the (sha, branch)
    to push with it atomically, or ()."""
    return () if prepared is None else ((commit(git, config, prepared, source).sha, config.hydrate.branch),)


def after_commit(
    repo_dir: Path, git: GitRepo, config: Config, source: str, source_parent: str | None, changed: set[str], cache: RenderCache
) -> tuple[tuple[str, str], ...]:
    """Hydrate a source commit already made (without the trailer: a fresh clone re-renders rather than
    seed from it): the (sha, branch) to push with it atomically, or ()."""
    return after(git, config, before_commit(repo_dir, git, config, source_parent, changed, cache), source)


def vouched(git: GitRepo, sha: str, source: str | None = None) -> bool:
    """Whether hydrated commit ``sha`` is one the tool made: its Source-Commit (``source`` when given)
    is a commit whose Hydrated-Index trailer is the sha256 of ``sha``'s index. Anyone can push a
    commit to the hydrated branch; only a commit on the source branch vouches for one."""
    made_from = source_of(git, sha)
    if not made_from or not SHA_RE.match(made_from) or (source is not None and made_from != source):
        return False
    anchors = [v for k, v in git.log_trailers(made_from, limit=1)[0].trailers if k == ANCHOR] if git.try_resolve(made_from) else []
    index = git.show_file(sha, INDEX)
    return len(anchors) == 1 and index is not None and hashlib.sha256(index.encode()).hexdigest() == anchors[0]


def _index(git: GitRepo, sha: str) -> dict[str, dict]:
    text = git.show_file(sha, INDEX) or ""
    out = {}
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict) and isinstance(record.get("site"), str):
            out[record["site"]] = record
    return out


def seed(git: GitRepo, config: Config, cache: RenderCache) -> int:
    """Fill the render cache from the hydrated branch, once per hydrated commit; the entries stored."""
    if config.hydrate is None or not cache.enabled:
        return 0
    sha = tip(git, config, fetch=False)
    if sha is None or cache.meta("hydrated-seed") == sha:
        return 0
    head, source = git.head(), source_of(git, sha)
    if not head or not vouched(git, sha) or not git.is_ancestor(source, head):  # not the tool's, or not of this history
        return 0
    wanted: dict[str, tuple[str, Entry]] = {}  # key -> (the file holding its output, what the cache keeps)
    for name, record in _index(git, sha).items():
        if record.get("key") and record.get("sha"):
            wanted[record["key"]] = (f"{config.hydrate.path}/{name}/{MANIFESTS}", Entry(record.get("containers", ""), record["sha"]))
        if record.get("invariant") and record.get("invariantSha"):
            wanted[record["invariant"]] = (f"{RENDERS}/{record['invariant']}.yaml", Entry(record.get("invariantContainers", ""), record["invariantSha"]))
    present = cache.entries(list(wanted))
    missing = {key: value for key, value in wanted.items() if key not in present}
    try:
        blobs = git.show_files(sha, [path for path, _ in missing.values()])
    except GitError:
        return 0
    entries: dict[str, tuple[Entry, str | None]] = {}
    for key, (path, entry) in missing.items():
        text = blobs.get(path)
        if text is not None and hashlib.sha256(text.encode()).hexdigest() == entry.output_sha:  # what the index says, or nothing
            entries[key] = (entry, text)
    cache.store(entries)
    cache.set_meta("hydrated-seed", sha)
    return len(entries)


@dataclass(frozen=True)
class Check:
    branch: str
    tip: str | None
    made_from: str | None  # the source commit the tip was made from
    source: str  # HEAD

    @property
    def matches(self) -> bool:
        return self.made_from == self.source


def check(repo_dir: Path) -> Check:
    """Whether the hydrated branch was made from the checked-out source commit."""
    config = load_config(repo_dir)
    if config.hydrate is None:
        raise InputError("gitops-mlops.yaml has no 'hydrate:' (branch and path of the rendered manifests)")
    git = GitRepo(repo_dir)
    found = tip(git, config)
    return Check(config.hydrate.branch, found, source_of(git, found) if found else None, git.head() or "")


def hydrate_head(repo_dir: Path, push: bool = False) -> tuple[Check, Hydrated | None]:
    """Hydrate the checked-out source commit when the branch does not match it (rebuilt whole),
    optionally pushing the hydrated branch; nothing when it already matches."""
    state = check(repo_dir)
    if state.matches:
        return state, None
    config = load_config(repo_dir)
    git = GitRepo(repo_dir)
    git.check_identity()
    with RenderCache(repo_dir) as cache:
        hydrated = commit(git, config, prepare(Path(repo_dir).resolve(), git, config, None, set(), cache, state.tip), state.source)
    if push:
        git.push(config.remote, hydrated.sha, hydrated.branch)
    return state, hydrated
