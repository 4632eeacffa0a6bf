#!/usr/bin/env python3
"""Time the commands of a rollout in progress on a fleet ``bench_waves.py --keep DIR`` left (wave 1
promoted), with two source trees alternately (old then new, then new then old), each figure the
median wall and CPU time of its runs: ``status --summary``, a ``rollout`` step that finds nothing to
do, and ``promote --wave 1`` from the commit before wave 1 (the checkout is put back after each).

    python scripts/bench_kept_fleet.py --repo DIR/work --old ../wt-base --new . [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

IMAGE = "quay.io/example/model-01:2.0.0@sha256:" + hashlib.sha256(b"bench waves").hexdigest()


def run(tree: Path, repo: Path, *args: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``python -m gitops_mlops ARGS`` run from ``tree``'s sources."""
    env = {**os.environ, "PYTHONPATH": str(tree), "GITOPS_MLOPS_NO_VERIFY": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "gitops_mlops", *args], cwd=repo, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: gitops-mlops {' '.join(args[:4])}: exit {proc.returncode}: {proc.stderr[-800:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--old", type=Path, required=True)
    parser.add_argument("--new", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    repo, trees = args.repo.resolve(), {"old": args.old.resolve(), "new": args.new.resolve()}
    promoted = git(repo, "rev-parse", "HEAD")
    if "Wave: 1/" not in git(repo, "log", "-1", "--format=%B"):
        raise SystemExit(f"{repo}: HEAD is not the promotion of wave 1 (run bench_waves.py --keep DIR first)")
    commands = {
        "status --summary (warm)": lambda tree: run(tree, repo, "status", "--summary"),
        "rollout step, nothing to do": lambda tree: run(tree, repo, "rollout", "model-01", IMAGE, "--to", "edge"),
        "promote --wave 1 (1000 sites)": lambda tree: promote(tree, repo, promoted),
    }
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for number in range(args.rounds):
        order = ("old", "new") if number % 2 == 0 else ("new", "old")
        for what, command in commands.items():
            for name in order:
                times.setdefault((what, name), []).append(command(trees[name]))
    print(f"# {repo}; medians of {args.rounds} runs each, old and new alternately; wall (CPU) seconds")
    for what in commands:
        shown = []
        for name in ("old", "new"):
            found = times[(what, name)]
            shown.append(f"{name} {statistics.median(w for w, _ in found):7.3f} ({statistics.median(c for _, c in found):6.3f})")
        print(f"{what:<32} {'   '.join(shown)}")


def promote(tree: Path, repo: Path, promoted: str) -> tuple[float, float]:
    git(repo, "reset", "-q", "--hard", f"{promoted}~1")
    try:
        return run(tree, repo, "promote", "model-01", IMAGE, "--to", "edge", "--wave", "1")
    finally:
        git(repo, "reset", "-q", "--hard", promoted)


if __name__ == "__main__":
    main()
