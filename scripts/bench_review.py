#!/usr/bin/env python3
"""Benchmark the read side: status, history, diff.

- status over 100 models x 1,000 sites (library call and the CLI with -o json);
- history of one model in a repository with 10,000 promotion commits: the last 50;
- diff of a promotion to 1,000 edge sites, against validating those sites.

    python scripts/bench_review.py [--runs 5] [--commits 10000] [--only status --distinct]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import fmt, make_distinct, make_fleet_repo, median_of

from gitops_mlops.change.intents import PromoteRequest as Request
from gitops_mlops.config.load import load_config
from gitops_mlops.config.sites import discover_sites, select
from gitops_mlops.promote.promotion import promote
from gitops_mlops.render import cache as rendercache
from gitops_mlops.render.validate import validate_sites
from gitops_mlops.views.diff import diff_refs
from gitops_mlops.views.history import read_history
from gitops_mlops.views.status import read_status

ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost", "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def bench_status(root: Path, runs: int, distinct: bool = False) -> None:
    """status from renders: cold (render cache emptied before each run) against validate of the same
    sites, also cold, and warm (nothing changed since the last command). With ``distinct`` every edge
    site is its own build: the cold render (about ten minutes here) is run once, to warm the cache."""
    repo = root / "status" / "work"
    if not repo.is_dir():  # --workdir keeps the fleet and its render cache for the next run
        repo = make_fleet_repo(root / "status", edge_sites=998, models=100)  # + datacenter + cloud = 1,000 sites
        if distinct:
            make_distinct(repo)
    if distinct:
        start = time.perf_counter()
        rows = read_status(repo).rows
        print(f"status, 100 models x {len(rows) // 100} distinct sites, first run (rendering every site not cached yet): {time.perf_counter() - start:.1f} s")
    config = load_config(repo)
    sites = discover_sites(repo, config)

    def cold():
        rendercache.clear(repo)
        return read_status(repo).rows

    def validate_uncached():
        rendercache.clear(repo)
        return validate_sites(repo, config, sites)

    rows, times = None, []
    read_status(repo)
    for _ in range(runs):
        start = time.perf_counter()
        rows = read_status(repo).rows
        times.append(time.perf_counter() - start)
    kind = "distinct sites" if distinct else "sites"
    print(f"status, 100 models x {len(rows) // 100} {kind} ({len(rows)} rows), warm: median {statistics.median(times):.2f} s  runs [{fmt(times)}]")
    cli, cli_runs = median_of(
        runs, lambda: subprocess.run([sys.executable, "-m", "gitops_mlops", "status", "-o", "json"], cwd=repo, check=True, capture_output=True)
    )
    print(f"  the same through the CLI (-o json, process start included): median {cli:.2f} s  runs [{fmt(cli_runs)}]")
    if not distinct:
        cold_median, cold_runs = median_of(runs, cold)
        validate_median, validate_runs = median_of(runs, validate_uncached)
        print(
            f"  cold (render cache emptied): median {cold_median:.2f} s  runs [{fmt(cold_runs)}]; validate, cold: median {validate_median:.2f} s  runs [{fmt(validate_runs)}]"
        )


def bench_history(root: Path, commits: int, runs: int) -> None:
    """A repository with ``commits`` promotion commits (models alternating), written with fast-import."""
    repo = root / "history"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    lines = []
    for n in range(1, commits + 1):
        model = f"model-{n % 10:02d}"
        message = (
            f"promote {model} 1.{n}.0 to edge/site-{n % 1000:04d}\n\nModel: {model}\nModel-Version: 1.{n}.0\n"
            f"Image: quay.io/example/{model}:1.{n}.0@{digest(str(n))}\nSites: edge/site-{n % 1000:04d}\nAction: promote\n"
        ).encode()
        body = f"pin {n}\n".encode()
        lines.append(b"commit refs/heads/main\n")
        lines.append(f"committer bench <bench@localhost> {1700000000 + n} +0000\n".encode())
        lines.append(b"data %d\n" % len(message) + message)
        lines.append(b"M 100644 inline pins.txt\n" + b"data %d\n" % len(body) + body + b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=b"".join(lines), check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=repo, check=True)
    (repo / "gitops-mlops.yaml").write_text(
        "models:\n" + "".join(f"  - name: model-{i:02d}\n    repository: quay.io/example/model-{i:02d}\n" for i in range(10))
    )
    entries, times = None, []
    for _ in range(runs):
        start = time.perf_counter()
        entries = read_history(repo, "model-03", limit=50)
        times.append(time.perf_counter() - start)
    assert len(entries) == 50
    print(f"history, last 50 of model-03 in {commits} promotion commits: median {statistics.median(times) * 1000:.0f} ms  runs [{fmt(times)}]")
    site_times = []
    for _ in range(runs):
        start = time.perf_counter()
        entries = read_history(repo, "model-03", selectors=("edge/site-0*",), limit=50)
        site_times.append(time.perf_counter() - start)
    print(f"  with a site glob (--site 'edge/site-0*'): median {statistics.median(site_times) * 1000:.0f} ms")


def bench_diff(root: Path, runs: int) -> None:
    repo = make_fleet_repo(root / "diff", edge_sites=1000, models=10)
    config = load_config(repo)
    base = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
    promote(repo, Request(model="model-01", image=f"quay.io/example/model-01:2.0.0@{digest('x')}", selectors=("edge",), force_order=True))
    edge = select(discover_sites(repo, config), ("edge",))
    validate, v_runs = median_of(runs, lambda: validate_sites(repo, config, edge))
    print(f"validate the 1,000 edge sites:             median {validate:.2f} s  runs [{fmt(v_runs)}]")
    report = None

    def run_diff():
        nonlocal report
        report = diff_refs(repo, base=base)

    diff, d_runs = median_of(runs, run_diff)
    assert len(report.sites) == 1000, len(report.sites)
    print(f"diff of that promotion (1,000 sites x 2 refs): median {diff:.2f} s  runs [{fmt(d_runs)}]  = {diff / validate:.2f}x validate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--commits", type=int, default=10000)
    parser.add_argument("--only", choices=["status", "history", "diff"])
    parser.add_argument("--workdir", help="keep the fleets here (with their render caches) and reuse them on the next run")
    parser.add_argument(
        "--distinct", action="store_true", help="status over edge sites that are all distinct builds (a first render of about half an hour on two cores)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        root = Path(args.workdir) if args.workdir else Path(tmp)
        if args.only in (None, "status"):
            bench_status(root, args.runs, args.distinct)
        if args.only in (None, "history"):
            bench_history(root, args.commits, args.runs)
        if args.only in (None, "diff"):
            bench_diff(root, args.runs)


if __name__ == "__main__":
    main()
