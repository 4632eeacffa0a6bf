"""The one transaction every write command goes through.

A command supplies only its plan: what it is about to change (for the journal), how to write
it, how to put it back, a verify hook, the commit message and what follows the commit. The
transaction does the rest, the same way for every command:

    guard (no git operation in progress, an identity to commit as, an interrupted earlier run
    undone, a clean tree under the paths to change) -> journal -> write -> verify -> commit
    with trailers -> on any failure (a BaseException: an interrupt too) put back -> publish
    (push with retries from intent, or a new branch) or propose (a pull request).

A dry run takes the same steps up to the commit, then puts every file back and leaves the
git remote alone: it exits as the real run would. Nothing to change is a normal result: the
command returns its change set without calling ``transact`` (or hands it a change of no path).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from gitops_mlops.change.intents import Publish
from gitops_mlops.change.propose import Proposable, ask_forge, propose
from gitops_mlops.change.publish import Published, journaled, publish
from gitops_mlops.change.write import FileEdit, restore, write_all
from gitops_mlops.config.load import Config
from gitops_mlops.core.errors import GitError
from gitops_mlops.gitstore import journal as recovery
from gitops_mlops.gitstore.repo import GitRepo

R = TypeVar("R", bound=Published)
P = TypeVar("P", bound=Proposable)
Edit = tuple[str, str | bytes | None, str | bytes | None]  # (path, before, after); None: no file there


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Change:
    """One commit's worth of change, as a command plans it; the transaction runs it."""

    journal: list[Edit]  # what is about to be written over HEAD, for a killed run's recovery
    write: Callable[[], None]  # writes the change into the checkout
    restore: Callable[[], None]  # puts the checkout back as it was before ``write`` (after a partial write too)
    paths: list[str]  # what the commit takes
    message: Callable[[], str]  # the commit message with its trailers, asked for just before the commit
    verify: Callable[[], None] = _nothing  # after the write, before the commit: raise to refuse the change
    after: Callable[[str], tuple] = field(default=lambda sha: ())  # after the commit (the hydrated branch): what is pushed with it


@dataclass(frozen=True)
class Outcome:
    """What ``transact`` did: the commit it made (None for a dry run) and what goes with it."""

    commit: str | None
    also: tuple = ()  # (sha, branch) pushed with the commit, atomically


def file_change(repo_dir, edits: list[FileEdit], message: Callable[[], str], written: list[FileEdit] | None = None, **hooks) -> Change:
    """A change of whole text files, written atomically and put back byte for byte; ``written`` (when
    given) collects what landed, for a verify hook that writes more."""
    landed: list[FileEdit] = [] if written is None else written
    return Change(
        journal=[(e.file, e.before, e.after) for e in edits],
        write=lambda: write_all(repo_dir, edits, landed),
        restore=lambda: restore(repo_dir, landed),
        paths=[e.file for e in edits],
        message=message,
        **hooks,
    )


def guard(git: GitRepo, paths: list[str] | None = None) -> str:
    """Before anything is written: no git operation in progress, an identity to commit as (a dry run
    exits as the real run would: none is exit 2 for both), an interrupted earlier run undone, and
    (with ``paths``) nothing uncommitted under them. Returns what was undone ('' when nothing)."""
    git.refuse_in_progress()
    git.check_identity()
    recovered = recovery.recover(git)
    if paths is not None:
        refuse_dirty(git, paths)
    return recovered


def refuse_dirty(git: GitRepo, paths: list[str]) -> None:
    dirty = git.dirty(paths)
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise GitError(f"uncommitted changes under the paths to change: {shown}; commit or stash them first")


def transact(git: GitRepo, change: Change, dry_run: bool = False, kept: list[Callable[[], None]] | None = None) -> Outcome:
    """Journal, write, verify, commit; on any failure put everything back (the commit too) and raise.
    A dry run stops after the verify hook and puts the files back (with ``kept``, leaves them for the
    next change to build on and adds their restore to ``kept``, for the caller to run, last first).
    What cannot be put back (a full disk) is left, with the journal, to the next run. A change of no
    path is nothing to do: no journal, no commit, a normal result."""
    if not change.paths:
        return Outcome(None)
    note = recovery.begin(git, change.journal)
    parent, sha = git.head(), None
    try:
        change.write()
        change.verify()
        if dry_run:
            change.restore() if kept is None else kept.append(change.restore)
            return Outcome(None)
        sha = git.commit(change.paths, change.message())
        recovery.committed(git, note, sha)
        also = change.after(sha)
    except BaseException as exc:
        committed = sha is not None and parent and git.head() == sha
        recovery.undo(exc, *([lambda: git.reset_keep(parent)] if committed else []), change.restore)
        raise
    return Outcome(sha, also)


@contextmanager
def all_or_nothing(git: GitRepo, kept: list[Callable[[], None]]) -> Iterator[str | None]:
    """Several changes, one commit each, as one: on any failure the branch returns to the HEAD it
    started from and every file kept by a dry run is put back, the last first. Yields that HEAD."""
    base = git.head()
    try:
        yield base
    except BaseException as exc:
        steps = [lambda: git.reset_keep(base)] if base and git.head() != base else []
        recovery.undo(exc, *steps, *reversed(kept))
        raise


def run_change(
    git: GitRepo,
    options: Publish,
    config: Config,
    apply: Callable[[bool], R],
    command: str,
    text: Callable[[P, str, str], tuple[str, str]] | None = None,
) -> R:
    """Run ``apply(dry_run)`` under the journal. A dry run applies on the checkout and never talks to
    the git remote (with ``--open-pr`` it asks the forge, as the real run does first). A real run
    publishes: commit, push with retries (``apply`` again on the remote's new tip), or a new branch;
    with ``text`` (the pull request's title and body) it proposes."""
    if options.dry_run:
        if options.open_pr:
            ask_forge(git, options, config)
        return journaled(git, lambda: apply(True), command)

    def published(opts: Publish) -> R:
        return journaled(git, lambda: publish(git, opts, config, lambda: apply(False)), command)

    if text is None:
        return published(options)
    return propose(git, options, config, published, text)


def unified_diff(files: list[FileEdit]) -> str:
    out = []
    for edit in files:
        out.extend(
            difflib.unified_diff(
                edit.before.splitlines(keepends=True), edit.after.splitlines(keepends=True), fromfile=f"a/{edit.file}", tofile=f"b/{edit.file}"
            )
        )
    return "".join(out)
