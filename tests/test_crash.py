"""Crash consistency: ``kill -9`` at each phase of a promotion, then run it again.

The promotion is killed from inside, by what it runs at that phase: kustomize
(files written, rendering), a pre-commit hook (paths staged, index locked), a
post-commit hook (committed by git commit), a reference-transaction hook (HEAD
moved by the fast commit path, index not yet updated), a pre-push hook (pushing,
nothing sent), the remote's post-receive hook (pushed, answer never read); and
from outside, at a random moment while many files are being written. Afterwards
no overlay is ever half-written (each is the old or the new bytes), the next run
undoes what the dead one left (from its journal) and succeeds, the only thing a
person must clear being a stale index.lock, which the run names with what to do;
the promotion lands exactly once, and ``git fsck --strict`` is clean on the
clone and the remote.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitops_mlops.render.kustomize import Kustomize
from testing.cli import cli_subprocess as cli  # the tool is killed mid-run: it must be a process of its own
from testing.repos import GitOpsRepo, git, make_gitops_repo

pytestmark = pytest.mark.slow  # minutes of real processes: outside the inner loop (-m 'not slow')

REPO = "quay.io/example/fraud-detector"

# Kill -9 the gitops-mlops process above this one; with KILL_PARENT=1 also the git process that ran it.
KILLER = """#!/bin/sh
p=$PPID
while [ "$p" -gt 1 ]; do
  if tr '\\0' ' ' < /proc/$p/cmdline | grep -q -- '-m gitops_mlops '; then
    [ "$KILL_PARENT" = 1 ] && kill -9 "$PPID"
    kill -9 "$p"
    exit 0
  fi
  p=$(cut -d' ' -f4 /proc/$p/stat)
done
exit 1
"""

# As kustomize: kill once the run has written its files (its journal exists); before that (renders of
# the state before the promotion, which the render cache may or may not hold) be the real kustomize.
RENDER_KILLER = KILLER.replace("p=$PPID", '[ -f "$GIT_DIR_OF_RUN/gitops-mlops-journal.json" ] || exec $REAL_KUSTOMIZE "$@"\np=$PPID', 1)

# Kill only when HEAD's branch has moved (state "committed"), not for the fast path's temporary ref.
REF_KILLER = KILLER.replace("p=$PPID", '[ "$1" = committed ] && grep -q " refs/heads/main$" || exit 0\np=$PPID', 1)

PHASES = {
    # phase: (where the killer goes, environment for the run)
    # files written, rendering: with no render cache, so the written files are rendered by kustomize
    "written": ("kustomize", {"GITOPS_MLOPS_RENDER_CACHE": "off"}),
    "staged": (".git/hooks/pre-commit", {"KILL_PARENT": "1"}),
    # with other work staged, git commits our paths through a second index and holds index.lock meanwhile;
    # the run is local (no --push), since --push resets the index to the remote tip first
    "staged, index locked": (".git/hooks/pre-commit", {"KILL_PARENT": "1"}),
    "committed": (".git/hooks/post-commit", {"KILL_PARENT": "1"}),
    # the fast commit path (no commit hooks): HEAD moved, the index not yet; local, so no reset moves HEAD first
    "committed, index behind": (".git/hooks/reference-transaction", {"KILL_PARENT": "1"}),
    "pushing": (".git/hooks/pre-push", {"KILL_PARENT": "1"}),
    "pushed": ("remote:hooks/post-receive", {}),
}
LOCAL = {"staged, index locked", "committed, index behind"}


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _overlays(repo: GitOpsRepo) -> dict[str, bytes]:
    return {p.relative_to(repo.work).as_posix(): p.read_bytes() for p in (repo.work / "overlays").rglob("kustomization.yaml")}


def _fsck_clean(path: Path) -> None:
    proc = subprocess.run(["git", "fsck", "--strict", "--no-progress"], cwd=path, capture_output=True, text=True)
    assert proc.returncode == 0 and not any(w in proc.stdout + proc.stderr for w in ("error", "missing", "broken", "corrupt")), proc.stdout + proc.stderr


def _landed(repo: GitOpsRepo, digest: str) -> int:
    return len(git(repo.remote, "log", "--format=%H", f"--grep=@{digest}", "main").split())


def recover(repo: GitOpsRepo, args: tuple[str, ...]) -> tuple[list[str], str]:
    """Run the promotion again until it succeeds; the one refusal allowed is a stale index.lock,
    deleted as its message says. Returns the refusals and the successful run's stderr."""
    said = []
    for _ in range(2):
        result = cli(*args, cwd=repo.work)
        if result.code == 0:
            return said, result.err
        lines = result.err.strip().splitlines()
        assert result.code == 5 and len(lines) == 1, result.err
        assert "index.lock exists" in lines[0] and "delete the file" in lines[0], lines[0]
        said.append(lines[0])
        (repo.work / ".git" / "index.lock").unlink()
    raise AssertionError(f"still failing after: {said}")


def _install_killer(repo: GitOpsRepo, where: str) -> tuple[Path, dict]:
    path = (
        repo.remote / where.split(":", 1)[1]
        if where.startswith("remote:")
        else repo.work.parent / "crash-kustomize"
        if where == "kustomize"
        else repo.work / where
    )
    path.write_text(REF_KILLER if where.endswith("reference-transaction") else RENDER_KILLER if where == "kustomize" else KILLER)
    path.chmod(0o755)
    return path, {
        "GITOPS_MLOPS_KUSTOMIZE": str(path),
        "GIT_DIR_OF_RUN": str(repo.work / ".git"),
        "REAL_KUSTOMIZE": " ".join(Kustomize.find().command),
    } if where == "kustomize" else {}


