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
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from gitops_mlops.config import Config, load_config
from gitops_mlops.errors import GitError, InputError, RenderError
from gitops_mlops.gitrepo import GitRepo
from gitops_mlops.rendercache import Entry, RenderCache
from gitops_mlops.renders import encode_containers, render_state
from gitops_mlops.sites import discover_sites

INDEX = ".gitops-mlops/sites.jsonl"  # one line per site: its keys, and what the cache keeps of its renders
RENDERS = ".gitops-mlops/renders"  # pin-invariant renders by key
MANIFESTS = "manifests.yaml"


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


def build(
    repo_dir: Path, git: GitRepo, config: Config, source: str, source_parent: str | None, changed: set[str], cache: RenderCache, base: str | None
) -> Hydrated:
    """The hydrated commit for source commit ``source`` (the work tree holds it): the changed sites
    written on ``base`` when that was made from ``source_parent``, else every site written anew."""
    spec = config.hydrate
    rebuilt = base is None or source_parent is None or source_of(git, base) != source_parent
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
    message = f"hydrate {source[:12]}: {len(chosen)} site(s){' (rebuilt)' if rebuilt else ''}\n\nSource-Commit: {source}\n"
    sha = git.commit_tree(base, files, message, replace_all=rebuilt)
    return Hydrated(sha, spec.branch, base, rebuilt, tuple(s.name for s in chosen))


def after_commit(
    repo_dir: Path, git: GitRepo, config: Config, source: str, source_parent: str | None, changed: set[str], cache: RenderCache
) -> tuple[tuple[str, str], ...]:
    """Hydrate a source commit just made: the (sha, branch) to push with it atomically, or () when
    the config hydrates nothing. The local branch follows, as the record of the last hydration."""
    if config.hydrate is None:
        return ()
    base = tip(git, config)
    hydrated = build(repo_dir, git, config, source, source_parent, changed, cache, base)
    git.set_branch(hydrated.branch, hydrated.sha, git.try_resolve(f"refs/heads/{hydrated.branch}"))
    return ((hydrated.sha, hydrated.branch),)


def _index(git: GitRepo, sha: str) -> dict[str, dict]:
    text = git.show_file(sha, INDEX) or ""
    out = {}
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
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
        hydrated = build(Path(repo_dir).resolve(), git, config, state.source, None, set(), cache, state.tip)
    git.set_branch(hydrated.branch, hydrated.sha, git.try_resolve(f"refs/heads/{hydrated.branch}"))
    if push:
        git.push(config.remote, hydrated.sha, hydrated.branch)
    return state, hydrated
