"""``gitops-mlops init``: write the example layout into a new git repository and commit it, as one
change of the transaction (``change/transaction.py``): journaled, and put back if the commit fails."""

from __future__ import annotations

import contextlib
from pathlib import Path

from gitops_mlops.change.publish import journaled
from gitops_mlops.change.transaction import Change, transact
from gitops_mlops.config.scaffold import ScaffoldSpec, render_layout
from gitops_mlops.core.errors import GitError, InputError
from gitops_mlops.core.present import count
from gitops_mlops.gitstore.identity import identity_env
from gitops_mlops.gitstore.repo import GitRepo


def enclosing_repository(directory: Path) -> Path | None:
    """The git work tree ``directory`` would sit inside (not counting its own ``.git``), or None."""
    for parent in Path(directory).resolve().parents:
        if (parent / ".git").exists():
            return parent
    return None


def init_repository(directory: Path, spec: ScaffoldSpec, force: bool = False, remote_url: str | None = None) -> tuple[Path, str, tuple[str, ...]]:
    """Write the layout, ``git init`` if needed, commit, and add ``remote_url`` as origin.
    Returns (dir, commit sha, the files written, relative to dir). Every refusal comes before anything is written."""
    layout = render_layout(spec)  # validates the spec before anything is written
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory}: exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise InputError(f"{directory}: not empty (use --force to write into it)")
    outer = enclosing_repository(directory)
    if outer is not None and not (directory / ".git").exists() and not force:
        raise InputError(f"{directory}: inside the git repository {outer}; a second repository would nest in it (use --force, or a directory outside it)")
    existing = directory / ".git"
    if existing.exists() and remote_url is not None:
        origin = GitRepo(directory).remote_url("origin")
        if origin is not None and origin != remote_url:
            raise InputError(f"--repo-url {remote_url}: {directory} already has origin {origin}")
    nearest = next((p for p in (directory.resolve(), *directory.resolve().parents) if p.is_dir()), Path("/"))
    identity_env(nearest)  # no identity: refused here, before the directory is made
    directory.mkdir(parents=True, exist_ok=True)
    git = GitRepo(directory) if existing.exists() else GitRepo.init(directory, branch=spec.target_branch)
    models = ", ".join(name for name, *_ in spec.models)
    message = f"init gitops-mlops repository: {models}; {count(len(spec.edge_sites), 'edge site')}\n\nAction: init\n"
    try:
        sha = journaled(git, lambda: transact(git, _layout_change(git.root, layout, message)).commit, "init")
    except GitError as exc:
        if "nothing to commit" not in str(exc) and "no changes added" not in str(exc):
            raise
        sha = git.head() or ""
    if remote_url is not None and git.remote_url("origin") is None:
        git.run("remote", "add", "origin", remote_url)
    return git.root, sha, tuple(sorted(layout))


def _layout_change(root: Path, layout: dict[str, str], message: str) -> Change:
    """The layout as one change of the transaction: each file written (a folder made where needed), and
    on failure each put back as it was, or removed (with the folders made for it) where there was none."""
    saved = {relative: (root / relative).read_bytes() if (root / relative).is_file() else None for relative in layout}
    folders = {folder for relative in layout for folder in (root / relative).parents if root in folder.parents and not folder.exists()}

    def write() -> None:
        for relative, text in layout.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8"))

    def restore() -> None:
        for relative, data in saved.items():
            if data is None:
                (root / relative).unlink(missing_ok=True)
            else:
                (root / relative).write_bytes(data)
        for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):  # the folders it made, deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()

    return Change(
        journal=[(relative, saved[relative], text.encode("utf-8")) for relative, text in layout.items()],
        write=write,
        restore=restore,
        paths=sorted(layout),
        message=lambda: message,
    )
