"""Who commits: git's own identity, or none (the tool never invents one)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from gitops_mlops.core.errors import InputError

NO_IDENTITY = (
    "no git identity to commit as: set one with git config --global user.name 'NAME' and git config --global user.email EMAIL, or pass --author 'NAME <EMAIL>'"
)


def identity_env(cwd: Path) -> dict[str, str]:
    """Who commits, as git's environment: git's own identity (its variables, then its config at
    ``cwd``); the author stands in for a committer git does not know. InputError when there is none:
    the tool never invents an identity."""

    def config(key: str) -> str:
        proc = subprocess.run(["git", "config", "--get", key], cwd=cwd, capture_output=True, text=True, check=False)
        return proc.stdout.strip()

    name, email = config("user.name"), config("user.email") or os.environ.get("EMAIL", "")
    author = (os.environ.get("GIT_AUTHOR_NAME") or name, os.environ.get("GIT_AUTHOR_EMAIL") or email)
    if not all(author):
        raise InputError(NO_IDENTITY)
    committer = (os.environ.get("GIT_COMMITTER_NAME") or name or author[0], os.environ.get("GIT_COMMITTER_EMAIL") or email or author[1])
    return {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1], "GIT_COMMITTER_NAME": committer[0], "GIT_COMMITTER_EMAIL": committer[1]}
