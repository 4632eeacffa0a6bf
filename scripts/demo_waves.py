#!/usr/bin/env python3
"""An edge rollout in three waves, for scripts/demo.sh: on a copy of the example of its own.

The copy enables waves at the edge (berlin-01 first, then half the fleet, then the rest; 30 minutes
of soak after each) and a latency check there, against Prometheus on loopback (Debian's package;
data backfilled with promtool). ``gitops-mlops rollout`` then drives fraud-detector 1.4.0 through
the waves, verifying each wave once it has soaked; 1.5.0 fails its check in the second wave and is
rolled back and held. Hours pass in seconds: the demo sets the clock (GITOPS_MLOPS_NOW, and git's
GIT_COMMITTER_DATE for the commits). Without Prometheus it says so in one line and exits 0.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
START = datetime.now(UTC).replace(microsecond=0)


def step(text: str) -> None:
    bold = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    print(f"\n\033[1m$ {text}\033[0m" if bold else f"\n$ {text}", flush=True)


def run(*args: str, minutes: int = 0, ok: tuple[int, ...] = (0,), cwd: Path | None = None, quiet: bool = False) -> None:
    """A command with the clock ``minutes`` after the start of the demo."""
    when = (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if not quiet:
        step(f"GITOPS_MLOPS_NOW=+{minutes // 60}h{minutes % 60:02d}m " + " ".join(args) if minutes else " ".join(args))
    env = {**os.environ, "GITOPS_MLOPS_NOW": when, "GIT_COMMITTER_DATE": when, "GITOPS_MLOPS_NO_VERIFY": "1"}
    out = subprocess.DEVNULL if quiet else None
    code = subprocess.run(args, env=env, cwd=cwd, stdout=out, stderr=out).returncode
    if code not in ok:
        sys.exit(f"demo: {' '.join(args)} exited {code}")
    if code and not quiet:
        print(f"exit code {code}", flush=True)


def image(version: str) -> str:
    return f"quay.io/example/fraud-detector:{version}@sha256:" + hashlib.sha256(f"fraud-detector {version}".encode()).hexdigest()


def copy_of_example(root: Path) -> Path:
    """The example layout in a bare remote and a clone of it."""
    seed, remote = root / "seed", root / "remote.git"
    seed.mkdir()
    for name in ("gitops-mlops.yaml", "base", "overlays", "environments"):
        (shutil.copytree if (PROJECT / name).is_dir() else shutil.copy)(PROJECT / name, seed / name)
    git = lambda *a, cwd=seed: subprocess.run(["git", *a], cwd=cwd, check=True, capture_output=True)  # noqa: E731
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-qm", "example GitOps repository")
    git("init", "-q", "--bare", "-b", "main", str(remote), cwd=root)
    git("push", "-q", str(remote), "main")
    git("clone", "-q", str(remote), str(root / "pipeline"), cwd=root)
    return root / "pipeline"


def enable_waves(work: Path, address: str) -> None:
    """Edge in three waves with a 30m soak each, a latency check per build at the edge; cloud must have run a build 1h."""
    query = 'request_p99_seconds{model="{{args.model}}", version="{{args.version}}", site=~"{{args.site}}"}'
    edge = (
        "  - name: edge\n    soak: 1h\n"
        "    checks:\n      - name: latency\n"
        f"        provider: {{prometheus: {{address: '{address}'}}}}\n"
        f"        query: '{query}'\n        successCondition: 'max(result) < 0.25'\n"
        "    waves:\n"
        "      - sites: edge/berlin-01\n        soak: 30m\n"
        "      - sites: 50%\n        soak: 30m\n"
        "      - sites: 100%\n"
    )
    config = work / "gitops-mlops.yaml"
    config.write_text(config.read_text().replace("  - name: edge\n", edge, 1))
    subprocess.run(["git", "commit", "-qam", "edge in three waves, with a soak and a latency check"], cwd=work, check=True)
    subprocess.run(["git", "push", "-q", "origin", "main"], cwd=work, check=True)


def main() -> int:
    if not shutil.which("prometheus") or not shutil.which("promtool"):
        print("\n# SKIPPED: the edge rollout in waves needs Prometheus on loopback (apt-get install prometheus)", flush=True)
        return 0
    from testing.prometheus_server import PrometheusServer

    sites = ("austin-01", "berlin-01", "singapore-01")
    series = [("request_p99_seconds", {"model": "fraud-detector", "version": "1.4.0", "site": s}, [0.1]) for s in sites]
    series += [("request_p99_seconds", {"model": "fraud-detector", "version": "1.5.0", "site": s}, [0.1 if s == "berlin-01" else 0.7]) for s in sites]
    with tempfile.TemporaryDirectory(prefix="gitops-mlops-demo-waves-") as tmp:
        server = PrometheusServer(Path(tmp) / "prometheus").start(series)
        try:
            work = copy_of_example(Path(tmp))
            os.chdir(work)
            for stage in ("datacenter", "cloud", "edge"):
                run("gitops-mlops", "promote", "fraud-detector", image("1.3.0"), "--to", stage, "--member-only", "--push", quiet=True)
            enable_waves(work, server.address)
            step(
                f"# a fresh copy of the example: 1.3.0 everywhere; edge now takes a build in three waves, each soaked 30m and checked (Prometheus {server.address}); fraud-detector moves alone here (--member-only), apart from its release"
            )
            run("sed", "-n", "/- name: edge/,/- sites: 100%/p", "gitops-mlops.yaml")
            for stage in ("datacenter", "cloud"):
                run("gitops-mlops", "promote", "fraud-detector", image("1.4.0"), "--to", stage, "--member-only", "--push")
            drive(image("1.4.0"))
            step("# 1.5.0 is slow everywhere but berlin-01: the second wave fails its check, the rollout rolls the edge back and holds 1.5.0")
            for stage in ("datacenter", "cloud"):
                run("gitops-mlops", "promote", "fraud-detector", image("1.5.0"), "--to", stage, "--member-only", "--push", minutes=300, quiet=True)
            for minutes in (400, 435):
                run("gitops-mlops", "rollout", "fraud-detector", image("1.5.0"), "--to", "edge", "--member-only", "--push", minutes=minutes)
            run("gitops-mlops", "rollout", "fraud-detector", image("1.5.0"), "--to", "edge", "--member-only", "--push", minutes=470, ok=(3,))
            run("gitops-mlops", "status", "--summary", "--model", "fraud-detector", minutes=470)
            run("git", "log", "-1", "--format=%B", "origin/main")
        finally:
            server.stop()
    return 0


def drive(built: str) -> None:
    """fraud-detector 1.4.0 through the edge waves, hours apart on the demo's clock."""
    rollout = ("gitops-mlops", "rollout", "fraud-detector", built, "--to", "edge", "--member-only", "--push")
    step("# edge waits until cloud has run the build for its soak (1h)")
    run(*rollout, minutes=10)
    step("# an hour later: the first wave, berlin-01")
    run(*rollout, minutes=70)
    step("# promoting the next wave by hand is refused while the first soaks (exit 3)")
    run("gitops-mlops", "promote", "fraud-detector", built, "--to", "edge", "--member-only", "--wave", "next", "--push", minutes=80, ok=(3,))
    run("gitops-mlops", "status", "--summary", "--model", "fraud-detector", minutes=80)
    step("# soaked: the rollout verifies berlin-01 against Prometheus, then the second wave goes")
    run(*rollout, minutes=105)
    step("# --watch steps until the stage is done (a pipeline's last task)")
    run(*rollout, "--watch", "--interval", "1s", minutes=140)
    run("gitops-mlops", "history", "fraud-detector", "--limit", "4")


if __name__ == "__main__":
    sys.exit(main())
