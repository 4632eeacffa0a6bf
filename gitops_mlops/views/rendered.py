"""``gitops-mlops render SITE``: one site's manifests exactly as every command sees them."""

from __future__ import annotations

from pathlib import Path

from gitops_mlops.config.load import load_config
from gitops_mlops.config.sites import check_selector, discover_sites
from gitops_mlops.core.errors import InputError, RenderError
from gitops_mlops.render.state import render_state


def render_one(repo_dir: Path, name: str) -> str:
    """The rendered output of the site called ``name`` (from the render cache when its inputs are
    unchanged, else kustomize under the tool's leash). InputError for an unknown site, RenderError
    when it does not render."""
    repo_dir = Path(repo_dir).resolve()
    check_selector(name, "site")
    config = load_config(repo_dir)
    sites = {s.name: s for s in discover_sites(repo_dir, config)}
    site = sites.get(name)
    if site is None:
        close = sorted(n for n in sites if n.endswith(f"/{name}") or name in n)[:3]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise InputError(f"site {name!r} does not exist{hint}; 'gitops-mlops sites' lists them")
    found = render_state(repo_dir, config, [site], outputs=True)[name]
    if found.error:
        raise RenderError(found.error)
    return found.output or ""
