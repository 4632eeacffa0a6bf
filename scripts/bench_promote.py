#!/usr/bin/env python3
"""Benchmark: promote one digest to all 1,000 edge sites of a 10-model fleet.

Times `promote` end to end (plan, policy, edit, render + validate every changed
site, one commit) and its edit + commit part alone; then, in the same run, the
way pipelines do it today: per site a yq-style round-trip edit, one
`kustomize build`, one `git commit`.

    python scripts/bench_promote.py [--sites 1000] [--models 10] [--runs 5] [--baseline-sites 1000]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import fmt, make_fleet_repo  # noqa: E402
from ruamel.yaml import YAML  # noqa: E402

from gitops_mlops.kustomize import Kustomize  # noqa: E402
from gitops_mlops.promotion import promote  # noqa: E402
from gitops_mlops.requests import PromoteRequest as Request  # noqa: E402


def digest(n: int) -> str:
    return "sha256:" + hashlib.sha256(f"model-01 build {n}".encode()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline-sites", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-promote-") as tmp:
        repo = make_fleet_repo(Path(tmp), args.sites, args.models)
        print(f"repo: {args.sites} edge sites + datacenter + cloud, {args.models} models")
        totals, edits = [], []
        for n in range(1, args.runs + 1):
            image = f"quay.io/example/model-01:1.{n}.0@{digest(n)}"
            promote(repo, Request(model="model-01", image=image, selectors=("datacenter", "cloud"), force_order=True))
            start = time.perf_counter()
            result = promote(repo, Request(model="model-01", image=image, selectors=("edge",)))
            totals.append(time.perf_counter() - start)
            phases = dict(result.timings)
            edits.append(phases["plan"] + phases["write"] + phases["commit"])
            assert len(result.changed) == args.sites, result.changed[:3]
            print(f"  run {n}: total {totals[-1]:.2f} s  " + "  ".join(f"{k} {v:.2f}" for k, v in result.timings))
        fast = statistics.median(totals)
        print(f"promote to {args.sites} edge sites:   median {fast:.2f} s  runs [{fmt(totals)}]")
        print(f"  edit + commit part alone:  median {statistics.median(edits):.2f} s  runs [{fmt(edits)}]")

        count = min(args.baseline_sites, args.sites)
        start = time.perf_counter()
        per_site_baseline(repo, count, f"quay.io/example/model-01:9.0.0@{digest(999)}")
        slow = time.perf_counter() - start
        scaled = slow * args.sites / count
        note = "" if count == args.sites else f" (measured on {count} sites, scaled)"
        print(f"per-site edit + build + commit: {scaled:.2f} s{note}")
        print(f"speed-up: {scaled / fast:.1f}x")


def per_site_baseline(repo: Path, count: int, image: str) -> None:
    """What hand-written pipeline steps do: yq-style edit, kustomize build, git commit, per site."""
    kustomize = Kustomize.find()
    yaml = YAML()  # round-trip, like `yq -i`
    name, _, dig = image.partition("@")
    for i in range(1, count + 1):
        path = repo / f"overlays/edge/site-{i:04d}/kustomization.yaml"
        data = yaml.load(path.read_text())
        for entry in data["images"]:
            if entry["name"] == "model-01":
                entry["newTag"], entry["digest"] = name.rsplit(":", 1)[1], dig
        buffer = io.StringIO()
        yaml.dump(data, buffer)
        path.write_text(buffer.getvalue())
        kustomize.build(path.parent, cwd=repo)
        subprocess.run(["git", "commit", "-qm", f"bump model-01 at site-{i:04d}", "--", str(path)], cwd=repo, check=True,
                       env={"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@l", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@l", "PATH": "/usr/bin:/bin"})


if __name__ == "__main__":
    main()
