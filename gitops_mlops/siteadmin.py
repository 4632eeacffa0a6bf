"""``add-site`` and ``remove-site``: a site is its overlay folder, added or removed in one commit.

A new site is an existing site's folder copied byte for byte (its header comment naming
the new site), so it starts with the pins that site runs now; it must render before it is
committed. A site is removed only when no other site's build reads its folder; its holds
go with it. Argo CD picks a new site up when an ApplicationSet's git generator covers its
folder (the example's ``overlays/edge/*``); when none does, the result says so.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from gitops_mlops import applications, repofiles, trailers
from gitops_mlops.config import CONFIG_FILE, load_config
from gitops_mlops.edit import write_atomic
from gitops_mlops.errors import InputError, PolicyError, RenderError
from gitops_mlops.gitrepo import GitRepo
from gitops_mlops.holds import remove_holds
from gitops_mlops.inputs import References, check_references, readers, site_dir
from gitops_mlops.kustomization import find_kustomization_file, read_text
from gitops_mlops.names import SITE_NAME_RE
from gitops_mlops.promotion import refuse_dirty
from gitops_mlops.publish import publish
from gitops_mlops.renders import render_state
from gitops_mlops.requests import Publish
from gitops_mlops.sites import discover_sites

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
    repo_dir = Path(repo_dir).resolve()
    options.check()
    if not SITE_NAME_RE.match(name):
        raise InputError(f"site name {name!r} is not usable (letters, digits, . _ - per path component)")
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
    git = GitRepo(repo_dir)
    git.refuse_in_progress()
    git.check_identity()
    refuse_dirty(git, [folder])
    old_base, new_base = model.path.rsplit("/", 1)[-1], folder.rsplit("/", 1)[-1]

    def apply() -> SiteChange:
        source, target = repo_dir / model.path, repo_dir / folder
        if not source.is_dir() or target.exists():  # the remote's tip may differ from the checkout
            raise InputError(f"--like {like}: {model.path} is not there" if not source.is_dir() else f"{folder}: already exists")
        files = []
        try:
            shutil.copytree(source, target, symlinks=True)
            for path in sorted(p for p in target.rglob("*") if p.is_file()):
                files.append(path.relative_to(repo_dir).as_posix())
            own = find_kustomization_file(target)
            if own is not None:
                # the rename replaces a copied symlink with a file of the new site's own, never writing through it
                write_atomic(own, _renamed_header(read_text(source / own.name, f"{model.path}/{own.name}"), old_base, new_base))
            fresh = load_config(repo_dir)
            added = {s.name: s for s in discover_sites(repo_dir, fresh)}.get(name)
            if added is None:
                found = next((s.name for s in discover_sites(repo_dir, fresh) if s.path == folder), None)
                raise InputError(f"{folder} would be the site {found!r}, not {name!r}; name it after its folder")
            rendered = render_state(repo_dir, fresh, [added])[name]
            if rendered.error:
                raise RenderError(rendered.error)
            sha = git.commit(files, trailers.site_message("add-site", name, f"add site {name} like {like}"))
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        return SiteChange("add-site", name, added.stage, folder, tuple(files), like, covered(repo_dir, folder), commit=sha, branch=git.branch())

    return publish(git, options, config, apply)


def remove_site(repo_dir: Path, name: str, options: Publish = Publish(), force: bool = False) -> SiteChange:
    """Remove a site's folder, its holds and the Argo CD Application that syncs it, in one commit;
    refused while another site builds on it, and (unless ``force``) when it is its stage's last."""
    repo_dir = Path(repo_dir).resolve()
    options.check()
    config = load_config(repo_dir)
    all_sites = discover_sites(repo_dir, config)
    site = next((s for s in all_sites if s.name == name), None)
    if site is None:
        raise InputError(f"site {name!r} does not exist; 'gitops-mlops sites' lists them")
    refs = References()
    check_references(repo_dir, site, config.policy.remote_resources, refs)
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
    git = GitRepo(repo_dir)
    git.refuse_in_progress()
    git.check_identity()
    refuse_dirty(git, [site.path, CONFIG_FILE, *apps, *kustomizations])
    note = f"\n\nStage {site.stage} has no site left (--force)." if emptied else ""

    def apply() -> SiteChange:
        files = [f for f in git.run("ls-files", "-z", "--", site.path, *apps).split("\0") if f]
        before = (repo_dir / CONFIG_FILE).read_text(encoding="utf-8")
        after, removed = before, 0
        for model in config.models:
            after, gone = remove_holds(after, model.name, {name})
            removed += len(gone)
        edits = {**kustomizations, **({CONFIG_FILE: after} if after != before else {})}
        saved = {f: (repo_dir / f).read_bytes() for f in [*files, *edits]}
        try:
            for f in files:
                os.unlink(repo_dir / f)
            for f, text in edits.items():
                write_atomic(repo_dir / f, text)
            sha = git.commit([*files, *edits], trailers.site_message("remove-site", name, f"remove site {name}", note))
        except BaseException:
            for f, data in saved.items():
                (repo_dir / f).parent.mkdir(parents=True, exist_ok=True)
                (repo_dir / f).write_bytes(data)
            raise
        shutil.rmtree(repo_dir / site.path, ignore_errors=True)  # what git does not track there (none after a clean check)
        return SiteChange("remove-site", name, site.stage, site.path, (*files, *edits), holds_removed=removed, commit=sha, branch=git.branch())

    return publish(git, options, config, apply)


def _renamed_header(text: str, old: str, new: str) -> str:
    """The leading comment lines with the old site's folder name replaced; everything else as it was."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.lstrip().startswith("#"):
            break
        lines[i] = re.sub(rf"(?<![\w.-]){re.escape(old)}(?![\w.-])", new, line)
    return "\n".join(lines)
