#!/usr/bin/env python3
"""Benchmark: `registry sync` for 10 models x 1,000 sites against the model registry stand-in.

Each model's version 1.0.0 is registered in the stand-in (testing/model_registry_server.py) and
promoted from it to every site (``promote --registry-version``, pushed). Then, timed: the first
sync (creates every serving environment and record: cold, reported apart), the sync with nothing
changed (medians; no writing request), and the sync after a new registered version of one model
reached the edge stage (medians; one PATCH per environment that changed). Every sync is timed
twice in the same run: as the tool made it before (one request at a time, a new connection each:
``baseline``) and now (``WORKERS`` requests at once, each thread keeping its connection alive),
from the same registry state (saved before the first, put back before the second). With ``--environments
site`` (the default) every site is its own ServingEnvironment: 1,000 environments, 10,000 records.
The stand-in checks every exchange against the published description with ``--validate`` (slower:
openapi-core parses each request and answer); by default it only answers, so the figures are the
tool's.

    python scripts/bench_model_registry.py [--sites 1000] [--models 10] [--runs 5] [--environments site|stage] [--validate]
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import commit_and_push, fmt, make_fleet_repo

from gitops_mlops.change.intents import PromoteRequest, Publish
from gitops_mlops.fleet.registrysync import sync
from gitops_mlops.modelregistry import client as mr_client
from gitops_mlops.promote.promotion import promote
from testing.model_registry_server import ModelRegistryServer


def digest(model: str, version: str) -> str:
    return "sha256:" + hashlib.sha256(f"{model} {version}".encode()).hexdigest()


def register_and_promote(repo: Path, server: ModelRegistryServer, model: str, version: str, stages: tuple[str, ...]) -> None:
    server.register(model, version, f"quay.io/example/{model}:{version}@{digest(model, version)}")
    request = PromoteRequest(model=model, image="", selectors=stages, registry_version=version, force_order=True)
    promote(repo, request, Publish(push=True))


MODES = {"baseline": (1, False), "now": (mr_client.WORKERS, True)}  # (requests at once, keep-alive)


def timed_sync(repo: Path, server: ModelRegistryServer, mode: str) -> tuple[float, int, int]:
    """(seconds, requests, writing requests) of one sync made as ``mode`` makes it."""
    mr_client.WORKERS, mr_client.KEEP_ALIVE = MODES[mode]
    seen, writes = len(server.seen), len(server.writes())
    start = time.perf_counter()
    sync(repo)
    return time.perf_counter() - start, len(server.seen) - seen, len(server.writes()) - writes


def each_mode(repo: Path, server: ModelRegistryServer) -> dict[str, tuple[float, int, int]]:
    """One sync per mode, each from the registry state found (saved, then put back before the next)."""
    saved = copy.deepcopy((server.environments, server.services))
    found = {}
    for mode in MODES:
        server.environments, server.services = copy.deepcopy(saved)
        found[mode] = timed_sync(repo, server, mode)
    return found


def report(what: str, runs: list[dict[str, tuple[float, int, int]]]) -> None:
    for mode in MODES:
        times = [r[mode][0] for r in runs]
        counts = sorted({r[mode][1:] for r in runs})
        print(f"  {what}, {mode:8}: median {statistics.median(times):.2f} s ({fmt(times)}), (requests, writing) {counts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--environments", choices=("site", "stage"), default="site")
    parser.add_argument("--validate", action="store_true", help="check every exchange against the published description (slower)")
    args = parser.parse_args()
    server = ModelRegistryServer(validate=args.validate)
    os.environ["MR_TOKEN"] = server.token
    with tempfile.TemporaryDirectory(prefix="bench-model-registry-") as tmp:
        repo = make_fleet_repo(Path(tmp), args.sites - 2, args.models)
        path = repo / "gitops-mlops.yaml"
        path.write_text(path.read_text() + f"modelRegistry:\n  url: {server.url}\n  tokenEnv: MR_TOKEN\n  environments: {args.environments}\n")
        commit_and_push(repo, "model registry")
        models = [f"model-{i:02d}" for i in range(1, args.models + 1)]
        start = time.perf_counter()
        for model in models:
            register_and_promote(repo, server, model, "1.0.0", ("datacenter", "cloud", "edge"))
        print(f"{len(models)} models x {args.sites} sites, environments per {args.environments}, validation {'on' if args.validate else 'off'}")
        print(f"  set-up: {len(models)} promotions from the registry, pushed: {time.perf_counter() - start:.1f} s (their write-back is the cold sync)")
        report("cold sync (creates everything)", [each_mode(repo, server)])
        print(f"    registry holds {len(server.environments)} serving environments, {len(server.services)} inference service records")
        report("nothing changed", [each_mode(repo, server) for _ in range(args.runs)])
        changed = []
        for n in range(1, args.runs + 1):
            register_and_promote(repo, server, models[0], f"1.{n}.0", ("edge",))
            changed.append(each_mode(repo, server))
        report(f"after {models[0]} reached edge", changed)
    server.close()
    if server.violations:
        print(f"  {len(server.violations)} exchanges differ from the description: {server.violations[0]}")
        sys.exit(1)


if __name__ == "__main__":
    main()
