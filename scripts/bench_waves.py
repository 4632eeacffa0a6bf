#!/usr/bin/env python3
"""Benchmark: waves on a fleet of 10,000 distinct edge sites (one model), each figure the median of
``--runs`` runs beside its baseline in the same run.

- computing the waves (10% / 50% / 100% of the stage, stable order by sha256): goal <= 0.5 s;
  baseline: selecting the stage's sites (``select``);
- promoting the first, 10 % wave (``promote --wave 1``, 1,000 sites, one commit): goal <= 3 s;
  baseline: promoting the same 1,000 sites named on the command line with ``--all-waves``;
- ``status --summary`` with that rollout in progress, warm: goal <= 2 s; baseline: the same
  ``status --summary`` before waves were configured;
- a ``rollout`` step that finds nothing to do (wave 1 soaking): goal <= 2 s; baseline: the
  no-op ``promote --wave 1`` ("already up to date").

Commands run as a pipeline runs them (``python -m gitops_mlops``, a process each, render cache warm).

    python scripts/bench_waves.py [--sites 10000] [--runs 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import commit_and_push, make_distinct, make_fleet_repo, median_of

MODEL = "model-01"
WAVES = "  - name: edge\n    waves:\n      - sites: 10%\n        soak: 1h\n      - sites: 50%\n        soak: 1h\n      - sites: 100%\n"


def cli(repo: Path, *args: str, ok: tuple[int, ...] = (0,)) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "gitops_mlops", *args], cwd=repo, capture_output=True, text=True)
    if proc.returncode not in ok:
        raise SystemExit(f"gitops-mlops {' '.join(args[:6])}: exit {proc.returncode}: {proc.stderr[-800:]}")
    return time.perf_counter() - start


def timed(runs: int, fn, reset=None) -> float:
    times = []
    for _ in range(runs):
        times.append(fn())
        if reset:
            reset()
    return statistics.median(times)


def line(what: str, new: float, base: float, base_what: str, goal: float) -> None:
    verdict = "ok" if new <= goal else "OVER"
    print(f"{what:<44} {new:7.3f} s  (goal <= {goal:g} s: {verdict})   baseline {base_what}: {base:7.3f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build the fleet in this (new) directory and keep it, to profile commands on it")
    args = parser.parse_args()
    from gitops_mlops.config.load import load_config
    from gitops_mlops.config.sites import discover_sites, select
    from gitops_mlops.promote.waves import assign

    os.environ.update(
        {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost", "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}
    )
    if args.keep:
        args.keep.mkdir(parents=True)
    with contextlib.nullcontext(str(args.keep)) if args.keep else tempfile.TemporaryDirectory(prefix="bench-waves-") as tmp:
        started = time.perf_counter()
        repo = make_fleet_repo(Path(tmp), args.sites, 1)
        make_distinct(repo)
        image = f"quay.io/example/{MODEL}:2.0.0@sha256:" + hashlib.sha256(b"bench waves").hexdigest()
        for stage in ("datacenter", "cloud"):
            cli(repo, "promote", MODEL, image, "--to", stage)
        cli(repo, "status", "--summary")  # renders every site once: the cache is warm from here on
        print(
            f"# {args.sites} distinct edge sites, 1 model; set-up and first render {time.perf_counter() - started:.0f} s; medians of {args.runs} runs",
            flush=True,
        )
        status_before = timed(args.runs, lambda: cli(repo, "status", "--summary"))

        config = repo / "gitops-mlops.yaml"
        config.write_text(config.read_text().replace("  - name: edge\n", WAVES, 1))
        commit_and_push(repo, "edge in waves")
        loaded = load_config(repo)
        edge, sites = loaded.stages[-1], discover_sites(repo, loaded)
        members = tuple(s for s in sites if s.stage == "edge")
        compute, _ = median_of(max(args.runs, 5), lambda: assign(MODEL, edge, members))
        selecting, _ = median_of(max(args.runs, 5), lambda: select(sites, ["edge"]))
        line("computing the waves (assign)", compute, selecting, "select the stage", 0.5)
        first = [s.name for s in assign(MODEL, edge, members)[0]]

        base = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
        reset = lambda: subprocess.run(["git", "reset", "-q", "--hard", base], cwd=repo, check=True)  # noqa: E731
        named = [arg for name in first for arg in ("--to", name)]
        by_name = timed(args.runs, lambda: cli(repo, "promote", MODEL, image, *named, "--all-waves"), reset)
        wave = timed(args.runs, lambda: cli(repo, "promote", MODEL, image, "--to", "edge", "--wave", "1"), reset)
        line(f"promote --wave 1 ({len(first)} sites)", wave, by_name, "the same sites by name", 3.0)

        cli(repo, "promote", MODEL, image, "--to", "edge", "--wave", "1")
        status = timed(args.runs, lambda: cli(repo, "status", "--summary"))
        line("status --summary, rollout in progress (warm)", status, status_before, "status before waves", 2.0)
        noop = timed(args.runs, lambda: cli(repo, "promote", MODEL, image, "--to", "edge", "--wave", "1"))
        step = timed(args.runs, lambda: cli(repo, "rollout", MODEL, image, "--to", "edge"))
        line("rollout step, nothing to do (wave 1 soaking)", step, noop, "no-op promote --wave 1", 2.0)


if __name__ == "__main__":
    main()
