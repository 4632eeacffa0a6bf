"""Find sites, resolve selectors, and keep every path inside the repository."""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from gitops_mlops.config import siteglob
from gitops_mlops.config.load import Config
from gitops_mlops.core.errors import InputError
from gitops_mlops.core.names import SITE_NAME_RE, did_you_mean
from gitops_mlops.pins.kustomization import KUSTOMIZATION_FILES, find_kustomization_file, read_pin_fields  # noqa: F401 (KUSTOMIZATION_FILES: importable from here, as before)

OVERLAYS_DIR = "overlays"
_SELECTOR_RE = re.compile(r"^[A-Za-z0-9_.*?\[\]/-]+$")


@dataclass(frozen=True)
class Site:
    name: str  # path-like: "datacenter", "edge/berlin-01"
    path: str  # overlay directory, relative to the repository root, posix
    stage: str
    file: str = field(default="", compare=False)  # its kustomization file, when discovery already checked it
    mirror: str = field(default="", compare=False)  # the registry its cluster pulls from, when configured for the site

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


@functools.lru_cache(maxsize=1 << 16)
def _joined(repo: Path, file: str) -> Path:
    """``repo / file``, made once per command and site (commands ask for a fleet's kustomizations several times)."""
    return repo / file


def kustomization_of(repo: Path, site: Site) -> Path:
    """The site's one kustomization file, checked to stay inside the repository."""
    if site.file:  # found (and checked) by discovery
        return _joined(repo, site.file) if repo.is_absolute() else repo.resolve() / site.file
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
    """The configured sites (patterns expanded), or every kustomization leaf under overlays/
    (stage = first path component). Every site's stage must be a configured stage, and
    there must be at least one site."""
    if config.sites:
        sites = []
        for spec in config.sites:
            sites += (
                _expand(repo, spec, [s.name for s in config.stages])
                if siteglob.is_pattern(spec.path)
                else [Site(name=spec.name, path=spec.path, stage=spec.stage, mirror=spec.mirror)]
            )
        for site in sites:
            kustomization_of(repo, site)
        names: dict[str, str] = {}
        for site in sites:
            if site.name in names:
                raise InputError(f"site {site.name!r} is named twice (paths {names[site.name]} and {site.path}); give the sites: entries distinct names")
            names[site.name] = site.path
    else:
        sites = _walk_overlays(repo)
    if not sites:
        where = (
            "the sites: entries of gitops-mlops.yaml match no directory"
            if config.sites
            else f"no {OVERLAYS_DIR}/**/kustomization.yaml found and no sites: in gitops-mlops.yaml"
        )
        raise InputError(f"no sites: {where}")
    for site in sites:
        if site.stage not in {s.name for s in config.stages}:
            raise InputError(
                f"site {site.name}: stage {site.stage!r} is not one of the stages in gitops-mlops.yaml ({', '.join(s.name for s in config.stages)}); add it or set the site's stage"
            )
    found = tuple(sorted(sites, key=lambda s: (config.stage_index(s.stage), s.name)))
    _check_model_sites(config, found)
    return found


def _expand(repo: Path, spec, stages: list[str]) -> list[Site]:
    """The sites a ``path`` pattern matches (``siteglob``): each matching directory with a kustomization;
    ``{N}`` in the name and stage is what the N-th ``*`` matched."""
    root = repo.resolve()
    current: list[tuple[str, tuple[str, ...]]] = [("", ())]
    for part in spec.path.split("/"):
        following = []
        for prefix, captured in current:
            base = root / prefix if prefix else root
            if siteglob.is_pattern(part):
                try:
                    children = sorted(e.name for e in os.scandir(base) if e.is_dir())
                except OSError:
                    children = []
                following += [(f"{prefix}/{c}" if prefix else c, (*captured, *groups)) for c, groups in siteglob.matching(part, children)]
            elif (base / part).is_dir():
                following.append((f"{prefix}/{part}" if prefix else part, captured))
        current = following
    sites = []
    for path, captured in current:
        if find_kustomization_file(root / path) is None:
            continue
        contained(repo, path, f"site path {spec.path!r}")
        name = path if spec.name == spec.path else siteglob.fill(spec.name, captured)
        if not SITE_NAME_RE.match(name):
            raise InputError(f"{spec.where or 'site path'}: site path {spec.path!r}: {path} gives the name {name!r}, which is not a usable site name")
        stage = siteglob.fill(spec.stage, captured)
        if stage not in stages:
            raise InputError(f"{spec.where or 'site path'}: site {name} ({path}): stage {stage!r} is not one of the stages ({', '.join(stages)})")
        sites.append(Site(name=name, path=path, stage=stage, mirror=spec.mirror))
    return sites


