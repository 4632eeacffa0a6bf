#!/usr/bin/env python3
"""Benchmark: the command `gitops-mlops history MODEL --site ONE` as a user runs it (a new process:
its imports count), in a repository with 1,000 promotion commits of that site on top of the fleet.

Each run starts ``python -m gitops_mlops`` from the tree on ``PYTHONPATH``; medians of wall time and of
the CPU seconds of the process and its git children. Also with ``-n 10``.

    python scripts/bench_history_cli.py [--sites 1000] [--models 10] [--commits 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_rollback import MODEL, add_promotions
from benchlib import fmt, make_fleet_repo


def run_cli(repo: Path, args: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (the command and its children) and its output."""
    env = {**os.environ, "GITOPS_MLOPS_NO_VERIFY": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gitops_mlops", *args], cwd=repo, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done.stdout


def bench(repo: Path, label: str, args: list[str], runs: int, at_least: int = 0) -> None:
    run_cli(repo, args)  # the render cache and the .pyc files written once
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu, out = run_cli(repo, args)
        rows = len(out.splitlines()) - 1  # less the header
        assert rows >= at_least, (rows, out[:300])
        walls.append(wall)
        cpus.append(cpu)
    print(f"{label}: median {statistics.median(walls):.2f} s  runs [{fmt(walls)}]  CPU seconds median {statistics.median(cpus):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--commits", type=int, default=1000, help="promotion commits of one site")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-history-cli-") as tmp:
        repo = make_fleet_repo(Path(tmp), args.sites, args.models)
        site = sorted(p.parent.relative_to(repo / "overlays").as_posix() for p in repo.glob("overlays/edge/*/kustomization.yaml"))[0]
        add_promotions(repo, site, args.commits)
        print(f"repo: {args.sites} edge sites, {args.models} models, {args.commits} promotion commits of {site}")
        bench(repo, f"gitops-mlops history {MODEL} --site {site}", ["history", MODEL, "--site", site], args.runs, args.commits)
        bench(repo, f"gitops-mlops history {MODEL} --site {site} -n 10", ["history", MODEL, "--site", site, "-n", "10"], args.runs, 10)
        bench(repo, "gitops-mlops --help", ["--help"], args.runs)


if __name__ == "__main__":
    main()
