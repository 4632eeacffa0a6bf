"""Find sites, resolve selectors, and keep every path inside the repository."""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from gitops_mlops.config import SITE_NAME_RE, Config
from gitops_mlops.errors import InputError
from gitops_mlops.kustomization import KUSTOMIZATION_FILES, find_kustomization_file, read_pin_fields

OVERLAYS_DIR = "overlays"
_SELECTOR_RE = re.compile(r"^[A-Za-z0-9_.*?\[\]/-]+$")


@dataclass(frozen=True)
class Site:
    name: str  # path-like: "datacenter", "edge/berlin-01"
    path: str  # overlay directory, relative to the repository root, posix
    stage: str
    file: str = field(default="", compare=False)  # its kustomization file, when discovery already checked it

    def __str__(self) -> str:
        return self.name


def contained(repo: Path, relative: str, what: str) -> Path:
    """``repo/relative`` resolved; refuse absolute paths, NUL and anything (symlinks included) that leaves ``repo``."""
    if "\x00" in relative or "\n" in relative:
        raise InputError(f"{what} {relative!r}: contains a NUL or newline character")
    if os.path.isabs(relative) or relative.startswith("~"):
        raise InputError(f"{what} {relative!r}: must be a path relative to the repository")
    root = repo.resolve()
    try:
        target = (root / relative).resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # RuntimeError: symlink loop on older Pythons
        raise InputError(f"{what} {relative!r}: cannot be resolved ({exc})") from None
    if target != root and root not in target.parents:
        raise InputError(f"{what} {relative!r}: leaves the repository")
    if target.is_symlink():  # resolve() stops at a link only when the link loops
        raise InputError(f"{what} {relative!r}: is a symlink loop")
    return target


def kustomization_of(repo: Path, site: Site) -> Path:
    """The site's one kustomization file, checked to stay inside the repository."""
    if site.file:  # found (and checked) by discovery
        return (repo if repo.is_absolute() else repo.resolve()) / site.file
    directory = contained(repo, site.path, f"site {site.name}: path")
    if not directory.is_dir():
        raise InputError(f"site {site.name}: {site.path} is not a directory")
    found = find_kustomization_file(directory)
    if found is None:
        raise InputError(f"site {site.name}: no kustomization file in {site.path}")
    contained(repo, os.path.relpath(found.resolve(), repo.resolve()), f"site {site.name}: kustomization")
    return found


def site_pin_fields(repo: Path, site: Site) -> list[tuple[str, str | None, str | None, str | None]]:
    """(name, newName, newTag, digest) of every pin in the site's kustomization."""
    path = kustomization_of(repo, site)
    return read_pin_fields(path, site.file or site.path)


def discover_sites(repo: Path, config: Config) -> tuple[Site, ...]:
    """The configured sites, or every kustomization leaf under overlays/ (stage = first path component)."""
    if config.sites:
        sites = [Site(name=s.name, path=s.path.rstrip("/"), stage=s.stage) for s in config.sites]
        for site in sites:
            kustomization_of(repo, site)
    else:
        sites = _walk_overlays(repo)
    return tuple(sorted(sites, key=lambda s: (config.stage_index(s.stage), s.name)))


def _walk_overlays(repo: Path) -> list[Site]:
    root = repo.resolve()
    overlays = root / OVERLAYS_DIR
    if not overlays.is_dir():
        return []
    found: dict[str, str] = {}  # overlay dir -> its kustomization file, both repository-relative
    for dirpath, dirnames, filenames in os.walk(overlays):
        here = Path(dirpath)
        for name in list(dirnames):
            child = here / name
            if child.is_symlink():
                rel = child.relative_to(root).as_posix()
                contained(repo, rel, "overlay")  # a link out of the repository is an error, not a skip
                dirnames.remove(name)
                file = find_kustomization_file(child)
                if file is not None:
                    found[rel] = ""
        names = [f for f in filenames if f in KUSTOMIZATION_FILES]
        if names:
            rel = here.relative_to(root).as_posix()
            if len(names) > 1:
                find_kustomization_file(here)  # raises: two kustomization files
            file = f"{rel}/{names[0]}"
            if os.path.islink(root / file):
                contained(repo, os.path.relpath(os.path.realpath(root / file), root), f"{file}: symlink target")
            found[rel] = file
    parents = {"/".join(p.split("/")[:i]) for p in found for i in range(1, p.count("/") + 1)}
    sites = []
    for path, file in found.items():
        name = path[len(OVERLAYS_DIR) + 1 :]
        if path in parents or not name:
            continue
        if not SITE_NAME_RE.match(name):
            raise InputError(f"{path}: {name!r} is not a usable site name (letters, digits, . _ - per path component)")
        sites.append(Site(name=name, path=path, stage=name.split("/")[0], file=file))
    return sites


def select(sites: tuple[Site, ...], selectors: list[str] | tuple[str, ...]) -> tuple[Site, ...]:
    """Sites matching any selector: an exact name, a group prefix (``edge``) or a glob (``edge/f-*``)."""
    if not selectors:
        raise InputError("no site selector given")
    chosen: dict[str, Site] = {}
    for selector in selectors:
        check_selector(selector)
        matched = [s for s in sites if matches(s.name, selector)]
        if not matched:
            raise InputError(f"site selector {selector!r} matches no site")
        for site in matched:
            chosen[site.name] = site
    return tuple(s for s in sites if s.name in chosen)


def check_selector(selector: str) -> None:
    if not _SELECTOR_RE.match(selector) or selector.startswith(("/", "-")) or ".." in selector.split("/"):
        raise InputError(f"site selector {selector!r}: only site names, group prefixes and globs (* ? []) are allowed")


def matches(name: str, selector: str) -> bool:
    selector = selector.rstrip("/")
    if name == selector or name.startswith(selector + "/"):
        return True
    return any(c in selector for c in "*?[") and fnmatch.fnmatchcase(name, selector)
