"""A full disk at each phase of a promotion: the clone lives on a small tmpfs filled to leave N pages free.

For N = 0, 1, 2... the promotion fails in a later phase each time (the journal, the
overlay's temp file, the commit's objects, putting the overlay back, the branch's ref,
the index) until it has room to land. After every failure: exit 5 and one line, the
remote unchanged, ``git fsck --strict`` clean, and either the checkout is as it was
(work tree equal to HEAD, HEAD where it was, no journal) or the journal stays, the line
says which command undoes it, and that command, once there is room, undoes it and lands
the promotion exactly once. Never a changed overlay without a journal.

Mounting needs root (or a user namespace that allows it): elsewhere the tests skip with
one line, and fail under ``CI=true``. tmpfs counts whole pages, and a rename never needs
one there, so a rename is the one phase no size here makes fail.
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from testing.cli import cli
from testing.paths import DIGEST_B
from testing.repos import GitOpsRepo, git, make_gitops_repo, tree_snapshot

pytestmark = pytest.mark.slow  # dozens of promotions on a mounted file system: outside the inner loop

IMAGE = f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}"
TARGET = "overlays/datacenter/kustomization.yaml"
JOURNAL = "gitops-mlops-journal.json"
DISK = "1024k"  # the example clone takes about 370 kB of it
PHASES = {  # what the one line says -> the phase it failed in
    "cannot write the journal": "journal",
    f"cannot write {TARGET}": "temp file",
    "git commit": "commit objects",
    "cannot put back": "restore",
    "git update-ref": "branch ref",
    "git update-index": "index",
    "git reset": "reset to the remote tip",
}


@pytest.fixture
def small_disk(tmp_path):
    where = tmp_path / "disk"
    where.mkdir()
    mount = shutil.which("mount")
    proc = subprocess.run([mount, "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(where)], capture_output=True, text=True) if mount else None
    if proc is None or proc.returncode != 0:
        reason = f"cannot mount a tmpfs: {proc.stderr.strip() if proc else 'no mount command'}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    yield where
    gc.collect()  # GitPython's cat-file processes, started in the clone, go with their repository objects
    if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "--lazy", str(where)], check=True)  # a git maintenance child may still be leaving


def free_pages(where: Path) -> int:
    stats = os.statvfs(where)
    return stats.f_bavail * stats.f_frsize // os.sysconf("SC_PAGE_SIZE")


def fill(where: Path, pages: int) -> Path:
    """A file taking all but ``pages`` pages of the file system."""
    filler, page = where / "filler", os.sysconf("SC_PAGE_SIZE")
    with open(filler, "wb") as handle:
        handle.write(b"\0" * (free_pages(where) - pages) * page)
    assert free_pages(where) == pages
    return filler


def fsck_clean(path: Path) -> None:
    proc = subprocess.run(["git", "fsck", "--strict", "--no-progress"], cwd=path, capture_output=True, text=True)
    assert proc.returncode == 0 and not any(w in proc.stdout + proc.stderr for w in ("error", "missing", "broken", "corrupt")), proc.stdout + proc.stderr


def status(repo: GitOpsRepo) -> str:
    """git status that writes nothing (the disk may still be full)."""
    proc = subprocess.run(["git", "status", "--porcelain"], cwd=repo.work, capture_output=True, text=True, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def copy_onto(pristine: GitOpsRepo, disk: Path, base: Path) -> GitOpsRepo:
    remote, work = base / "remote.git", disk / "work"
    shutil.copytree(pristine.remote, remote, symlinks=True)
    shutil.copytree(pristine.work, work, symlinks=True)
    git(work, "remote", "set-url", "origin", str(remote))
    return GitOpsRepo(work=work, remote=remote)


def phase_of(line: str) -> str:
    return next((phase for needle, phase in PHASES.items() if line.startswith(f"error: {needle}")), line) + (" + restore" if "cannot put back" in line else "")


def promote_on_a_full_disk(repo: GitOpsRepo, disk: Path, pages: int, args: tuple[str, ...]) -> str:
    """Promote with ``pages`` free; check what the failure left; free the disk and promote again. The phase it failed in ('' if it landed)."""
    head, remote_before, overlay = repo.head(), tree_snapshot(repo.remote), repo.read(TARGET)
    filler = fill(disk, pages)
    result = cli(*args, cwd=repo.work)
    journal = (repo.work / ".git" / JOURNAL).exists()
    if result.code == 0:
        filler.unlink()
        assert not journal and status(repo) == "" and repo.head() != head, result.err
        fsck_clean(repo.work)
        return ""
    lines = result.err.strip().splitlines()
    assert result.code == 5 and len(lines) == 1 and lines[0].startswith("error: "), (pages, result.err)
    assert tree_snapshot(repo.remote) == remote_before
    assert not list((repo.work / ".git").glob(f"{JOURNAL}.*"))  # no temp file of the journal
    fsck_clean(repo.work)
    fsck_clean(repo.remote)
    if journal:  # left for the next run, which the line names
        assert "stays, and once that is fixed the next 'gitops-mlops promote'" in lines[0], lines[0]
    else:  # put back: nothing changed
        assert repo.head() == head and status(repo) == "" and repo.read(TARGET) == overlay, (pages, lines[0], status(repo))
    filler.unlink()
    again = cli(*args, cwd=repo.work)
    assert again.code == 0, again.err
    assert ("note: undid an interrupted run" in again.err) == journal, again.err
    assert not (repo.work / ".git" / JOURNAL).exists() and status(repo) == ""
    landed = git(repo.remote if "--push" in args else repo.work, "log", "--format=%H", f"--grep=@{DIGEST_B}", "main").split()
    assert len(landed) == 1
    fsck_clean(repo.work)
    return phase_of(lines[0])


@pytest.mark.parametrize("push", [False, True], ids=["local", "pushed"])
def test_a_full_disk_at_each_phase_leaves_the_checkout_as_it_was_or_its_journal(push, small_disk, tmp_path):
    pristine = make_gitops_repo(tmp_path / "pristine")
    args = ("promote", "fraud-detector", IMAGE, "--to", "datacenter", *(("--push",) if push else ()))
    phases = {}
    for pages in range(40):
        repo = copy_onto(pristine, small_disk, tmp_path / f"free-{pages}")
        phase = promote_on_a_full_disk(repo, small_disk, pages, args)
        shutil.rmtree(repo.work)
        if not phase:
            break
        phases.setdefault(phase, pages)
    else:
        raise AssertionError(f"still failing with 40 pages free: {phases}")
    assert pages > 3, phases  # it needed room: the failures above were real
    wanted = {"reset to the remote tip", "journal", "temp file", "commit objects + restore"} if push else {"journal", "temp file", "commit objects + restore"}
    assert wanted <= set(phases), phases  # the sizes reached every phase that can fail
