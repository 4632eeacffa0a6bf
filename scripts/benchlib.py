"""Shared set-up for the benchmark scripts: a realistic fleet repository and median timing."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import time
from pathlib import Path

from gitops_mlops.config.scaffold import ScaffoldSpec, edge_site_names, render_layout

# The fleets pin made-up digests of quay.io/example/...: no registry is asked whether they exist.
os.environ["GITOPS_MLOPS_NO_VERIFY"] = "1"


def fleet_spec(edge_sites: int, models: int, modelcars: int = 0) -> ScaffoldSpec:
    """``models`` models, the first ``modelcars`` of them served as KServe InferenceServices with modelcars."""
    names = [f"model-{i:02d}" for i in range(1, models + 1)]
    entries = tuple((n, f"quay.io/example/{n}") + (("modelcar",) if i < modelcars else ()) for i, n in enumerate(names))
    return ScaffoldSpec(models=entries, edge_sites=edge_site_names(edge_sites))


def make_fleet_repo(root: Path, edge_sites: int, models: int, modelcars: int = 0) -> Path:
    """A committed git repository (with a bare remote 'origin') holding the fleet layout."""
    work, remote = root / "work", root / "remote.git"
    for relative, text in render_layout(fleet_spec(edge_sites, models, modelcars)).items():
        path = work / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git = lambda *a, cwd=work: subprocess.run(["git", *a], cwd=cwd, check=True, capture_output=True)  # noqa: E731
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "fleet")
    git("remote", "add", "origin", str(remote))
    git("push", "-q", "origin", "main")
    return work


def make_distinct(repo: Path) -> None:
    """Give every edge site its own annotation and its own Namespace (its workloads' namespace, and a
    Namespace object it renders, as most real overlays have), committed and pushed: no two sites share a build."""
    for path in sorted(repo.glob("overlays/edge/*/kustomization.yaml")):
        site = path.parent.name
        (path.parent / "namespace.yaml").write_text(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: serving-{site}\n")
        text = re.sub(r"^namespace: .*$", f"namespace: serving-{site}", path.read_text(), count=1, flags=re.M)
        text = text.replace("resources:\n", "resources:\n  - namespace.yaml\n", 1)
        path.write_text(text + f"commonAnnotations:\n  example.com/site: {site}\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    commit_and_push(repo, "distinct sites")


def commit_and_push(repo: Path, message: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qam", message], cwd=repo, check=True)
    subprocess.run(["git", "push", "-q", "origin", "main"], cwd=repo, check=True)


def median_of(runs: int, fn) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def fmt(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)
