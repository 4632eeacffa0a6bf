"""A note, in the git directory, of what a promotion in progress is changing.

Written before the first overlay is touched and updated once the commit exists,
it lets the next run undo a run that was killed half-way (kill -9, a lost CI
runner, a full disk) instead of refusing its leftovers: overlays that hold
either their old or their new bytes are put back as HEAD has them, an unpushed
commit of the dead run is dropped, its temp files are removed. A file that
holds anything else was edited since, and is left for a person to sort out.

The journal goes only once the checkout is back where it was: when putting it back
fails as well (on a full disk the restore needs room too), ``undo`` notes it on the
error and the journal stays, so the next run undoes it as after a kill -9.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gitops_mlops.core.errors import GitError, GitOpsError
from gitops_mlops.gitstore.repo import GitRepo

FILE = "gitops-mlops-journal.json"


@dataclass(frozen=True)
class Journal:
    owner: str  # "pid:start time" of the process that wrote it
    head: str | None  # HEAD before the run's commit
    files: tuple[tuple[str, str | None, str | None], ...]  # path, sha256 of the bytes before, sha256 after (None: no file)
    commit: str | None = None


def begin(git: GitRepo, edits: list[tuple[str, str | bytes | None, str | bytes | None]]) -> Journal:
    """Record that ``edits`` ((path, before, after) texts or bytes; None where there is no file: one the
    run adds, or removes) are about to be written over HEAD.

    A run that commits several times (``update``) or retries after a rejected push adds to its
    own journal, so every version of a file it wrote counts as its own. Building on its own last
    commit, the HEAD it started from stays; after a reset to a new remote tip, that tip is it."""
    files = tuple((path, _sha(before), _sha(after)) for path, before, after in edits)
    previous, head = _load(git.git_dir / FILE), git.head()
    if previous is not None and previous.owner == _me():
        on_its_own = previous.commit is not None and previous.commit == head
        journal = Journal(previous.owner, previous.head if on_its_own else head, previous.files + files, previous.commit if on_its_own else None)
    else:
        journal = Journal(_me(), head, files)
    _write(git, journal)
    return journal


def committed(git: GitRepo, journal: Journal, sha: str) -> None:
    _write(git, Journal(journal.owner, journal.head, journal.files, sha))


def clear(git: GitRepo) -> None:
    (git.git_dir / FILE).unlink(missing_ok=True)


_UNDONE = "gitops_mlops_not_undone"  # the attribute ``undo`` sets on an error it could not undo


def undo(error: BaseException, *steps: Callable[[], object]) -> None:
    """Put the checkout back after ``error`` by ``steps``, each tried even when one before failed.
    A step that fails is noted on ``error`` (the first such cause), which the caller then raises."""
    for step in steps:
        try:
            step()
        except (GitOpsError, OSError) as failed:
            if not not_undone(error):
                setattr(error, _UNDONE, str(failed) if isinstance(failed, GitOpsError) else (failed.strerror or str(failed)))


def not_undone(error: BaseException) -> str:
    """Why ``error``'s run could not be undone ('' when it was, or nothing needed undoing)."""
    return getattr(error, _UNDONE, "")


def finish(git: GitRepo, error: BaseException, command: str) -> None:
    """End a failed run: its journal goes, unless ``error`` left the checkout changed. Then a GitOpsError
    is raised again (its exit code kept) saying in its one line that the journal stays and which command
    undoes the run (any that writes does); any other error is left for the caller to raise."""
    cause, journal = not_undone(error), git.git_dir / FILE
    if not cause:
        clear(git)
    elif isinstance(error, GitOpsError):
        then = (
            f"{journal} stays, and once that is fixed the next 'gitops-mlops {command}' (or any command that writes) undoes this run first, as after a kill -9"
            if journal.exists()
            else "check the checkout with git status"
        )
        raise type(error)(f"{error}; putting the checkout back failed too ({cause}): {then}") from None


