"""The scandir walk of overlays/ finds exactly what the ``os.walk`` reference finds, on generated
trees: nested folders, leaves and parents, the three kustomization file names (and two at once),
a folder named like the file, symlinked folders and files inside and outside the repository,
links to nothing and folders that cannot be listed; the same sites, files, order, or the same error."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from gitops_mlops.config.overlaywalk import overlay_files
from gitops_mlops.config.sites import contained
from gitops_mlops.core.errors import InputError
from gitops_mlops.pins.kustomization import KUSTOMIZATION_FILES, find_kustomization_file


def reference(repo: Path, root: Path) -> dict[str, str]:
    """The walk as ``sites._walk_overlays`` made it with ``os.walk`` before."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root / "overlays"):
        here = Path(dirpath)
        for name in list(dirnames):
            child = here / name
            if name in KUSTOMIZATION_FILES:
                raise InputError(f"{child.relative_to(root).as_posix()}: is a directory, not a kustomization file")
            if child.is_symlink():
                rel = child.relative_to(root).as_posix()
                contained(repo, rel, "overlay")
                dirnames.remove(name)
                if find_kustomization_file(child) is not None:
                    found[rel] = ""
        names = [f for f in filenames if f in KUSTOMIZATION_FILES]
        if names:
            rel = here.relative_to(root).as_posix()
            if len(names) > 1:
                find_kustomization_file(here)
            file = f"{rel}/{names[0]}"
            if os.path.islink(root / file):
                contained(repo, os.path.relpath(os.path.realpath(root / file), root), f"{file}: symlink target")
            found[rel] = file
    return found


def generate(root: Path, rng: random.Random) -> None:
    """A random overlays/ tree with the unusual entries a repository may hold."""
    (root / "overlays").mkdir(parents=True)
    (root.parent / "outside").mkdir(exist_ok=True)
    (root.parent / "outside" / "kustomization.yaml").write_text("resources: []\n")
    folders = ["overlays"]
    for n in range(rng.randint(1, 14)):
        parent = rng.choice(folders)
        kind = rng.random()
        path = root / parent / f"d{n}"
        if kind < 0.7:
            path.mkdir()
            folders.append(f"{parent}/d{n}")
            if rng.random() < 0.6:
                (path / rng.choice(KUSTOMIZATION_FILES)).write_text("resources: []\n")
            if rng.random() < 0.05:
                (path / rng.choice(KUSTOMIZATION_FILES[1:])).write_text("resources: []\n")
        elif kind < 0.8:
            path.symlink_to(rng.choice([root / rng.choice(folders), root.parent / "outside", root / "nothing"]))
        elif kind < 0.85 and rng.random() < 0.3:
            folder = root / parent / rng.choice(KUSTOMIZATION_FILES)
            if not folder.exists() and not folder.is_symlink():
                folder.mkdir()
        elif kind < 0.95:
            target = rng.choice([root.parent / "outside" / "kustomization.yaml", root / "nothing", root / "overlays" / "shared.yaml"])
            (root / "overlays" / "shared.yaml").write_text("resources: []\n")
            link = root / parent / "kustomization.yaml"
            if not link.exists() and not link.is_symlink():
                link.symlink_to(target)
        else:
            path.mkdir()
            (path / "kustomization.yaml").write_text("resources: []\n")
            if os.geteuid() != 0:
                path.chmod(0)


def outcome(fn, repo: Path) -> object:
    try:
        return list(fn(repo, repo.resolve()).items())
    except InputError as exc:
        return f"error: {exc}"


@pytest.mark.parametrize("seed", range(100))
def test_the_walk_finds_what_os_walk_finds(tmp_path, seed):
    rng = random.Random(seed)
    repo = tmp_path / "repo"
    repo.mkdir()
    generate(repo, rng)
    try:
        assert outcome(lambda r, root: overlay_files(r, root, "overlays"), repo) == outcome(reference, repo)
    finally:
        for path in repo.rglob("*"):
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)


def test_a_fleet_of_sites_is_found_in_order(tmp_path):
    for name in ("b", "a/x", "a/y"):
        (tmp_path / "overlays" / name).mkdir(parents=True)
        (tmp_path / "overlays" / name / "kustomization.yaml").write_text("resources: []\n")
    found = overlay_files(tmp_path, tmp_path.resolve(), "overlays")
    assert sorted(found.items()) == [(f"overlays/{n}", f"overlays/{n}/kustomization.yaml") for n in ("a/x", "a/y", "b")]
