#!/usr/bin/env python3
"""The closed loop, for scripts/demo.sh: run in the demo's pipeline checkout.

Starts Prometheus on loopback (Debian's package; its data backfilled with promtool) and an HTTP
listener standing in for a Tekton EventListener, adds checks to the config, then: promote
demand-forecast to the datacenter, verify it there, promote it to the cloud and the edge,
verify the edge with --act: berlin-01 fails its latency check and is rolled back and held,
singapore-01's drift check fires the retraining trigger. Without Prometheus it says so in one
line and exits 0.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SECRET = "demo-secret"


def step(text: str) -> None:
    bold = sys.stdout.isatty() and not os.environ.get("NO_COLOR")  # plain text into a pipe or a log
    print(f"\n\033[1m$ {text}\033[0m" if bold else f"\n$ {text}", flush=True)


def run(*args: str, ok: tuple[int, ...] = (0,)) -> None:
    step(" ".join(args))
    code = subprocess.run(args, env={**os.environ, "RETRAIN_SECRET": SECRET}).returncode
    if code not in ok:
        sys.exit(f"demo: {' '.join(args)} exited {code}")
    if code:
        print(f"exit code {code}", flush=True)


def listener() -> str:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            signed = hmac.compare_digest(self.headers.get("X-Hub-Signature-256", ""), "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest())
            print(f"listener: retraining trigger received, signature {'valid' if signed else 'INVALID'}: {body.decode()[:160]}...", flush=True)
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/retrain"


def checks(address: str, stage: str) -> str:
    def check(name: str, metric: str, condition: str, action: str) -> str:
        return (
            f"      - name: {name}\n"
            f"        provider: {{prometheus: {{address: '{address}'}}}}\n"
            f"        query: '{metric}" + '{model="{{args.model}}", site=~"{{args.site}}"}' + "'\n"
            f"        {condition}\n"
            f"        action: {action}\n"
        )

    latency = check("latency", "request_p99_seconds", "successCondition: result[0] < 0.25", "rollback" if stage == "edge" else "none")
    drift = check("drift", "trustyai_meanshift", "failureCondition: result[0] > 0.3", "retrain")
    return "    checks:\n" + latency + (drift if stage == "edge" else "")


def main() -> int:
    if not shutil.which("prometheus") or not shutil.which("promtool"):
        print("\n# SKIPPED: closing the loop needs Prometheus on loopback (apt-get install prometheus), and it could not be installed", flush=True)
        return 0
    from testing.prometheus_server import PrometheusServer

    latency = {"datacenter": 0.08, "cloud": 0.09, "austin-01": 0.11, "berlin-01": 0.61, "singapore-01": 0.12}
    drift = {"austin-01": 0.05, "berlin-01": 0.04, "singapore-01": 0.42}
    series = [("request_p99_seconds", {"model": "demand-forecast", "site": s}, [v]) for s, v in latency.items()]
    series += [("trustyai_meanshift", {"model": "demand-forecast", "site": s}, [v]) for s, v in drift.items()]
    with tempfile.TemporaryDirectory(prefix="gitops-mlops-demo-prometheus-") as tmp:
        server = PrometheusServer(Path(tmp)).start(series)
        try:
            url = listener()
            config = Path("gitops-mlops.yaml")
            text = config.read_text()
            for stage in ("datacenter", "edge"):
                text = text.replace(f"  - name: {stage}\n", f"  - name: {stage}\n" + checks(server.address, stage), 1)
            text = text.replace("  - name: cloud\n", "  - name: cloud\n    requireVerified: true\n", 1)
            config.write_text(text + f"retrain:\n  url: {url}\n  secretEnv: RETRAIN_SECRET\n")
            step(f"# the platform team adds checks: latency everywhere, drift at the edge; cloud takes only verified builds (Prometheus {server.address})")
            subprocess.run(["git", "commit", "-qam", "checks for the closed loop"], check=True)
            subprocess.run(["git", "push", "-q", "origin", "HEAD:main"], check=True)
            digest = "sha256:" + hashlib.sha256(b"demand-forecast 1.2.0").hexdigest()
            image = f"quay.io/example/demand-forecast:1.2.0@{digest}"
            run("gitops-mlops", "promote", "demand-forecast", image, "--to", "datacenter", "--push")
            step("# cloud before the datacenter is verified is refused (exit 3)")
            run("gitops-mlops", "promote", "demand-forecast", image, "--to", "cloud", "--push", ok=(3,))
            run("gitops-mlops", "verify", "demand-forecast", "--site", "datacenter", "--push")
            run("gitops-mlops", "promote", "demand-forecast", image, "--to", "cloud", "--push")
            run("gitops-mlops", "promote", "demand-forecast", image, "--to", "edge", "--push")
            step("# berlin-01 is slow: rolled back and held; singapore-01 drifts: the retraining pipeline is triggered")
            run("gitops-mlops", "verify", "demand-forecast", "--site", "edge", "--act", "--push", ok=(3,))
            run("gitops-mlops", "status", "--model", "demand-forecast")
            step("git log -1 --format=%B origin/main")
            subprocess.run(["git", "log", "-1", "--format=%B", "origin/main"], check=True)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
