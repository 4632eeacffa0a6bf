"""A site rendered from another kustomization text without touching the repository: a mirror of its
folder with that text, beside links to every folder outside it that its build reads."""

from __future__ import annotations

import os
from pathlib import Path

from gitops_mlops.config.sites import Site
from gitops_mlops.core import repofiles
from gitops_mlops.core.errors import RenderError
from gitops_mlops.pins import kustomization
from gitops_mlops.render.inputs import References, closure, site_dir


def mirrorable(repo: Path, site: Site, refs: References) -> bool:
    """Whether a checked site can render from a mirror (no folder it reads holds it; a small folder)."""
    own = site_dir(repo, site, refs)
    inside = str(own)
    if any(inside.startswith(f"{d}{os.sep}") for d in closure(own, refs)):
        return False
    files = refs.files.get(own)
    return files is not None and len(files) <= 200


def mirror(repo: Path, root: Path, site: Site, text: str, refs: References) -> Path:
    """A copy of the site's folder with ``text`` as its kustomization, at the same relative place
    under ``root`` as in the repository, and links to every folder outside it that its build reads."""
    own = site_dir(repo, site, refs)
    outside = sorted(d for d in closure(own, refs) if d != own and own not in d.parents)
    if any(d in own.parents for d in outside):
        raise RenderError(f"site {site.name}: reads a folder that holds it; no pin-invariant render")
    target = root / site.path
    repofiles.copy_folder(own, target)
    file = kustomization.find_kustomization_file(own)
    (target / file.name).unlink()  # a symlink in the repository: never written through
    (target / file.name).write_text(text, newline="")
    holders = {repo, *own.parents}
    linked: set[Path] = set()
    for directory in outside:
        top = directory  # the widest folder holding it that does not hold the site: one link serves its siblings
        while top.parent not in holders:
            top = top.parent
        if top not in linked:
            link = root / top.relative_to(repo)
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(top, link)
            linked.add(top)
    return target
