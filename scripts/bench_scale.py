#!/usr/bin/env python3
"""Benchmark: how the commands grow from 1,000 to 10,000 edge sites (template fleet, 2 models).

For each size: `init --edge-sites N`, `validate` cold (empty render cache) and warm, `status`,
and `promote` of a new digest to every edge site; wall time, peak memory of the gitops-mlops
process (kustomize's own processes apart) and the kustomize processes started. The time per
site should stay flat: no step may grow quadratically.

    python scripts/bench_scale.py [--sizes 1000,2000,5000,10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(args: list[str], cwd: Path, env: dict) -> tuple[float, int]:
    """Seconds and peak resident kilobytes of one command (its own process)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "gitops_mlops", *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"gitops-mlops {' '.join(args)} failed: {proc.stderr.read().decode()[-500:]}")
    return elapsed, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,5000,10000")
    parser.add_argument("--runs", type=int, default=3, help="promotions per size (the median is printed)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from gitops_mlops.render.kustomize import Kustomize

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        log, script = Path(tmp) / "runs.log", Path(tmp) / "counted-kustomize"
        script.write_text(f'#!/bin/sh\necho >> {log}\nexec {" ".join(Kustomize.find().command)} "$@"\n')
        script.chmod(0o755)
        env = {
            **os.environ,
            "GITOPS_MLOPS_KUSTOMIZE": str(script),
            "GITOPS_MLOPS_NO_VERIFY": "1",  # made-up digests: no registry is asked
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@localhost",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@localhost",
        }
        print(
            f"{'sites':>6} | {'init':>7} | {'validate cold':>13} | {'validate warm':>13} | {'status':>7} | {'promote (median)':>16} | {'ms/site promote':>15} | {'peak MB':>7} | kustomize runs"
        )
        for size in (int(s) for s in args.sizes.split(",")):
            repo = Path(tmp) / f"fleet-{size}"
            log.write_text("")
            init, mem_init = run(["init", str(repo), "--edge-sites", str(size)], Path(tmp), env)
            cold, mem_cold = run(["validate"], repo, env)
            warm, mem_warm = run(["validate"], repo, env)
            status, mem_status = run(["status", "-o", "json"], repo, env)
            promotes, mem_promote = [], 0
            for n in range(args.runs):  # each from the initial commit, a new digest each time
                if n:
                    subprocess.run(["git", "reset", "-q", "--hard", "HEAD~1"], cwd=repo, check=True)
                digest = "sha256:" + hashlib.sha256(f"{size} {n}".encode()).hexdigest()
                elapsed, memory = run(
                    ["promote", "fraud-detector", f"quay.io/example/fraud-detector:2.0.{n}@{digest}", "--to", "edge", "--force-order", "-o", "json"], repo, env
                )
                promotes.append(elapsed)
                mem_promote = max(mem_promote, memory)
            promote = statistics.median(promotes)
            peak = max(mem_init, mem_cold, mem_warm, mem_status, mem_promote) / 1024
            runs = log.read_text().count("\n")
            print(
                f"{size:>6} | {init:6.2f}s | {cold:12.2f}s | {warm:12.2f}s | {status:6.2f}s | {promote:15.2f}s | {promote / size * 1000:15.2f} | {peak:7.0f} | {runs}"
            )


if __name__ == "__main__":
    main()
