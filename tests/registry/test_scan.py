"""The scan gate: findings above policy.vulnerabilities.maxSeverity refuse a promotion (exit 3), read from a
loopback server answering in the response shape Quay documents for its security API (a contract test: Quay
does not run here), or from Trivy JSON reports."""

from __future__ import annotations

import json

import pytest

from testing.cli import cli
from testing.loopback_http import LoopbackServer, QuietHandler
from testing.paths import DIGEST_B
from testing.repos import tree_snapshot

TRIVY = {
    "SchemaVersion": 2,
    "ArtifactName": "quay.io/example/fraud-detector:1.4.0",
    "Results": [
        {
            "Target": "quay.io/example/fraud-detector:1.4.0 (rhel 9.4)",
            "Class": "os-pkgs",
            "Vulnerabilities": [
                {"VulnerabilityID": "CVE-2024-0001", "PkgName": "openssl", "InstalledVersion": "3.0.7", "FixedVersion": "3.0.8", "Severity": "HIGH"},
                {"VulnerabilityID": "CVE-2024-0002", "PkgName": "zlib", "InstalledVersion": "1.2.11", "Severity": "LOW"},
            ],
        },
        {"Target": "Python", "Class": "lang-pkgs"},
    ],
}


class Quay:
    """GET /api/v1/repository/{namespace}/{name}/manifest/{digest}/security?vulnerabilities=true, as Quay answers it."""

    def __init__(self, status: str = "scanned", severity: str = "Critical") -> None:
        self.paths: list[str] = []
        quay = self

        class Handler(QuietHandler):
            def do_GET(self):
                quay.paths.append(self.path)
                vulnerability = {
                    "Name": "CVE-2024-9999",
                    "NamespaceName": "rhel:9",
                    "Severity": severity,
                    "FixedBy": "1.1",
                    "Link": "https://access.redhat.com/security/cve/CVE-2024-9999",
                }
                body = {
                    "status": status,
                    "data": {
                        "Layer": {
                            "Name": "sha256:abc",
                            "IndexedByVersion": 4,
                            "Features": [{"Name": "onnxruntime", "Version": "1.0", "Vulnerabilities": [vulnerability]}],
                        }
                    },
                }
                data = json.dumps(body if status == "scanned" else {"status": status, "data": None}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.loopback = LoopbackServer(Handler)
        self.host = self.loopback.host

    def close(self) -> None:
        self.loopback.close()


def gate(repo, text: str, host: str = "") -> None:
    path = repo.work / "gitops-mlops.yaml"
    config = path.read_text().replace("  remoteResources: []", f"  remoteResources: []\n  vulnerabilities:\n{text}")
    if host:
        config = config.replace("quay.io/example/", f"{host}/example/").replace("    - quay.io\n", f"    - {host}\n")
        config += f"registries:\n  - host: {host}\n    insecure: true\n"
        for overlay in (repo.work / "overlays").rglob("kustomization.yaml"):
            overlay.write_text(overlay.read_text().replace("quay.io/example/", f"{host}/example/"))
    path.write_text(config)
    repo.git("commit", "-qam", "the scan gate")


def promote(repo, *extra, repository="quay.io/example/fraud-detector"):
    return cli("promote", "fraud-detector", f"{repository}:1.4.0@{DIGEST_B}", "--to", "datacenter", "--no-verify", *extra, cwd=repo.work)


def test_a_trivy_report_above_the_threshold_refuses_and_an_allowance_lets_it_through(gitops_repo, tmp_path):
    report = tmp_path / "trivy.json"
    report.write_text(json.dumps(TRIVY))
    gate(gitops_repo, "    maxSeverity: medium\n")
    snap = tree_snapshot(gitops_repo.work)
    refused = promote(gitops_repo, "--scan-report", str(report))
    assert (
        refused.code == 3
        and "scan gate: quay.io/example/fraud-detector@sha256:bbbbbbbbbbbb has 1 finding(s) above medium: CVE-2024-0001 (high, openssl)" in refused.err
    )
    assert tree_snapshot(gitops_repo.work) == snap
    gitops_repo.git("reset", "-q", "--hard", "HEAD~1")
    gate(gitops_repo, "    maxSeverity: medium\n    allow:\n      - id: CVE-2024-0001\n        until: 2099-12-31\n")
    assert promote(gitops_repo, "--scan-report", str(report)).code == 0


def test_an_expired_allowance_does_not_count(gitops_repo, tmp_path):
    report = tmp_path / "trivy.json"
    report.write_text(json.dumps(TRIVY))
    gate(gitops_repo, "    maxSeverity: medium\n    allow:\n      - id: CVE-2024-0001\n        until: 2020-01-31\n")
    assert promote(gitops_repo, "--scan-report", str(report)).code == 3


@pytest.mark.parametrize(
    ("content", "needle"),
    [("{not json", "not a Trivy JSON report"), ('{"Results": 3}', "no Results list"), ('{"Results": [{"Vulnerabilities": [{}]}]}', "'VulnerabilityID'")],
)
def test_a_report_that_does_not_parse_is_bad_input(gitops_repo, tmp_path, content, needle):
    report = tmp_path / "trivy.json"
    report.write_text(content)
    gate(gitops_repo, "    maxSeverity: high\n")
    result = promote(gitops_repo, "--scan-report", str(report))
    assert result.code == 2 and needle in result.err and len(result.err.strip().splitlines()) == 1


@pytest.fixture
def quay():
    """Quay's security API on loopback, answering as the test asks (see Quay); stopped after the test."""
    started: list[Quay] = []

    def start(**answers) -> Quay:
        started.append(Quay(**answers))
        return started[-1]

    yield start
    for server in started:
        server.close()


def test_quay_security_api_findings_gate_the_promotion(gitops_repo, quay):
    server = quay(severity="Critical")
    gate(gitops_repo, "    maxSeverity: high\n", host=server.host)
    refused = promote(gitops_repo, repository=f"{server.host}/example/fraud-detector")
    assert refused.code == 3 and "CVE-2024-9999 (critical, onnxruntime)" in refused.err
    assert server.paths == [f"/api/v1/repository/example/fraud-detector/manifest/{DIGEST_B}/security?vulnerabilities=true"]


def test_an_image_quay_has_not_scanned_is_refused(gitops_repo, quay):
    server = quay(status="queued")
    gate(gitops_repo, "    maxSeverity: critical\n", host=server.host)
    refused = promote(gitops_repo, repository=f"{server.host}/example/fraud-detector")
    assert refused.code == 3 and "is not scanned (Quay says 'queued')" in refused.err


def test_a_quay_that_cannot_be_reached_is_exit_6(gitops_repo):
    quay = Quay()
    host = quay.host
    quay.close()
    gate(gitops_repo, "    maxSeverity: high\n", host=host)
    result = promote(gitops_repo, repository=f"{host}/example/fraud-detector")
    assert result.code == 6 and "security report of example/fraud-detector" in result.err and "unreachable" in result.err


def test_a_bad_gate_is_bad_input(gitops_repo):
    gate(gitops_repo, "    maxSeverity: scary\n")
    result = promote(gitops_repo)
    assert result.code == 2 and "maxSeverity 'scary' is not one of unknown, negligible, low, medium, high, critical" in result.err
