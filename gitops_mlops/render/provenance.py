"""Where a site's image is set, when it is not by a pin of the site's own kustomization: the
kustomization of its build inputs whose pin (an ``images:`` entry or a modelcar patch) gives the
rendered image (a wrapped overlay or base that pins it), else the file that names it (a base's
manifest, a HelmRelease's values)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from gitops_mlops.config.sites import Site
from gitops_mlops.core import repofiles
from gitops_mlops.core.errors import GitOpsError, InputError
from gitops_mlops.pins import kustomization
from gitops_mlops.pins.kustomization import KUSTOMIZATION_FILES, Pin
from gitops_mlops.render.inputs import References, closure

_KIND = re.compile(r"^kind:\s*(\S+)", re.M)
_NAME = re.compile(r"^metadata:\s*\n(?:\s+.*\n)*?\s+name:\s*(\S+)", re.M)
MAX_BYTES = 1024 * 1024


def where_set(repo: Path, site: Site, refs: References, needles: tuple[str, ...], output: str | None = None, kustomizations: bool = False) -> str:
    """``Kind/name (path)`` or ``path`` of the first input file naming one of ``needles`` as an image,
    nearest the site first; '' when none does. Kustomization files are searched only with ``kustomizations``."""
    root = repo.resolve()
    patterns = [re.compile(rf"(?<![\w./-]){re.escape(n)}(?=[:@\"'\s]|$)", re.M) for n in needles if n]
    for directory in closure((root / site.path).resolve(), refs):
        for dirpath, dirnames, filenames in os.walk(directory):
            dirnames.sort()
            for name in sorted(filenames):
                if not name.endswith((".yaml", ".yml", ".json")) and name not in KUSTOMIZATION_FILES:
                    continue
                if name in KUSTOMIZATION_FILES and not kustomizations:
                    continue
                path = Path(dirpath) / name
                try:
                    text = repofiles.read_bytes(path, name, root, MAX_BYTES).decode("utf-8", errors="replace")
                except InputError:  # not a regular file inside the repository, or too large: not searched
                    continue
                for doc in re.split(r"^---[ \t]*$", text, flags=re.M):
                    if any(p.search(doc) for p in patterns):
                        rel = path.relative_to(root).as_posix()
                        kind, obj = _KIND.search(doc), _NAME.search(doc)
                        if kind and obj and name not in KUSTOMIZATION_FILES:
                            return f"{kind.group(1)}/{obj.group(1)} ({rel})"
                        return rel
    return ""


def pin_set_in(repo: Path, site: Site, refs: References, image: str, known: dict[Path, tuple[str, tuple[Pin, ...]]] | None = None) -> str:
    """The kustomization file of the site's build, nearest the site first, with a pin that gives
    ``image`` (``repository[:tag][@digest]``, as rendered) its repository and every value it sets;
    '' when none does. Kustomize applies an outer kustomization's pins after those it wraps, so the
    nearest pin that agrees with the render is the one that takes effect. ``known`` keeps each
    folder's pins across calls."""
    root = repo.resolve()
    name, _, digest = image.partition("@")
    slash, colon = name.rfind("/"), name.rfind(":")
    repository, tag = (name[:colon], name[colon + 1 :]) if colon > slash else (name, "")
    known = {} if known is None else known
    for directory in closure((root / site.path).resolve(), refs):
        if directory not in known:
            known[directory] = _pins_of(root, directory)
        rel, pins = known[directory]
        if any(p.repository == repository and (p.new_tag or tag) == tag and (p.digest or digest) == digest for p in pins):
            return rel
    return ""


def _pins_of(root: Path, directory: Path) -> tuple[str, tuple[Pin, ...]]:
    file = kustomization.find_kustomization_file(directory)
    if file is None:
        return "", ()
    rel = file.relative_to(root).as_posix()
    try:
        return rel, kustomization.pins(kustomization.read_text(file, rel), rel)
    except (GitOpsError, ValueError):  # a folder outside the repository, or a kustomization that does not parse: not this question's business
        return "", ()
