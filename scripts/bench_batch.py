#!/usr/bin/env python3
"""Benchmark: how the cost per site of one kustomize process grows with the sites it renders.

A kustomize process slows down as its resource map grows, so a big batch costs more per
site than a small one, while a batch of one pays the process start each time. This
renders a fleet of distinct edge sites (no two share a build) in batches of each size, one
process at a time, and prints the milliseconds per site: the curve that sets
``kustomize.BATCH_SIZE``. Then the whole fleet with the renderer as it is (all cores).

    python scripts/bench_batch.py [--sites 200] [--models 10] [--sizes 1,5,10,20,40,80]
    python scripts/bench_batch.py --flatten 5,10,20,40 [--runs 5]   # where rendering plain bases once pays
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import make_fleet_repo

from gitops_mlops.config.load import load_config
from gitops_mlops.config.sites import discover_sites
from gitops_mlops.pins.sentinels import pin_invariant
from gitops_mlops.render import kustomize as render


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--sizes", default="1,5,10,20,40,80")
    parser.add_argument(
        "--flatten", default="", help="instead: render N distinct sites with plain bases rendered once and without, alternating (e.g. 5,10,20,40)"
    )
    parser.add_argument("--runs", type=int, default=5, help="rounds for --flatten")
    args = parser.parse_args()
    kustomize = render.Kustomize.find()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        repo = make_fleet_repo(Path(tmp) / "fleet", args.sites, args.models)
        for path in sorted(repo.glob("overlays/edge/*/kustomization.yaml")):
            path.write_text(path.read_text() + f"commonAnnotations:\n  example.com/site: {path.parent.name}\n")
        sites = [s for s in discover_sites(repo, load_config(repo)) if s.stage == "edge"]
        print(f"{len(sites)} distinct edge sites, {args.models} models; kustomize: {' '.join(kustomize.command)}")
        if args.flatten:
            compare_flattening(repo, sites, [int(n) for n in args.flatten.split(",")], args.runs)
            return
        print("sites per process   ms per site")
        scratch = Path(tmp) / "scratch"
        scratch.mkdir()
        for size in (int(s) for s in args.sizes.split(",")):
            count = max(size, min(len(sites), size * max(1, 60 // size)))  # enough sites for a steady figure
            batches = [sites[i : i + size] for i in range(0, count, size)]
            start = time.perf_counter()
            for n, batch in enumerate(batches):
                out = render._render_batch(render._Build(kustomize, repo.resolve(), scratch, 600), f"s{size}-{n}", batch)
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


def compare_flattening(repo: Path, sites, counts: list[int], runs: int) -> None:
    """Where rendering the plain bases once first starts to pay: N sites (their pin-invariant forms,
    as a cold validate renders them) with and without, alternating, all cores."""
    texts = {s.name: pin_invariant((repo / s.path / "kustomization.yaml").read_text(), s.path).text for s in sites}
    print("sites   bases once (median s)   bases per site (median s)")
    for count in counts:
        chosen = sites[:count]
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(runs):
            for flatten in (True, False):
                start = time.perf_counter()
                results = render.render_sites(repo, chosen, texts=texts, flatten=flatten)
                times[flatten].append(time.perf_counter() - start)
                assert all(r.ok for r in results.values())
        print(f"{count:>5}   {statistics.median(times[True]):21.3f}   {statistics.median(times[False]):25.3f}")


if __name__ == "__main__":
    main()
