"""``add-site`` and ``remove-site``: a site is its overlay folder, added or removed in one commit.

A new site is an existing site's folder copied byte for byte (its header comment naming
the new site), so it starts with the pins that site runs now; it must render before it is
committed. A site is removed only when no other site's build reads its folder; its holds
go with it. Argo CD picks a new site up when an ApplicationSet's git generator covers its
folder (the example's ``overlays/edge/*``); when none does, the result says so.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from gitops_mlops.change.intents import Publish
from gitops_mlops.change.transaction import Change, guard, refuse_dirty, run_change, transact
from gitops_mlops.change.write import write_atomic
from gitops_mlops.config import applications
from gitops_mlops.config.holds import remove_holds
from gitops_mlops.config.load import CONFIG_FILE, Config, load_config
from gitops_mlops.config.sites import Site, discover_sites
from gitops_mlops.core import repofiles
from gitops_mlops.core.errors import InputError, PolicyError, RenderError
from gitops_mlops.core.names import SITE_NAME_RE
from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.pins.kustomization import find_kustomization_file
from gitops_mlops.render.inputs import References, site_dir, walk_references
from gitops_mlops.render.readers import readers
from gitops_mlops.render.state import render_state

_GENERATOR_PATH = re.compile(r"^\s*-\s*path:\s*['\"]?([^'\"#\s]+)['\"]?\s*(?:#.*)?$", re.M)


@dataclass(frozen=True)
class SiteChange:
    action: str  # "add-site" or "remove-site"
    site: str
    stage: str
    path: str
    files: tuple[str, ...]
    like: str = ""
    covered: bool = True  # an ApplicationSet generator picks the folder up
    holds_removed: int = 0
    commit: str | None = None
    pushed: bool = False
    branch: str | None = None
    attempts: int = 0
    diff: str = ""  # a dry run's: what the commit would change
    recovered: str = ""  # what was undone of an interrupted earlier run before this one

    def as_json(self) -> dict:
        return {
            "action": self.action,
            "site": self.site,
            "stage": self.stage,
            "path": self.path,
            "like": self.like or None,
            "files": list(self.files),
            "pickedUp": self.covered,
            "holdsRemoved": self.holds_removed,
            "commit": self.commit,
            "pushed": self.pushed,
            "branch": self.branch,
        }


def generator_paths(repo_dir: Path) -> list[str]:
    """The folder patterns of the git directory generators of ApplicationSets under environments/."""
    found = []
    for path in sorted((repo_dir / "environments").rglob("*.y*ml")) if (repo_dir / "environments").is_dir() else []:
        text = repofiles.read_bytes(path, path.relative_to(repo_dir).as_posix(), repo_dir.resolve()).decode("utf-8", errors="replace")
        if "kind: ApplicationSet" in text and "directories:" in text:
            found += _GENERATOR_PATH.findall(text.split("directories:", 1)[1].split("template:", 1)[0])
    return found


def covered(repo_dir: Path, folder: str) -> bool:
    return any(fnmatch.fnmatchcase(folder, pattern) for pattern in generator_paths(repo_dir))


def add_site(repo_dir: Path, name: str, like: str, options: Publish = Publish()) -> SiteChange:
    """Add the site ``name`` as a copy of ``like``'s folder, rendered before it is committed. A dry run takes
    the same steps up to the commit, then removes the copy: it exits as the real run would."""
    repo_dir = Path(repo_dir).resolve()
    if not SITE_NAME_RE.match(name):
        raise InputError(f"site name {name!r} is not usable (letters, digits, . _ - per path component)")
    git = GitRepo(repo_dir)
    recovered = guard(git)  # first: a killed add-site's copy would look like the site
    config = load_config(repo_dir)
    sites = {s.name: s for s in discover_sites(repo_dir, config)}
    if name in sites:
        raise InputError(f"site {name!r} already exists ({sites[name].path})")
    model = sites.get(like)
    if model is None:
        raise InputError(f"--like {like!r}: no such site; 'gitops-mlops sites' lists them")
    folder = f"{model.path.rsplit('/', 1)[0]}/{name.rsplit('/', 1)[-1]}" if "/" in model.path else name.rsplit("/", 1)[-1]
    if (repo_dir / folder).exists():
        raise InputError(f"{folder}: already exists")
    refuse_dirty(git, [folder])

    def apply(dry_run: bool) -> SiteChange:
        source, target = repo_dir / model.path, repo_dir / folder
        if not source.is_dir() or target.exists():  # the remote's tip may differ from the checkout
            raise InputError(f"--like {like}: {model.path} is not there" if not source.is_dir() else f"{folder}: already exists")
        copies = _copies(repo_dir, source, folder, model.path.rsplit("/", 1)[-1])
        added: list[Site] = []

        def write() -> None:
            shutil.copytree(source, target, symlinks=True)
            for f, (before, after) in copies.items():
                if before is not None:  # the site's own kustomization: its header names the new site
                    write_atomic(repo_dir / f, after.decode("utf-8"))

        change = Change(
            journal=[(f, before, after) for f, (before, after) in copies.items()],
            write=write,
            restore=lambda: _remove_tree(target),
            paths=list(copies),
            message=lambda: trailers.site_message("add-site", name, f"add site {name} like {like}"),
            verify=lambda: added.append(_rendered(repo_dir, name, folder)),
        )
        done = transact(git, change, dry_run)
        made = SiteChange("add-site", name, added[0].stage, folder, tuple(copies), like, covered(repo_dir, folder))
        if dry_run:
            return replace(made, diff=_diff({f: (None, after) for f, (_, after) in copies.items()}))
        return replace(made, commit=done.commit, branch=git.branch())

    return replace(run_change(git, options, config, apply, "add-site"), recovered=recovered)


def _copies(repo_dir: Path, source: Path, folder: str, old_base: str) -> dict[str, tuple[bytes | None, bytes]]:
    """The files the copy of ``source`` at ``folder`` holds: path -> (None, bytes), its own kustomization
    -> (the copied bytes, the bytes with its header naming the new folder)."""
    own = find_kustomization_file(source)
    out: dict[str, tuple[bytes | None, bytes]] = {}
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = f"{folder}/{path.relative_to(source).as_posix()}"
        data = repofiles.read_bytes(path, path.relative_to(repo_dir).as_posix(), repo_dir)  # by type, inside the repository, bounded
        if own is not None and path == own:
            out[relative] = (data, _renamed_header(data.decode("utf-8"), old_base, folder.rsplit("/", 1)[-1]).encode("utf-8"))
        else:
            out[relative] = (None, data)
    return out


def _rendered(repo_dir: Path, name: str, folder: str) -> Site:
    """The new site, as the config finds it at ``folder``; RenderError unless it renders."""
    fresh = load_config(repo_dir)
    found = discover_sites(repo_dir, fresh)
    added = next((s for s in found if s.name == name), None)
    if added is None:
        other = next((s.name for s in found if s.path == folder), None)
        raise InputError(f"{folder} would be the site {other!r}, not {name!r}; name it after its folder")
    rendered = render_state(repo_dir, fresh, [added])[name]
    if rendered.error:
        raise RenderError(rendered.error)
    return added


def _remove_tree(target: Path) -> None:
    """Put back what an add-site copied: its folder goes (a copy that failed half-way too)."""
    if target.exists():
        shutil.rmtree(target)


def _diff(files: dict[str, tuple[bytes | None, bytes | None]]) -> str:
    """A unified diff of files added (before None), removed (after None) or changed."""
    out = []
    for f, (before, after) in files.items():
        old, new = ("" if x is None else x.decode("utf-8", errors="replace") for x in (before, after))
        out.extend(
            difflib.unified_diff(
                old.splitlines(True), new.splitlines(True), "/dev/null" if before is None else f"a/{f}", "/dev/null" if after is None else f"b/{f}"
            )
        )
    return "".join(out)


def remove_site(repo_dir: Path, name: str, options: Publish = Publish(), force: bool = False) -> SiteChange:
    """Remove a site's folder, its holds and the Argo CD Application that syncs it, in one commit;
    refused while another site builds on it, and (unless ``force``) when it is its stage's last."""
    repo_dir = Path(repo_dir).resolve()
    git = GitRepo(repo_dir)
    recovered = guard(git)  # first: a killed remove-site may have taken the folder
    config = load_config(repo_dir)
    all_sites = discover_sites(repo_dir, config)
    site = next((s for s in all_sites if s.name == name), None)
    if site is None:
        raise InputError(f"site {name!r} does not exist; 'gitops-mlops sites' lists them")
    refs = References()
    walk_references(repo_dir, site, config.policy.remote_resources, refs)
    builds_on = readers(repo_dir, all_sites, config.policy.remote_resources, refs, {site_dir(repo_dir, site, refs)}, {name})
    if builds_on:
        raise InputError(f"site {name!r}: {builds_on[0].name} builds on {site.path}; remove or change it first")
    emptied = not any(s.stage == site.stage and s.name != name for s in all_sites)
    if emptied and not force:
        raise PolicyError(
            f"site {name!r} is the last site of stage {site.stage!r}: the next stage's gate would have nothing to wait for; "
            "add another site to the stage first, or pass --force"
        )
    apps, kustomizations = applications.removal(repo_dir, site.path)
    refuse_dirty(git, [site.path, CONFIG_FILE, *apps, *kustomizations])
    _refuse_links(repo_dir, git, site.path)
    note = f"\n\nStage {site.stage} has no site left (--force)." if emptied else ""

    def apply(dry_run: bool) -> SiteChange:
        change, removed = _removal(repo_dir, git, config, site, note)
        done = transact(git, change, dry_run)
        made = SiteChange("remove-site", name, site.stage, site.path, tuple(change.paths), holds_removed=removed)
        if dry_run:
            return replace(made, diff=_diff({f: (before, after) for f, before, after in change.journal}))
        shutil.rmtree(repo_dir / site.path, ignore_errors=True)  # what git does not track there (none after a clean check)
        return replace(made, commit=done.commit, branch=git.branch())

    return replace(run_change(git, options, config, apply, "remove-site"), recovered=recovered)


