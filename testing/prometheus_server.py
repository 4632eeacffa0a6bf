"""A real Prometheus (Debian's package) on a free loopback port, its data backfilled with promtool.

Series are written as OpenMetrics with timestamps in the last minutes and turned into TSDB
blocks by ``promtool tsdb create-blocks-from openmetrics`` before Prometheus starts, so an
instant query sees them at once. Missing binaries fail the test with how to install them.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from testing.registry_server import free_port, self_signed_loopback_cert


def require(binary: str) -> str:
    found = shutil.which(binary)
    if found is None:
        raise RuntimeError(f"{binary} not found: apt-get install prometheus (scripts/bootstrap.sh --with-monitoring does it)")
    return found


@dataclass
class PrometheusServer:
    root: Path
    tls: bool = False  # HTTPS with a self-signed certificate for 127.0.0.1 (``ca_file``), through Prometheus's web config
    port: int = 0
    now: int = 0  # the time the samples were written relative to: the last value of each series is at now - 30
    process: subprocess.Popen | None = None
    series: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.root / "tls.crt"

    def start(self, samples: list[tuple[str, dict[str, str], list[float]]]) -> PrometheusServer:
        """Each (metric, labels, values): the values a minute apart, the last one 30 s ago."""
        self.root.mkdir(parents=True, exist_ok=True)
        now = self.now = int(time.time())
        lines = []
        for metric in sorted({m for m, _, _ in samples}):
            lines.append(f"# TYPE {metric} gauge\n")
            for name, labels, values in samples:
                if name != metric:
                    continue
                shown = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
                for i, value in enumerate(values):
                    lines.append(f"{metric}{{{shown}}} {value} {now - 30 - 60 * (len(values) - 1 - i)}\n")
        lines.append("# EOF\n")
        (self.root / "data.om").write_text("".join(lines))
        tsdb = self.root / "tsdb"
        subprocess.run(
            [require("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(self.root / "data.om"), str(tsdb)], check=True, capture_output=True
        )
        (self.root / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\n")
        self.port = free_port()
        web = []
        if self.tls:
            cert, key = self_signed_loopback_cert(self.root)
            (self.root / "web.yml").write_text(f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n")
            web = [f"--web.config.file={self.root / 'web.yml'}"]
        self.process = subprocess.Popen(
            [
                require("prometheus"),
                f"--config.file={self.root / 'prometheus.yml'}",
                f"--storage.tsdb.path={tsdb}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                *web,
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "prometheus.log", "wb"),
        )
        deadline = time.monotonic() + 30
        import ssl

        context = ssl.create_default_context(cafile=str(self.ca_file)) if self.tls else None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.address}/-/ready", timeout=1, context=context) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"prometheus did not become ready: {(self.root / 'prometheus.log').read_text()[-500:]}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None


@contextmanager
def running(root: Path, samples: list[tuple[str, dict[str, str], list[float]]]) -> Iterator[PrometheusServer]:
    """A Prometheus holding ``samples`` for the length of a ``with`` (a module's fixture); a test fails,
    naming what is missing, when Prometheus or promtool is not installed."""
    import pytest

    try:
        server = PrometheusServer(root).start(samples)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
