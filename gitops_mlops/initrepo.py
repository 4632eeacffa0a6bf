"""``gitops-mlops init``: write the example layout into a new git repository and commit it."""

from __future__ import annotations

from pathlib import Path

from gitops_mlops.errors import GitError, InputError
from gitops_mlops.gitrepo import GitRepo
from gitops_mlops.scaffold import ScaffoldSpec, render_layout


def init_repository(directory: Path, spec: ScaffoldSpec, force: bool = False) -> tuple[Path, str, int]:
    """Write the layout, ``git init`` if needed, and commit. Returns (dir, commit sha, files written)."""
    layout = render_layout(spec)  # validates the spec before anything is written
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory}: exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise InputError(f"{directory}: not empty (use --force to write into it)")
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / ".git").exists():
        git = GitRepo(directory)
    else:
        git = GitRepo.init(directory, branch=spec.target_branch)
    root = git.root
    for relative, text in layout.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    models = ", ".join(name for name, _ in spec.models)
    message = f"init gitops-mlops repository: {models}; {len(spec.edge_sites)} edge sites\n"
    try:
        sha = git.commit(sorted(layout), message)
    except GitError as exc:
        if "nothing to commit" in str(exc) or "no changes added" in str(exc):
            return root, git.head() or "", len(layout)
        raise
    return root, sha, len(layout)
