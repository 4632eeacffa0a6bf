#!/usr/bin/env python3
"""Benchmark: the registry client and `update` against the real distribution registry on loopback.

Starts Debian's docker-registry on a free loopback port, pushes one tiny image per
model and PUTs the same manifest under --tags tag names (1.0.0 ... 1.N.M), then times:

- resolving one tag in-process: a fresh client per call (connect + GET), and one
  client reused (keep-alive);
- `update` across --models models with --tags tags each, on a fleet repository
  (datacenter, cloud, --sites edge sites): every model's datacenter takes the
  newest tag (one promotion commit per model, kustomize validation included),
  the repository reset between runs; and the same `update` when everything is up
  to date (registry work alone). HTTP requests are counted.
  `update` makes one commit per model, all rendered and validated in one kustomize batch.

    python scripts/bench_registry.py [--models 10] [--tags 2000] [--sites 10] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent))

from benchlib import fmt, make_fleet_repo, median_of  # noqa: E402

from gitops_mlops.core.imageref import parse_image  # noqa: E402
from gitops_mlops.promote.update import Options, update  # noqa: E402
from gitops_mlops.registry.client import Endpoint, RegistryClient  # noqa: E402
from testing.registry_server import RegistryServer  # noqa: E402


def tag_names(count: int) -> list[str]:
    return [f"1.{i // 100}.{i % 100}" for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--tags", type=int, default=2000)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--resolve-runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as tmp:
        server = RegistryServer(Path(tmp) / "registry").start()
        try:
            run(server, Path(tmp), args)
        finally:
            server.stop()


def run(server: RegistryServer, tmp: Path, args) -> None:
    names = [f"model-{i:02d}" for i in range(1, args.models + 1)]
    start = time.perf_counter()

    def push(name: str) -> None:  # one tiny image, then the same manifest under every tag name
        pusher = server.pusher()
        _, manifest = pusher.image(f"example/{name}", "0.0.1")
        pusher.tags(f"example/{name}", manifest, tag_names(args.tags))
        pusher.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(push, names))
    print(f"registry: {server.host} (docker-registry), {args.models} repositories x {args.tags} tags pushed in {time.perf_counter() - start:.1f} s")

    ref = parse_image(f"{server.host}/example/{names[0]}:{tag_names(args.tags)[-1]}")
    endpoint = [Endpoint(server.host, insecure=True)]

    def fresh() -> None:
        with RegistryClient(endpoint) as client:
            client.resolve(ref)

    fresh()
    cold, cold_runs = median_of(args.resolve_runs, fresh)
    with RegistryClient(endpoint) as client:
        warm, warm_runs = median_of(args.resolve_runs, lambda: client.resolve(ref))
    print(
        f"resolve one tag, new client per call: median {cold * 1000:.2f} ms  (min {min(cold_runs) * 1000:.2f}, max {max(cold_runs) * 1000:.2f}; {args.resolve_runs} runs)"
    )
    print(
        f"resolve one tag, client reused:       median {warm * 1000:.2f} ms  (min {min(warm_runs) * 1000:.2f}, max {max(warm_runs) * 1000:.2f}; {args.resolve_runs} runs)"
    )

    repo = make_fleet_repo(tmp / "fleet", args.sites, args.models)
    config = repo / "gitops-mlops.yaml"
    config.write_text(
        config.read_text().replace("quay.io/example/", f"{server.host}/example/").replace("    - quay.io\n", f"    - {server.host}\n")
        + f"registries:\n  - host: {server.host}\n    insecure: true\n"
    )
    git = lambda *a: subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *a], cwd=repo, check=True, capture_output=True)  # noqa: E731
    for path in (*repo.glob("overlays/**/*.yaml"), *repo.glob("base/**/*.yaml")):  # the pins name the same repositories
        text = path.read_text()
        if "quay.io/example/" in text:
            path.write_text(text.replace("quay.io/example/", f"{server.host}/example/"))
    git("commit", "-qam", "models from the loopback registry")
    base = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()
    print(f"repo: datacenter, cloud, {args.sites} edge sites; {args.models} models at 1.0.0")

    totals, requests = [], []
    for n in range(1, args.runs + 1):
        git("reset", "-q", "--hard", base)
        start = time.perf_counter()
        report = update(repo, Options())
        totals.append(time.perf_counter() - start)
        requests.append(report.requests)
        promoted = [u for u in report.updates if u.status == "updated"]
        assert len(promoted) == args.models and all(u.version == tag_names(args.tags)[-1] for u in promoted), report.updates[:3]
        print(f"  run {n}: {totals[-1]:.2f} s, {len(promoted)} promotions, {report.requests} HTTP requests")
    print(
        f"update, {args.models} models x {args.tags} tags, {args.models} promotions: median {statistics.median(totals):.2f} s  runs [{fmt(totals)}]  HTTP requests {requests[0]}"
    )

    update(repo, Options())  # cloud, then edge catch up: afterwards nothing is left to promote
    update(repo, Options())
    idle, idle_requests = [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        report = update(repo, Options(models=tuple(names)))
        idle.append(time.perf_counter() - start)
        idle_requests.append(report.requests)
    assert all(u.status == "up-to-date" for u in report.updates), report.updates[:3]
    print(f"update, nothing to promote (every stage current): median {statistics.median(idle):.2f} s  runs [{fmt(idle)}]  HTTP requests {idle_requests[0]}")


if __name__ == "__main__":
    main()
