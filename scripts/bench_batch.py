#!/usr/bin/env python3
"""Benchmark: how the cost per site of one kustomize process grows with the sites it renders.

A kustomize process slows down as its resource map grows, so a big batch costs more per
site than a small one, while a batch of one pays the process start each time. This
renders a fleet of distinct edge sites (no two share a build) in batches of each size, one
process at a time, and prints the milliseconds per site: the curve that sets
``kustomize.BATCH_SIZE``. Then the whole fleet with the renderer as it is (all cores).

    python scripts/bench_batch.py [--sites 200] [--models 10] [--sizes 1,5,10,20,40,80]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import make_fleet_repo

from gitops_mlops import rendering as render
from gitops_mlops.config import load_config
from gitops_mlops.sites import discover_sites


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--sizes", default="1,5,10,20,40,80")
    args = parser.parse_args()
    kustomize = render.Kustomize.find()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        repo = make_fleet_repo(Path(tmp) / "fleet", args.sites, args.models)
        for path in sorted(repo.glob("overlays/edge/*/kustomization.yaml")):
            path.write_text(path.read_text() + f"commonAnnotations:\n  example.com/site: {path.parent.name}\n")
        sites = [s for s in discover_sites(repo, load_config(repo)) if s.stage == "edge"]
        print(f"{len(sites)} distinct edge sites, {args.models} models; kustomize: {' '.join(kustomize.command)}")
        print("sites per process   ms per site")
        scratch = Path(tmp) / "scratch"
        scratch.mkdir()
        for size in (int(s) for s in args.sizes.split(",")):
            count = max(size, min(len(sites), size * max(1, 60 // size)))  # enough sites for a steady figure
            batches = [sites[i : i + size] for i in range(0, count, size)]
            start = time.perf_counter()
            for n, batch in enumerate(batches):
                out = render._render_batch(kustomize, repo.resolve(), scratch, f"s{size}-{n}", batch, 600)
                assert all(r.ok for r in out.values()), next(r.error for r in out.values() if not r.ok)
            per_site = (time.perf_counter() - start) / sum(len(b) for b in batches) * 1000
            print(f"{size:>17}   {per_site:11.1f}")
        start = time.perf_counter()
        results = render.render_sites(repo, sites, kustomize=kustomize)
        assert all(r.ok for r in results.values())
        elapsed = time.perf_counter() - start
        print(
            f"all {len(sites)} with render_sites (batches of {render.BATCH_SIZE}, {render.parallelism()} at a time): {elapsed:.2f} s, {elapsed / len(sites) * 1000:.1f} ms per site"
        )


if __name__ == "__main__":
    main()