def test_kill_at_each_phase_then_the_next_run_succeeds(tmp_path, capsys):
    repo = make_gitops_repo(tmp_path)
    target = "overlays/datacenter/kustomization.yaml"
    tried, said = 0, {}
    for round_ in range(2):
        for n, (phase, (where, env)) in enumerate(PHASES.items()):
            version = f"1.{round_ * len(PHASES) + n + 1}.0"
            digest = _digest(f"{phase}-{round_}")
            local = phase in LOCAL
            args = ("promote", "fraud-detector", f"{REPO}:{version}@{digest}", "--to", "datacenter", *(() if local else ("--push",)))
            old = repo.read(target).encode()
            killer, extra = _install_killer(repo, where)
            if phase == "staged, index locked":
                (repo.work / "NOTES.md").write_text("work in progress\n")
                repo.git("add", "NOTES.md")
            crashed = cli(*args, cwd=repo.work, env={**env, **extra})
            killer.unlink()
            assert crashed.code == -signal.SIGKILL, (phase, crashed.err)
            tried += 1
            half = (repo.work / target).read_bytes()
            locked = (repo.work / ".git" / "index.lock").exists()
            steps, err = recover(repo, args)
            assert locked == (phase == "staged, index locked") == bool(steps), steps
            assert "note: undid an interrupted run" in err, (phase, err)
            said.setdefault(phase, []).extend(["index.lock exists"] * len(steps) + [err.split("note: ", 1)[1].splitlines()[0]])
            if phase == "staged, index locked":  # the other staged work is still staged, and not in the commit
                assert repo.git("status", "--porcelain") == "A  NOTES.md\n"
                assert "NOTES.md" not in repo.git("show", "--name-only", "--format=", "HEAD")
                repo.git("rm", "-q", "--cached", "NOTES.md")
                (repo.work / "NOTES.md").unlink()
            if local:
                repo.git("push", "--quiet", "origin", "HEAD:main")
            new = repo.read(target).encode()
            assert half in (old, new) and old != new, phase  # never half-written
            assert _landed(repo, digest) == 1, phase  # exactly once on the remote
            assert repo.git("status", "--porcelain") == ""
            _fsck_clean(repo.work)
            _fsck_clean(repo.remote)
    with capsys.disabled():
        print(f"\ncrash: {tried} kills at {len(PHASES)} phases, {tried} recovered; what the next runs said: {said}")


def test_kill_while_writing_many_files_leaves_each_old_or_new(tmp_path, capsys):
    sites = tuple(f"site-{n:03d}" for n in range(100))
    repo = make_gitops_repo(tmp_path, edge_sites=sites)
    first = repo.work / "overlays/edge" / sites[0]
    mixed, killed = 0, 0
    for attempt in range(3):
        digest = _digest(f"many-{attempt}")
        args = ("promote", "fraud-detector", f"{REPO}:1.{attempt + 1}.0@{digest}", "--to", "edge", "--force-order", "--push")
        old = _overlays(repo)
        mtime = first.stat().st_mtime_ns
        proc = subprocess.Popen([sys.executable, "-m", "gitops_mlops", *args], cwd=repo.work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while first.stat().st_mtime_ns == mtime and proc.poll() is None and time.monotonic() < deadline:
            pass  # the write phase begins when the first overlay's directory changes
        time.sleep(random.uniform(0, 0.01))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        killed += proc.returncode == -signal.SIGKILL
        half = _overlays(repo)
        assert recover(repo, args)[0] == []  # no refusal: the journal says what to undo
        new = _overlays(repo)
        assert all(half[path] in (old[path], new[path]) for path in old)  # every file: old bytes or new bytes
        states = {half[path] == new[path] for path in old if old[path] != new[path]}
        mixed += states == {True, False}
        assert _landed(repo, digest) == 1
        _fsck_clean(repo.work)
    with capsys.disabled():
        print(f"\ncrash while writing {len(sites)} files: {killed} of 3 runs killed, {mixed} mid-write (some files new, some old); all recovered")
    assert killed == 3


SITE_PHASES = {phase: PHASES[phase] for phase in ("written", "staged", "committed", "pushing")}


def test_kill_add_site_at_each_phase_then_the_next_run_undoes_it(tmp_path):
    """add-site keeps a journal as promote does: a kill -9 while its copy renders, is staged, is committed or
    is being pushed is undone by the next run (the copy and its folder removed, its commit dropped), which adds
    the site once. (Killed after the remote took the push, the site is there: the next run says it exists.)"""
    repo = make_gitops_repo(tmp_path)
    for n, (phase, (where, env)) in enumerate(SITE_PHASES.items()):
        name = f"paris-{n:02d}"
        args = ("add-site", f"edge/{name}", "--like", "edge/berlin-01", "--push")
        killer, extra = _install_killer(repo, where)
        crashed = cli(*args, cwd=repo.work, env={**env, **extra})
        killer.unlink()
        assert crashed.code == -signal.SIGKILL, (phase, crashed.err)
        assert (repo.work / ".git" / "gitops-mlops-journal.json").exists(), phase
        again = cli(*args, cwd=repo.work)
        assert again.code == 0, (phase, again.err)
        assert "note: undid an interrupted run" in again.err, (phase, again.err)
        assert git(repo.remote, "log", "--format=%s", "main").count(f"add site edge/{name} ") == 1, phase  # exactly once
        assert repo.head() == repo.remote_head() and repo.git("status", "--porcelain", "--untracked-files=all") == "", phase
        assert not (repo.work / ".git" / "gitops-mlops-journal.json").exists()
        _fsck_clean(repo.work)
