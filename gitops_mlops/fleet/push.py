"""``gitops-mlops push``: publish what the tool committed locally (a promotion made without
``--push``, or one whose push failed), replayed onto the remote's tip, with retries.

A dry run never talks to the git remote: it judges HEAD against the remote's branch as last
fetched (none fetched yet: a new remote, where the first push publishes HEAD as it is), refuses
what the real run refuses (a commit the tool did not make, a merge, no git identity) and shows
what would go; a replay that conflicts with commits the remote has since is the real run's alone."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from gitops_mlops.change.intents import Publish
from gitops_mlops.change.transaction import guard, run_change
from gitops_mlops.config.load import load_config
from gitops_mlops.core.errors import GitError
from gitops_mlops.gitstore.localcommits import own_local_commits
from gitops_mlops.gitstore.repo import GitRepo


@dataclass(frozen=True)
class Pushed:
    commits: tuple[str, ...] = ()  # what went to the remote, oldest first
    commit: str | None = None
    pushed: bool = False
    branch: str | None = None
    attempts: int = 0
    diff: str = ""  # a dry run's: what the commits would change on the remote's branch

    def as_json(self) -> dict:
        return {"commits": list(self.commits), "commit": self.commit, "pushed": self.pushed, "branch": self.branch if self.commit else None}


def push_local(repo_dir: Path, options: Publish = Publish()) -> Pushed:
    repo_dir = Path(repo_dir).resolve()
    options = replace(options, push=True, branch=None)
    config = load_config(repo_dir)
    options.check_for(config.hydrate.branch if config.hydrate else None)
    git = GitRepo(repo_dir)
    guard(git)  # replaying a commit writes a new one
    remote, target = options.remote or config.remote, options.target_branch or config.target_branch
    if options.dry_run:
        return _dry_run(git, remote, target)
    if git.has_remote(remote) and git.fetch_if_exists(remote, target) is None:  # a new remote: the first push publishes HEAD as it is
        head = git.head()
        commits = tuple(git.run("rev-list", "--reverse", head).split()) if head is not None else ()
        if head is not None:
            git.push(remote, head, target)
        return Pushed(commits=commits, commit=head, pushed=head is not None, branch=target, attempts=1)

    def apply(dry_run: bool) -> Pushed:  # runs after the tool's own local commits were replayed on the remote's tip
        new = tuple(git.run("rev-list", "--reverse", f"refs/remotes/{remote}/{target}..HEAD").split())
        return Pushed(commits=new, commit=new[-1] if new else None)

    return run_change(git, options, config, apply, "push")


def _dry_run(git: GitRepo, remote: str, target: str) -> Pushed:
    """What the real run would push, judged on the remote's branch as last fetched; nothing fetched or pushed."""
    if not git.has_remote(remote):
        raise GitError(f"no git remote named {remote!r} (see 'git remote -v')")
    head, tip = git.head(), git.try_resolve(f"refs/remotes/{remote}/{target}")
    if tip is None:  # never fetched, or a new remote: the first push publishes HEAD as it is
        commits = tuple(git.run("rev-list", "--reverse", head).split()) if head is not None else ()
        return Pushed(commits=commits, commit=head, branch=target)
    commits = tuple(own_local_commits(git, head, tip, f"{remote}/{target}"))
    diff = git.run("diff", f"{tip}...{head}") if commits else ""
    return Pushed(commits=commits, commit=commits[-1] if commits else None, branch=target, diff=diff)
