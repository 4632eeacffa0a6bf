"""Concurrent promoters: 8 processes push 48 promotions to one bare remote; no promotion is lost.

Each process works in its own clone and runs its 6 promotions one after another
(the real command line, ``--push``); all 8 start together. Most promotions go to
the process's own edge site, a third to one of two sites every process shares.
The remote's history must then be linear and tell the whole story: every
successful run's commit is on it with its trailers, and each site's final pin is
the digest of the last landed commit that touched it.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time

import pytest

from testing.cli import cli
from testing.repos import git, make_gitops_repo

pytestmark = pytest.mark.slow  # minutes of real processes: outside the inner loop (-m 'not slow')

PROCESSES = 8
PER_PROCESS = 6
SHARED = ("edge/hot-1", "edge/hot-2")
REPO = "quay.io/example/fraud-detector"


def _digest(process: int, step: int) -> str:
    return "sha256:" + hashlib.sha256(f"{process}-{step}".encode()).hexdigest()


def _promotions(process: int) -> list[tuple[str, str, str]]:
    """(site, version, digest) in order; steps 1 and 4 go to a shared site with the same version."""
    out = []
    for step in range(PER_PROCESS):
        if step in (1, 4):
            out.append((SHARED[(process + step) % 2], "2.0.0", _digest(process, step)))
        else:
            out.append((f"edge/p{process}", f"1.{step + 1}.0", _digest(process, step)))
    return out


def _trailers(remote, sha: str) -> dict[str, str]:
    out = git(remote, "log", "-1", "--format=%(trailers:only,unfold)", sha)
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def test_eight_racing_promoters_lose_nothing(tmp_path, capsys):
    seed = make_gitops_repo(tmp_path, edge_sites=tuple(f"p{n}" for n in range(PROCESSES)) + ("hot-1", "hot-2"))
    clones = [seed.clone(f"promoter-{n}") for n in range(PROCESSES)]
    runs, elapsed = _race(clones)
    landed, attempts = _check_runs(runs)
    _check_remote_history(seed.remote, landed)

    lost = sum(1 for run in runs if run["code"] == 0) - len(landed)
    with capsys.disabled():
        print(
            f"\nconcurrency: {len(runs)} promotions attempted, {len(landed)} landed, {lost} lost, "
            f"{len(runs) - len(landed)} gave up; {sum(attempts) + len(runs) - len(attempts)} push attempts, "
            f"at most {max(attempts, default=1)} for one promotion; {elapsed:.1f}s"
        )
    assert lost == 0
    assert elapsed < 180


def _race(clones) -> tuple[list[dict], float]:
    """Every process's promotions, all processes started together: each run's outcome, and the seconds taken."""
    start = threading.Barrier(PROCESSES)
    runs: list[dict] = []
    lock = threading.Lock()

    def promoter(process: int) -> None:
        start.wait()
        for site, version, digest in _promotions(process):
            image = f"{REPO}:{version}@{digest}"
            result = cli("promote", "fraud-detector", image, "--to", site, "--force-order", "--push", "-o", "json", cwd=clones[process].work)
            with lock:
                runs.append({"process": process, "site": site, "digest": digest, "code": result.code, "out": result.out, "err": result.err})

    began = time.monotonic()
    threads = [threading.Thread(target=promoter, args=(n,)) for n in range(PROCESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    elapsed = time.monotonic() - began
    assert not any(thread.is_alive() for thread in threads), "a promoter hung"
    assert len(runs) == PROCESSES * PER_PROCESS
    return runs, elapsed


def _check_runs(runs: list[dict]) -> tuple[dict[str, str], list[int]]:
    """Promotions to different sites all land; a loser on a shared site re-applies, or says why it gave up.
    The commit of each landed digest, and the push attempts runs reported."""
    for run in runs:
        if run["site"] in SHARED and run["code"] == 5:
            assert "still rejected" in run["err"] and len(run["err"].strip().splitlines()) == 1
        else:
            assert run["code"] == 0, run["err"]
    landed = {run["digest"]: json.loads(run["out"])["commit"] for run in runs if run["code"] == 0}
    attempts = [int(m.group(1)) for run in runs for m in [re.search(r"after (\d+) attempts", run["err"])] if m]
    return landed, attempts


def _check_remote_history(remote, landed: dict[str, str]) -> None:
    """The remote: linear history, one commit per landed promotion, nothing else; replayed, each commit
    is exactly one site's pin and the last one touching a site wins."""
    history = git(remote, "rev-list", "--reverse", "--parents", "main").split("\n")
    commits = [line.split() for line in history if line]
    assert all(len(c) == 2 for c in commits[1:]), "a merge commit on the remote"
    assert len(commits) - 1 == len(landed)
    assert set(landed.values()) == {sha for sha, _parent in commits[1:]}

    expected: dict[str, str] = {}
    for sha, _parent in commits[1:]:
        trailers = _trailers(remote, sha)
        digest = trailers["Image"].rsplit("@", 1)[1]
        assert landed.get(digest) == sha  # the commit the run reported, with the digest it asked for
        site = trailers["Sites"]
        assert git(remote, "diff", "--name-only", f"{sha}~1", sha).split() == [f"overlays/{site}/kustomization.yaml"]
        expected[site] = digest
    for site, digest in expected.items():
        text = git(remote, "show", f"main:overlays/{site}/kustomization.yaml")
        assert f"@{digest}\n" in text, site  # fraud-detector's storageUri: oci://REPO:TAG@DIGEST
