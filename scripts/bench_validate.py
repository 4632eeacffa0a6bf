#!/usr/bin/env python3
"""Benchmark: `validate` of a repository with 1,000 edge sites and 10 models.

Compares the batched renderer (many overlays per kustomize process, one batch
per core) with one `kustomize build` process per site, in the same run: cold (the
render cache emptied before each run, so every site is rendered) and warm (nothing
changed since the last run), with the kustomize processes each started.
With ``--schemas`` it measures instead what the schema checks cost: `validate` of the
warm fleet with every rendered object checked (core kinds, and custom resources against
the CRDs of ``--crds``) against the same without, alternating in the same run.

    python scripts/bench_validate.py [--sites 1000] [--models 10] [--runs 5] [--baseline-runs 1] [--distinct] [--unflattened]
    python scripts/bench_validate.py --schemas --modelcars 5 [--crds ../shared/crds]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import fmt, make_distinct, make_fleet_repo, median_of

from gitops_mlops.config.load import load_config
from gitops_mlops.config.sites import discover_sites
from gitops_mlops.render import cache as rendercache
from gitops_mlops.render import kustomize as rendering
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.kustomize import Kustomize
from gitops_mlops.render.validate import schemas_for, validate_sites


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline-runs", type=int, default=1)
    parser.add_argument(
        "--unflattened", action="store_true", help="alternate each cold run with one that renders every base per site (plain bases not rendered once first)"
    )
    parser.add_argument("--distinct", action="store_true", help="give every edge site its own annotation, so no two sites share a build")
    parser.add_argument("--modelcars", type=int, default=0, help="serve the first N models as KServe InferenceServices with modelcars")
    parser.add_argument("--schemas", action="store_true", help="measure validate with schema checks against validate without, warm")
    parser.add_argument("--crds", type=Path, action="append", default=[], help="CRDs for the schema checks (a file or folder), repeatable")
    args = parser.parse_args()
    kustomize = Kustomize.find()
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        repo = make_fleet_repo(Path(tmp), args.sites, args.models, args.modelcars)
        if args.distinct:
            make_distinct(repo)
        config = load_config(repo)
        sites = discover_sites(repo, config)
        kind = "every edge site distinct" if args.distinct else "edge sites from one template"
        print(
            f"repo: {len(sites)} sites ({args.sites} edge, {kind}), {args.models} models ({args.modelcars} modelcars); kustomize: {' '.join(kustomize.command)}"
        )
        if args.schemas:
            compare_schema_checks(repo, config, sites, tuple(args.crds), args.runs)
            return

        def batched():
            reports = validate_sites(repo, config, sites, kustomize=counted)
            assert all(r.ok for r in reports), [r for r in reports if not r.ok][:1]

        def cold():
            rendercache.clear(repo)
            batched()

        def one_process_per_site():
            for site in sites:
                kustomize.build(Path(site.path), cwd=repo)

        log, script = Path(tmp) / "runs.log", Path(tmp) / "counted-kustomize"
        script.write_text(f'#!/bin/sh\necho >> {log}\nexec {" ".join(kustomize.command)} "$@"\n')
        script.chmod(0o755)
        log.write_text("")
        counted = Kustomize((str(script),))
        fast_runs, unflat_runs, processes = [], [], 0
        for _ in range(args.runs):
            before = log.read_text().count("\n")
            fast_runs.append(median_of(1, cold)[0])
            processes = log.read_text().count("\n") - before
            if args.unflattened:
                rendering.FLATTEN_FROM, flatten_from = 1 << 62, rendering.FLATTEN_FROM
                unflat_runs.append(median_of(1, cold)[0])
                rendering.FLATTEN_FROM = flatten_from
        fast = statistics.median(fast_runs)
        print(f"validate, cold (batched):    median {fast:.2f} s  runs [{fmt(fast_runs)}], {processes} kustomize processes a run")
        if args.unflattened:
            print(f"  same, bases per site:      median {statistics.median(unflat_runs):.2f} s  runs [{fmt(unflat_runs)}] (alternating)")
        log.write_text("")
        warm, warm_runs = median_of(args.runs, batched)
        print(f"validate, nothing changed:   median {warm:.2f} s  runs [{fmt(warm_runs)}], {log.read_text().count(chr(10))} kustomize processes in all")
        if args.baseline_runs:
            slow, slow_runs = median_of(args.baseline_runs, one_process_per_site)
            print(f"one kustomize per site:      median {slow:.2f} s  runs [{fmt(slow_runs)}]")
            print(f"speed-up: {slow / fast:.1f}x")


def compare_schema_checks(repo: Path, config, sites, crds: tuple[Path, ...], runs: int) -> None:
    """Warm renders; validate without schema checks, with them made afresh (the kept verdicts dropped first),
    and with the verdicts of the run before kept, alternating. Each run builds its checker, as a command does."""
    validate_sites(repo, config, sites, schemas=schemas_for(repo, config, crds))  # render, and parse the CRDs once
    found: list = []

    def forget_verdicts():
        with RenderCache(repo) as cache:
            cache.drop_metas("verdict:")

    def without():
        assert all(r.ok for r in validate_sites(repo, config, sites))

    def checked():
        reports = validate_sites(repo, config, sites, schemas=schemas_for(repo, config, crds))
        assert all(r.ok for r in reports), [r for r in reports if not r.ok][:1]
        found[:] = sorted({kind for r in reports for kind in r.unchecked})

    plain, made, kept = [], [], []
    for _ in range(runs):
        forget_verdicts()
        plain.append(median_of(1, without)[0])
        forget_verdicts()
        made.append(median_of(1, checked)[0])
        kept.append(median_of(1, checked)[0])
    ordered = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    print(f"validate, warm, schema checks made: median {ordered(made):.2f} s  runs [{fmt(made)}]  CRDs: {', '.join(map(str, crds)) or 'none'}")
    print(f"validate, warm, no schema checks:   median {ordered(plain):.2f} s  runs [{fmt(plain)}]")
    print(f"validate, warm, verdicts kept:      median {ordered(kept):.2f} s  runs [{fmt(kept)}]")
    print(f"kinds not checked (no schema): {', '.join(found) or 'none'}")


if __name__ == "__main__":
    main()
