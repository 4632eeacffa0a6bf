#!/usr/bin/env python3
"""Benchmark: promote one digest to all 1,000 edge sites of a 10-model fleet.

Times `promote` end to end (plan, policy, edit, render + validate every changed
site, one commit) and its edit + commit part alone; then, in the same run, the
way pipelines do it today: per site a yq-style round-trip edit, one
`kustomize build`, one `git commit`.

With ``--distinct`` every edge site gets its own annotation, so no two share a build: the
first promotion renders them all (cold, reported apart); later ones are pin-value changes,
served from the pin-invariant renders. kustomize processes started are counted.

With ``--release`` it times instead, in the same run and warm, promoting a release of three members
(model-01, model-02, model-03: one commit) and promoting one of them alone (``--member-only``) to
the same edge sites, and prints both medians and their ratio (the target: at most 1.5).

    python scripts/bench_promote.py [--sites 1000] [--models 10] [--runs 5] [--baseline-sites 1000] [--distinct] [--release]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import commit_and_push, fmt, make_distinct, make_fleet_repo
from ruamel.yaml import YAML

from gitops_mlops.change.intents import PromoteRequest as Request
from gitops_mlops.change.intents import Publish
from gitops_mlops.promote.promotion import promote
from gitops_mlops.render.kustomize import Kustomize


def digest(n: int) -> str:
    return "sha256:" + hashlib.sha256(f"model-01 build {n}".encode()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline-sites", type=int, default=1000)
    parser.add_argument("--distinct", action="store_true", help="give every edge site its own annotation, so no two sites share a build")
    parser.add_argument("--hydrate", action="store_true", help="hydrate (pushing both branches), then promote once more from a fresh clone")
    parser.add_argument("--release", action="store_true", help="a release of three members against one member alone, same sites, same run")
    args = parser.parse_args()
    if args.release:
        return release_bench(args)
    with tempfile.TemporaryDirectory(prefix="bench-promote-") as tmp:
        repo = make_fleet_repo(Path(tmp), args.sites, args.models)
        if args.distinct:
            make_distinct(repo)
        if args.hydrate:
            with open(repo / "gitops-mlops.yaml", "a") as config:
                config.write("hydrate:\n  branch: hydrated\n  path: sites\n")
            commit_and_push(repo, "hydrate the sites")
        publish = Publish(push=args.hydrate)
        kind = "every edge site distinct" if args.distinct else "edge sites from one template"
        print(f"repo: {args.sites} edge sites ({kind}) + datacenter + cloud, {args.models} models")
        counter = count_kustomize(Path(tmp))
        totals, edits, processes = [], [], []
        for n in range(0 if args.distinct else 1, args.runs + 1):
            image = f"quay.io/example/model-01:1.{n}.0@{digest(n)}"
            promote(repo, Request(model="model-01", image=image, selectors=("datacenter", "cloud"), force_order=True), publish)
            before = counter()
            start = time.perf_counter()
            result = promote(repo, Request(model="model-01", image=image, selectors=("edge",)), publish)
            elapsed = time.perf_counter() - start
            if n == 0:  # the distinct fleet's first promotion renders every site: cold, reported apart
                print(f"  cold (no render cached yet): {elapsed:.2f} s, {counter() - before} kustomize processes")
                continue
            totals.append(elapsed)
            processes.append(counter() - before)
            phases = dict(result.timings)
            edits.append(phases["plan"] + phases["write"] + phases["commit"])
            assert len(result.changed) == args.sites, result.changed[:3]
            print(f"  run {n}: total {totals[-1]:.2f} s  " + "  ".join(f"{k} {v:.2f}" for k, v in result.timings) + f"  kustomize processes {processes[-1]}")
        fast = statistics.median(totals)
        print(f"promote to {args.sites} edge sites:   median {fast:.2f} s  runs [{fmt(totals)}], kustomize processes {processes}")
        print(f"  edit + commit part alone:  median {statistics.median(edits):.2f} s  runs [{fmt(edits)}]")
        if args.hydrate:
            fresh = Path(tmp) / "fresh"
            subprocess.run(["git", "clone", "-q", str(Path(tmp) / "remote.git"), str(fresh)], check=True)
            image = f"quay.io/example/model-01:2.0.0@{digest(1000)}"
            before = counter()
            start = time.perf_counter()  # the clone's first command: seeding its render cache included
            result = promote(fresh, Request(model="model-01", image=image, selectors=("edge",), force_order=True), publish)
            elapsed = time.perf_counter() - start
            assert len(result.changed) == args.sites and result.pushed
            print(
                f"promote to {args.sites} edge sites as a fresh clone's first command (render cache seeded from the hydrated branch, both branches pushed): "
                f"{elapsed:.2f} s, {counter() - before} kustomize processes  " + "  ".join(f"{k} {v:.2f}" for k, v in result.timings)
            )

        count = min(args.baseline_sites, args.sites)
        if count == 0:
            return  # --baseline-sites 0: no per-site baseline
        start = time.perf_counter()
        per_site_baseline(repo, count, f"quay.io/example/model-01:9.0.0@{digest(999)}")
        slow = time.perf_counter() - start
        scaled = slow * args.sites / count
        note = "" if count == args.sites else f" (measured on {count} sites, scaled)"
        print(f"per-site edit + build + commit: {scaled:.2f} s{note}")
        print(f"speed-up: {scaled / fast:.1f}x")


def release_bench(args) -> None:
    """A release of three members against one member alone (--member-only), to the same edge sites, warm, same run."""
    from gitops_mlops.promote.releases import ReleaseRequest, promote_release

    members = ("model-01", "model-02", "model-03")
    with tempfile.TemporaryDirectory(prefix="bench-release-") as tmp:
        repo = make_fleet_repo(Path(tmp), args.sites, max(args.models, 3))
        if args.distinct:
            make_distinct(repo)
        with open(repo / "gitops-mlops.yaml", "a") as config:
            config.write(f"releases:\n  - name: bench\n    members: [{', '.join(members)}]\n")
        commit_and_push(repo, "a release of three members")
        kind = "every edge site distinct" if args.distinct else "edge sites from one template"
        print(f"repo: {args.sites} edge sites ({kind}) + datacenter + cloud, {max(args.models, 3)} models; release bench = {', '.join(members)}")

        def build(model: str, n: int) -> str:
            return f"quay.io/example/{model}:2.{n}.0@sha256:" + hashlib.sha256(f"{model} build {n}".encode()).hexdigest()

        def release(n: int, selectors: tuple[str, ...], force: bool = False):
            return promote_release(repo, ReleaseRequest("bench", tuple((m, build(m, n)) for m in members), selectors, force_order=force, verify=False))

        def alone(n: int, selectors: tuple[str, ...], force: bool = False):
            return promote(repo, Request(model="model-01", image=build("model-01", n), selectors=selectors, force_order=force, member_only=True, verify=False))

        together, single = [], []
        for n in range(0, args.runs + 1):  # run 0 renders every site once (cold): a warm-up for both
            release(2 * n, ("datacenter", "cloud"), force=True)
            start = time.perf_counter()
            result = release(2 * n, ("edge",))
            took = time.perf_counter() - start
            assert len(result.changed) == args.sites and result.commit
            alone(2 * n + 1, ("datacenter", "cloud"), force=True)
            start = time.perf_counter()
            one = alone(2 * n + 1, ("edge",))
            took_one = time.perf_counter() - start
            assert len(one.changed) == args.sites and one.commit
            if n:
                together.append(took)
                single.append(took_one)
            phases = "  ".join(f"{k} {v:.2f}" for k, v in result.timings)
            alone_phases = "  ".join(f"{k} {v:.2f}" for k, v in one.timings)
            print(f"  run {n}{' (warm-up)' if not n else ''}: release of 3 {took:.2f} s ({phases}), one member {took_one:.2f} s ({alone_phases})")
        ratio = statistics.median(together) / statistics.median(single)
        print(f"release of 3 members to {args.sites} edge sites: median {statistics.median(together):.2f} s  runs [{fmt(together)}]")
        print(f"one member (--member-only) to the same sites:    median {statistics.median(single):.2f} s  runs [{fmt(single)}]")
        print(f"ratio: {ratio:.2f}x (target <= 1.5x)")


def count_kustomize(tmp: Path):
    """Run kustomize through a script that counts its runs; returns a function giving the count so far."""
    log, script = tmp / "kustomize-runs.log", tmp / "counted-kustomize"
    log.write_text("")
    script.write_text(f'#!/bin/sh\necho >> {log}\nexec {" ".join(Kustomize.find().command)} "$@"\n')
    script.chmod(0o755)
    os.environ["GITOPS_MLOPS_KUSTOMIZE"] = str(script)
    return lambda: log.read_text().count("\n")


def per_site_baseline(repo: Path, count: int, image: str) -> None:
    """What hand-written pipeline steps do: yq-style edit, kustomize build, git commit, per site."""
    kustomize = Kustomize.find()
    yaml = YAML()  # round-trip, like `yq -i`
    name, _, dig = image.partition("@")
    for path in sorted(repo.glob("overlays/edge/*/kustomization.yaml"))[:count]:
        data = yaml.load(path.read_text())
        for entry in data["images"]:
            if entry["name"] == "model-01":
                entry["newTag"], entry["digest"] = name.rsplit(":", 1)[1], dig
        buffer = io.StringIO()
        yaml.dump(data, buffer)
        path.write_text(buffer.getvalue())
        kustomize.build(path.parent, cwd=repo)
        subprocess.run(
            ["git", "commit", "-qm", f"bump model-01 at {path.parent.name}", "--", str(path)],
            cwd=repo,
            check=True,
            env={"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@l", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@l", "PATH": "/usr/bin:/bin"},
        )


if __name__ == "__main__":
    main()
