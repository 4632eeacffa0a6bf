#!/usr/bin/env python3
"""Benchmark: `verify` of one model at 1,000 edge sites with 3 checks, against a real Prometheus on loopback.

Prometheus (Debian's package) is started with three metrics backfilled for every site
(promtool). Measured, alternating in the same run: `verify` as the tool does it (one query per
check and stage, series told apart by the site label; the verdicts recorded on the
verifications branch) and the same checks asked one site at a time, as a loop of per-site
queries would. HTTP requests are counted.

    python scripts/bench_verify.py [--sites 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import fmt, make_fleet_repo

from gitops_mlops.config import checks as checklib
from gitops_mlops.config.load import load_config
from gitops_mlops.loop.prometheus import Client
from gitops_mlops.loop.verify import verify
from testing.prometheus_server import PrometheusServer

METRICS = ("model_p99_latency_seconds", "model_error_ratio", "trustyai_meanshift")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        repo = make_fleet_repo(Path(tmp), args.sites, 1)
        names = [p.name for p in sorted((repo / "overlays/edge").iterdir())]
        samples = [(metric, {"model": "model-01", "site": name}, [0.05]) for metric in METRICS for name in names]
        server = PrometheusServer(Path(tmp) / "prometheus").start(samples)
        try:
            checks = "".join(
                f"      - name: {metric.replace('_', '-')}\n"
                f"        provider: {{prometheus: {{address: '{server.address}'}}}}\n"
                "        query: '" + metric + '{model="{{args.model}}", site=~"{{args.site}}"}' + "'\n"
                "        successCondition: 'max(result) < 0.1'\n"
                for metric in METRICS
            )
            config_path = repo / "gitops-mlops.yaml"
            config_path.write_text(config_path.read_text().replace("  - name: edge\n", "  - name: edge\n    checks:\n" + checks, 1))
            config = load_config(repo)
            print(f"repo: {args.sites} edge sites, 1 model, {len(METRICS)} checks; prometheus {server.address}")
            verify(repo, "model-01", ("edge",))  # renders once: both sides read the render cache

            def grouped() -> int:
                report = verify(repo, "model-01", ("edge",))
                assert report.verdict == "successful" and len(report.sites) == args.sites, (report.verdict, report.errors[:1])
                return report.requests

            def per_site() -> int:
                client = Client()
                for check in config.stages[-1].checks:
                    for name in names:
                        query = checklib.render_query(check.query, {"model": "model-01", "site": name})
                        assert client.query(check.provider, query)
                return client.requests

            ours, theirs, requests = [], [], {}
            for _ in range(args.runs):
                for label, fn, times in (("grouped", grouped, ours), ("per site", per_site, theirs)):
                    start = time.perf_counter()
                    requests[label] = fn()
                    times.append(time.perf_counter() - start)
            print(
                f"verify (one query per check and stage, recorded): median {statistics.median(ours):.2f} s  runs [{fmt(ours)}]  {requests['grouped']} HTTP requests a run"
            )
            print(
                f"one query per check and site (no record):        median {statistics.median(theirs):.2f} s  runs [{fmt(theirs)}]  {requests['per site']} HTTP requests a run"
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