def _check_model_sites(config: Config, sites: tuple[Site, ...]) -> None:
    """Models that share one image name must live at sites that do not overlap."""
    owners: dict[tuple[str, str], str] = {}
    for model in config.models:
        if not model.sites:
            continue
        for site in select(sites, model.sites, what=f"model {model.name}: sites selector"):
            other = owners.get((model.image, site.name))
            if other is not None:
                raise InputError(
                    f"models {other} and {model.name} share the image name {model.image!r} and both list site {site.name}; their sites: lists must not overlap"
                )
            owners[(model.image, site.name)] = model.name


def _walk_overlays(repo: Path) -> list[Site]:
    root = repo.resolve()
    overlays = root / OVERLAYS_DIR
    if not overlays.is_dir():
        return []
    from gitops_mlops.config.overlaywalk import overlay_files  # it reads contained() from here

    found = overlay_files(repo, root, OVERLAYS_DIR)  # overlay dir -> its kustomization file, both repository-relative
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


def select(sites: tuple[Site, ...], selectors: list[str] | tuple[str, ...], what: str = "site selector") -> tuple[Site, ...]:
    """Sites matching any selector: a stage (every site of it), an exact name, a group prefix (``edge``)
    or a glob (``edge/f-*``)."""
    if not selectors:
        raise InputError("no site selector given")
    chosen: dict[str, Site] = {}
    for selector in selectors:
        check_selector(selector, what)
        matched = [s for s in sites if s.stage == selector or matches(s.name, selector)]
        if not matched:
            names = sorted({s.name for s in sites} | {s.stage for s in sites})
            raise InputError(f"{what} {selector!r} matches no site{did_you_mean(selector, names)}")
        for site in matched:
            chosen[site.name] = site
    return tuple(s for s in sites if s.name in chosen)


def check_selector(selector: str, what: str = "site selector") -> None:
    if not _SELECTOR_RE.match(selector) or selector.startswith(("/", "-")) or ".." in selector.split("/"):
        raise InputError(f"{what} {selector!r}: only stages, site names, group prefixes and globs (* ? []) are allowed")


def matches(name: str, selector: str) -> bool:
    selector = selector.rstrip("/")
    if name == selector or name.startswith(selector + "/"):
        return True
    return any(c in selector for c in "*?[") and fnmatch.fnmatchcase(name, selector)


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` (1 <= K <= N): the K-th of N shards."""
    k, sep, n = text.partition("/")
    if not sep or not k.isdigit() or not n.isdigit() or not 1 <= int(k) <= int(n) <= 10_000:
        raise InputError(f"--shard {text!r}: expected K/N with 1 <= K <= N (e.g. 2/4)")
    return int(k), int(n)


def shard(sites: tuple[Site, ...], spec: str | None) -> tuple[Site, ...]:
    """The sites of shard ``K/N``: each site by a hash of its name, so shards stay put as sites come
    and go, and together the N shards are every site exactly once."""
    if spec is None:
        return sites
    k, n = parse_shard(spec)
    return tuple(s for s in sites if int.from_bytes(hashlib.sha1(s.name.encode()).digest()[:8], "big") % n == k - 1)
