"""Which sites read a folder: the sites a change to some folders reaches, besides those it meant to.

``readers`` answers for every site of a fleet. A site whose own folder is of the plain shape
(``ownfolder``) is read lean: of its own files only the kustomization, and its other files checked
as the general walk checks them (a regular file within the limit) without reading or hashing them;
the folders it references are walked the general way, each once per command. Any other site is
walked the general way (``inputs.walk_references``). With ``References(general=True)`` every site
is, which is the reference this is proven equal to on generated fleets
(tests/render/test_readers.py, scripts/prove_fastpaths.py).
"""

from __future__ import annotations

from pathlib import Path

from gitops_mlops.config.sites import Site, kustomization_of
from gitops_mlops.core.errors import InputError
from gitops_mlops.render import ownfolder
from gitops_mlops.render.inputs import References, check_trees, closure, resolved, site_dir, walk_from, walk_references


def readers(repo: Path, sites, allowed_remote: tuple[str, ...], refs: References, dirs: set[Path], skip: set[str] = frozenset()) -> tuple[Site, ...]:
    """The sites (but those named in ``skip``) whose build reads one of ``dirs``; a site that does
    not check out is broken already and left out."""
    found = []
    root = resolved(repo, "", refs)
    for site in sites:
        if site.name in skip:
            continue
        try:
            own = _walked(repo, root, site, allowed_remote, refs)
        except InputError:
            continue
        if any(d in dirs for d in closure(own, refs)):
            found.append(site)
    return tuple(found)


def _walked(repo: Path, root: Path, site: Site, allowed_remote: tuple[str, ...], refs: References) -> Path:
    """The site's own folder, every folder its build reads walked and checked; InputError when it does not check out."""
    if not refs.general:
        start = kustomization_of(repo, site).parent
        if start not in refs.children and ownfolder.walk_own(repo, site, start, allowed_remote, refs, hashes=False):
            walk_from(repo, site, list(refs.children[start]), allowed_remote, refs, taken=[start])
            check_trees(site, closure(start, refs)[1:], root, refs)  # the own folder, first, is checked already
            return start
    walk_references(repo, site, allowed_remote, refs)
    return site_dir(repo, site, refs)
