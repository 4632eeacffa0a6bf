"""Where a site's image is set, when it is not by a pin of the site's own kustomization:
the file of its build inputs that names it (a base, a wrapped overlay, a HelmRelease's values)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from gitops_mlops.inputs import References, closure
from gitops_mlops.kustomization import KUSTOMIZATION_FILES
from gitops_mlops.sites import Site

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
                    if path.stat().st_size > MAX_BYTES:
                        continue
                    text = path.read_text(errors="replace")
                except OSError:
                    continue
                for doc in re.split(r"^---[ \t]*$", text, flags=re.M):
                    if any(p.search(doc) for p in patterns):
                        rel = path.relative_to(root).as_posix()
                        kind, obj = _KIND.search(doc), _NAME.search(doc)
                        if kind and obj and name not in KUSTOMIZATION_FILES:
                            return f"{kind.group(1)}/{obj.group(1)} ({rel})"
                        return rel
    return ""
