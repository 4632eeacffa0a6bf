"""Every kustomization leaf under ``overlays/``, found with one ``os.scandir`` per folder.

The same walk as ``os.walk`` (top down, symlinked folders listed but not entered, unreadable
folders skipped), read from each entry's directory listing instead of a ``stat`` per path: a
thousand sites are found in a fraction of the time. Proven equal to the ``os.walk`` reference on
generated trees (``tests/config/test_overlaywalk.py``)."""

from __future__ import annotations

import os
from pathlib import Path

from gitops_mlops.config.sites import contained
from gitops_mlops.core.errors import InputError
from gitops_mlops.pins.kustomization import KUSTOMIZATION_FILES, find_kustomization_file


def overlay_files(repo: Path, root: Path, overlays: str) -> dict[str, str]:
    """Each folder under ``root/overlays`` holding a kustomization -> its file (both repository-relative;
    '' for a symlinked folder, whose file is checked by ``find_kustomization_file``)."""
    found: dict[str, str] = {}
    _walk(repo, root, overlays, found)
    return found


def _walk(repo: Path, root: Path, rel: str, found: dict[str, str]) -> None:
    try:
        with os.scandir(root / rel) as listing:
            entries = list(listing)
    except OSError:
        return  # as os.walk: a folder that cannot be listed is skipped
    folders, files = [], []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        (folders if is_dir else files).append(entry)
    inside = []
    for entry in folders:
        child = f"{rel}/{entry.name}"
        if entry.name in KUSTOMIZATION_FILES:  # a folder kustomize would take for the file: never "not a site"
            raise InputError(f"{child}: is a directory, not a kustomization file")
        if entry.is_symlink():
            contained(repo, child, "overlay")  # a link out of the repository is an error, not a skip
            if find_kustomization_file(root / child) is not None:
                found[child] = ""
        else:
            inside.append(child)
    names = [e for e in files if e.name in KUSTOMIZATION_FILES]
    if names:
        if len(names) > 1:
            find_kustomization_file(root / rel)  # raises: two kustomization files
        file = f"{rel}/{names[0].name}"
        if names[0].is_symlink():
            contained(repo, os.path.relpath(os.path.realpath(root / file), root), f"{file}: symlink target")
        found[rel] = file
    for child in inside:
        _walk(repo, root, child, found)
