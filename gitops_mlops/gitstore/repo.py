"""The repository as the rest of the package sees it: ``GitRepo``, one checkout with every role.

gitstore/ is the only code that imports GitPython. ``GitRepo`` brings together, by role:
``runner`` (open a checkout, run git, errors), ``worktree`` (the files, the index, what git is
in the middle of), ``commits`` (writing commits), ``refs`` (branches, fetch, push) and
``history`` (reading commits and files). Every git failure becomes a GitError (exit 5) whose
text names the command and git's own reason, with credentials in URLs redacted. A push refused
because the remote moved raises PushRejected, the one retryable case.
"""

from __future__ import annotations

from gitops_mlops.gitstore.commits import Commits
from gitops_mlops.gitstore.history import History, Trailered
from gitops_mlops.gitstore.refs import Refs
from gitops_mlops.gitstore.runner import git_version, quote_path, redact
from gitops_mlops.gitstore.worktree import WorkTree

__all__ = ["GitRepo", "Trailered", "git_version", "redact"]

_quote_path = quote_path  # the name this module's callers knew it by


class GitRepo(WorkTree, Commits, Refs, History):
    """One git checkout: its work tree and index, commits, branches and remotes, history."""