def _removal(repo_dir: Path, git: GitRepo, config: Config, site: Site, note: str) -> tuple[Change, int]:
    """The change that removes ``site``: its tracked files and the Applications that sync it go, the
    kustomizations that list them are edited, its holds leave the config. Read on the checkout as it is
    now: on a retry, the remote's tip. Returns the change and how many holds it removes."""
    apps, kustomizations = applications.removal(repo_dir, site.path)
    files = [f for f in git.run("ls-files", "-z", "--", site.path, *apps).split("\0") if f]
    before = (repo_dir / CONFIG_FILE).read_text(encoding="utf-8")
    after, removed = before, 0
    for model in config.models:
        after, gone = remove_holds(after, model.name, {site.name})
        removed += len(gone)
    edits = {**kustomizations, **({CONFIG_FILE: after} if after != before else {})}
    saved = {f: (repo_dir / f).read_bytes() for f in [*files, *edits]}

    def write() -> None:
        for f in files:
            os.unlink(repo_dir / f)
        for f, text in edits.items():
            write_atomic(repo_dir / f, text)

    change = Change(
        journal=[(f, saved[f], None) for f in files] + [(f, saved[f], text.encode("utf-8")) for f, text in edits.items()],
        write=write,
        restore=lambda: _put_back(repo_dir, saved),
        paths=[*files, *edits],
        message=lambda: trailers.site_message("remove-site", site.name, f"remove site {site.name}", note),
        verify=lambda: load_config(repo_dir),  # the edited config must still load
    )
    return change, removed


def _refuse_links(repo_dir: Path, git: GitRepo, folder: str) -> None:
    """remove-site keeps the bytes of what it removes to put them back on failure: a symlink in the
    site's folder would come back as a file, so it is refused with the way to do it by hand."""
    for f in (f for f in git.run("ls-files", "-z", "--", folder).split("\0") if f):
        if os.path.islink(repo_dir / f):
            raise InputError(f"{f}: a symlink in the site's folder; remove the site by hand (git rm -r {folder}) and commit")


def _put_back(repo_dir: Path, saved: dict[str, bytes]) -> None:
    for f, data in saved.items():
        (repo_dir / f).parent.mkdir(parents=True, exist_ok=True)
        (repo_dir / f).write_bytes(data)


def _renamed_header(text: str, old: str, new: str) -> str:
    """The leading comment lines with the old site's folder name replaced; everything else as it was."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.lstrip().startswith("#"):
            break
        lines[i] = re.sub(rf"(?<![\w.-]){re.escape(old)}(?![\w.-])", new, line)
    return "\n".join(lines)
