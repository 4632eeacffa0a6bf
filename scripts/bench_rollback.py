#!/usr/bin/env python3
"""Benchmark: rollback of 1,000 edge sites of a 10-model fleet, against promoting them.

Same run, medians: `promote --to edge` of the sites, then `rollback --site edge` of them,
then the retried rollback that finds nothing to do; and `history MODEL --site ONE` in a
repository with 1,000 promotion commits of that site (written with git fast-import on top
of the fleet). With ``--distinct`` every edge site is its own build; the first promotion
renders them all (cold, reported apart) and the timed runs are warm.

    python scripts/bench_rollback.py [--sites 1000] [--models 10] [--runs 5] [--commits 1000] [--distinct]
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import fmt, make_distinct, make_fleet_repo

from gitops_mlops.change.intents import PromoteRequest, RollbackRequest
from gitops_mlops.gitstore import trailers
from gitops_mlops.pins import kustomization
from gitops_mlops.promote.promotion import promote
from gitops_mlops.promote.rollback import rollback
from gitops_mlops.views.history import read_history

MODEL = "model-01"


def digest(n: int) -> str:
    return "sha256:" + hashlib.sha256(f"{MODEL} build {n}".encode()).hexdigest()


def cpu_seconds() -> float:
    """CPU time of this process and of the processes it waited for (git, kustomize): a figure a busy machine inflates less than wall time."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn, cpu: list[float] | None = None):
    start, used = time.perf_counter(), cpu_seconds()
    result = fn()
    if cpu is not None:
        cpu.append(cpu_seconds() - used)
    return time.perf_counter() - start, result


def bench_rollback(repo: Path, sites: int, runs: int, distinct: bool) -> None:
    promotes, rollbacks, retries = [], [], []
    cpu: dict[str, list[float]] = {"promote": [], "rollback": [], "retry": []}
    back_edge = RollbackRequest(model=MODEL, selectors=("edge",))
    release = PromoteRequest(model=MODEL, image=f"quay.io/example/{MODEL}:1.0.5@{digest(1000)}", selectors=("datacenter", "cloud", "edge"), force_order=True)
    promote(repo, release)  # what the sites ran before: a rollback goes back to a release, never to the placeholder init wrote
    for n in range(0 if distinct else 1, runs + 1):
        to_edge = PromoteRequest(model=MODEL, image=f"quay.io/example/{MODEL}:2.{n}.0@{digest(n)}", selectors=("edge",))
        promote(repo, replace(to_edge, selectors=("datacenter", "cloud"), force_order=True))
        elapsed, result = timed(lambda: promote(repo, to_edge), cpu["promote"])  # noqa: B023 (called at once)
        assert len(result.changed) == sites, result.changed[:3]
        back, undone = timed(lambda: rollback(repo, back_edge), cpu["rollback"])
        assert len(undone.changed) == sites, (undone.changed[:3], undone.unchanged[:3])
        again, retried = timed(lambda: rollback(repo, back_edge), cpu["retry"])
        assert not retried.changed and len(retried.unchanged) == sites, retried.changed[:3]
        if n == 0:  # the distinct fleet's first round renders every site: cold, reported apart
            print(f"  cold (no render cached yet): promote {elapsed:.2f} s, rollback {back:.2f} s, retry {again:.2f} s")
            for times in cpu.values():
                times.pop()
            continue
        promotes.append(elapsed)
        rollbacks.append(back)
        retries.append(again)
        print(f"  run {n}: promote {elapsed:.2f} s  rollback {back:.2f} s  retried rollback {again:.2f} s")
    promote_median, rollback_median = statistics.median(promotes), statistics.median(rollbacks)
    print(f"promote --to edge ({sites} sites):       median {promote_median:.2f} s  runs [{fmt(promotes)}]")
    print(
        f"rollback --site edge ({sites} sites):    median {rollback_median:.2f} s  runs [{fmt(rollbacks)}]  = {rollback_median / promote_median:.1f}x promote"
    )
    print(f"the retried rollback (nothing to do):  median {statistics.median(retries):.2f} s  runs [{fmt(retries)}]")
    print("  CPU seconds (this process and its git and kustomize processes), medians: " + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in cpu.items()))


def add_promotions(repo: Path, site: str, commits: int) -> None:
    """``commits`` promotion commits of MODEL at ``site`` alone (its pin edited as promote edits it,
    with the tool's trailers), written with git fast-import on top of the branch."""
    rel = f"overlays/{site}/kustomization.yaml"
    text = (repo / rel).read_text()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
    chunks = []
    for n in range(1, commits + 1):
        version, image_digest = f"3.{n}.0", digest(10_000 + n)
        text = kustomization.set_pin_exact(text, rel, MODEL, {"newName": f"quay.io/example/{MODEL}", "newTag": version, "digest": image_digest})
        record = trailers.Record(
            action="promote",
            model=MODEL,
            version=version,
            images=((f"quay.io/example/{MODEL}:{version}@{image_digest}", (site,)),),
            subject=trailers.subject("promote", MODEL, version, [site]),
        )
        message, body = trailers.write(record).encode(), text.encode()
        chunks.append(b"commit refs/heads/main\n")
        chunks.append(f"committer bench <bench@localhost> {1800000000 + n} +0000\n".encode())
        chunks.append(b"data %d\n" % len(message) + message)
        if n == 1:
            chunks.append(f"from {head}\n".encode())
        chunks.append(f"M 100644 inline {rel}\n".encode() + b"data %d\n" % len(body) + body + b"\n")
    subprocess.run(["git", "fast-import", "--quiet", "--force"], cwd=repo, input=b"".join(chunks), check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=repo, check=True)


def bench_history(repo: Path, commits: int, runs: int) -> None:
    site = sorted(p.parent.relative_to(repo / "overlays").as_posix() for p in repo.glob("overlays/edge/*/kustomization.yaml"))[0]
    add_promotions(repo, site, commits)
    first, entries = timed(lambda: read_history(repo, MODEL, selectors=(site,)))
    times, cpu = [], []
    for _ in range(runs):
        elapsed, entries = timed(lambda: read_history(repo, MODEL, selectors=(site,)), cpu)
        times.append(elapsed)
    assert len(entries) >= commits, len(entries)
    assert entries[0].version == f"3.{commits}.0", entries[0]
    print(f"history {MODEL} --site {site} ({commits} promotion commits of it, {len(entries)} entries): first {first:.2f} s")
    print(f"  then: median {statistics.median(times):.2f} s  runs [{fmt(times)}]  CPU seconds median {statistics.median(cpu):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--commits", type=int, default=1000, help="promotion commits of one site, for history")
    parser.add_argument("--distinct", action="store_true", help="give every edge site its own annotation, so no two sites share a build")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rollback-") as tmp:
        repo = make_fleet_repo(Path(tmp), args.sites, args.models)
        if args.distinct:
            make_distinct(repo)
        kind = "every edge site distinct" if args.distinct else "edge sites from one template"
        print(f"repo: {args.sites} edge sites ({kind}) + datacenter + cloud, {args.models} models")
        bench_rollback(repo, args.sites, args.runs, args.distinct)
        bench_history(repo, args.commits, args.runs)


if __name__ == "__main__":
    main()