def recover(git: GitRepo) -> str:
    """Undo what a killed run left; return what was done ('' when there was nothing to do)."""
    path = git.git_dir / FILE
    journal = _load(path)
    if journal is None:
        return ""
    if _alive(journal.owner):
        raise GitError(f"another gitops-mlops run (pid {journal.owner.split(':')[0]}) is changing this checkout; wait for it")
    paths = sorted({f[0] for f in journal.files})
    known: dict[str, set[str | None]] = {p: {None} for p in paths}  # None: the file is gone
    for p, before, after in journal.files:
        known[p] |= {before, after}
    foreign = [p for p in paths if _sha_of(git.root / p) not in known[p]]
    if foreign:
        raise GitError(
            f"an interrupted gitops-mlops run left {foreign[0]} changed and it was edited since; "
            f"restore it (git checkout HEAD -- {foreign[0]}) or commit it, then delete {path}"
        )
    head = git.head()
    done = []
    commit = journal.commit or _commit_of_the_run(git, journal, head)
    if commit and head == commit and journal.head:
        git.move_head(journal.head, commit)  # the dead run's commit: dropped, the next run makes it again
        done.append(f"dropped its commit {commit[:12]}")
    elif head != journal.head:  # HEAD moved on since: only clean files are ours to forget
        if git.dirty(paths):
            raise GitError(
                f"an interrupted gitops-mlops run left changes under {', '.join(paths[:3])} and HEAD has moved since; sort them out, then delete {path}"
            )
        _forget(git, journal)
        return ""
    if git.dirty(paths):
        _put_back(git, paths)
        done.append(f"restored {len(paths)} file(s)")
    _forget(git, journal)
    return f"undid an interrupted run (pid {journal.owner.split(':')[0]}): " + (", ".join(done) or "nothing had changed")


def _put_back(git: GitRepo, paths: list[str]) -> None:
    """``paths`` as HEAD has them: those HEAD lacks (a site the run was adding) go, with the folders they leave empty."""
    tracked = set(git.paths_at("HEAD", paths)) if git.head() else set()
    if tracked:
        git.restore_paths(sorted(tracked))
    added = sorted(set(paths) - tracked)
    if added:  # the dead run may have staged them
        git.run("rm", "--cached", "--quiet", "--ignore-unmatch", "--", *added)
    for relative in added:
        target = git.root / relative
        if target.is_symlink() or target.is_file():
            target.unlink()
        for folder in target.parents:
            if folder == git.root or not folder.is_dir() or any(folder.iterdir()):
                break
            folder.rmdir()


def _forget(git: GitRepo, journal: Journal) -> None:
    """Remove the dead run's temp files (write_atomic names them after its pid), then the journal."""
    pid = journal.owner.split(":")[0]
    for relative in {f[0] for f in journal.files}:
        target = git.root / relative
        for leftover in target.parent.glob(f".{target.name}.{pid}.*.tmp"):
            leftover.unlink(missing_ok=True)
    clear(git)


def _commit_of_the_run(git: GitRepo, journal: Journal, head: str | None) -> str | None:
    """HEAD, when it is the commit a one-commit run was making as it died or failed (before the journal
    heard of it): the child of the run's HEAD that changes exactly its files, to exactly their new bytes.
    The work tree may hold either bytes (a failed run may have put some back)."""
    if journal.commit or not head or not journal.head or head == journal.head or git.run("rev-parse", f"{head}^@").split() != [journal.head]:
        return None
    if set(git.changed_paths(journal.head, head)) != {f[0] for f in journal.files}:
        return None
    committed = git.show_files(head, sorted({f[0] for f in journal.files}))
    return head if all((_sha(committed[p]) if p in committed else None) == after for p, _, after in journal.files) else None


def _load(path: Path) -> Journal | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Journal(data["owner"], data["head"], tuple(tuple(f) for f in data["files"]), data.get("commit"))
    except FileNotFoundError:
        return None
    except (ValueError, RecursionError, KeyError, TypeError):
        raise GitError(f"{path}: unreadable; if no gitops-mlops run is going on in this checkout, delete it") from None


def _write(git: GitRepo, journal: Journal) -> None:
    path = git.git_dir / FILE
    tmp = path.with_name(f"{FILE}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({"owner": journal.owner, "head": journal.head, "files": journal.files, "commit": journal.commit}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise GitError(f"cannot write the journal {path}: {exc.strerror or exc}") from None


def _sha(data: str | bytes | None) -> str | None:
    if data is None:
        return None
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def _sha_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _start_time(pid: int) -> str:
    """The process's start time (clock ticks since boot) where /proc has it: a reused pid is not the
    writer. A zombie (killed, not yet reaped) counts as gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return ""
    return "zombie" if fields[0] == "Z" else fields[19]


def _me() -> str:
    return f"{os.getpid()}:{_start_time(os.getpid())}"


def _alive(owner: str) -> bool:
    pid_text, _, started = owner.partition(":")
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # this process: a journal left by an earlier call that raised without clearing
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _start_time(pid) == started
