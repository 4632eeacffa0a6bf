"""The scan gate: an image may be promoted only when its vulnerability report has no finding above
``policy.vulnerabilities.maxSeverity`` that is not allowed (``allow: [{id, until}]``).

The report is the registry's: Quay's security API for the manifest digest
(``/api/v1/repository/NAMESPACE/NAME/manifest/DIGEST/security?vulnerabilities=true``, Clair's
findings), or a file given with ``--scan-report`` (Trivy's JSON). An image Quay has not scanned
yet (queued, failed, unsupported) is refused too: the gate never passes what it could not see.
"""

from __future__ import annotations

import datetime
import json
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from gitops_mlops.config.load import Config
from gitops_mlops.config.policy import SEVERITIES
from gitops_mlops.config.registries import RegistrySpec
from gitops_mlops.core import httpclient
from gitops_mlops.core.errors import InputError, PolicyError, RegistryError
from gitops_mlops.core.imageref import ImageRef

MAX_REPORT = 32 * 1024 * 1024
_ALIASES = {"defcon1": "critical", "moderate": "medium", "important": "high"}


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str  # one of SEVERITIES
    package: str
    fixed_by: str = ""


def severity(text: str) -> str:
    name = str(text or "unknown").strip().lower()
    name = _ALIASES.get(name, name)
    return name if name in SEVERITIES else "unknown"


def check(config: Config, image: ImageRef, report_file: Path | None = None, today: datetime.date | None = None) -> list[Finding]:
    """Refuse (exit 3) when the image has a finding above the threshold that is not allowed; the findings read."""
    gate = config.policy.vulnerabilities
    if gate is None:
        return []
    findings = read_trivy(report_file) if report_file is not None else read_quay(config, image)
    today = today or datetime.date.today()
    allowed = {a.id for a in gate.allow if a.until >= today}
    limit = SEVERITIES.index(gate.max_severity)
    blocking = [f for f in findings if SEVERITIES.index(f.severity) > limit and f.id not in allowed]
    if blocking:
        shown = ", ".join(f"{f.id} ({f.severity}, {f.package})" for f in blocking[:5]) + (f" and {len(blocking) - 5} more" if len(blocking) > 5 else "")
        raise PolicyError(f"scan gate: {image.repository}@{image.digest[:19]} has {len(blocking)} finding(s) above {gate.max_severity}: {shown}")
    return findings


def read_trivy(path: Path) -> list[Finding]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        results = data["Results"] if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise ValueError("no Results list")
        return [
            Finding(v["VulnerabilityID"], severity(v.get("Severity")), v.get("PkgName", ""), v.get("FixedVersion", ""))
            for result in results
            for v in (result.get("Vulnerabilities") or [])
        ]
    except OSError as exc:
        raise InputError(f"--scan-report {path}: cannot read: {exc.strerror}") from None
    except (ValueError, RecursionError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"--scan-report {path}: not a Trivy JSON report: {exc}") from None


def read_quay(config: Config, image: ImageRef) -> list[Finding]:
    spec = next((r for r in config.registries if r.host == image.registry), RegistrySpec(image.registry))
    scheme = "http" if spec.insecure else "https"
    path = urllib.parse.quote(image.path, safe="/")
    url = f"{scheme}://{image.registry}/api/v1/repository/{path}/manifest/{image.digest}/security?vulnerabilities=true"
    secret = {}
    token_env = config.policy.vulnerabilities.token_env
    if token_env:
        token = os.environ.get(token_env, "")
        if not token:
            raise InputError(f"policy.vulnerabilities.tokenEnv names {token_env}, which is not set")
        secret["Authorization"] = f"Bearer {token}"
    where = f"registry {image.registry}: security report of {image.path}@{image.digest[:19]}"
    try:  # a redirect to another origin is refused: the gate reads only the registry's own verdict
        response = httpclient.send("GET", url, headers={"Accept": "application/json"}, secret=secret, timeout=30, limit=MAX_REPORT)
    except httpclient.HttpFailure as exc:
        raise RegistryError(f"{where}: {exc}") from None
    if response.status >= 300:
        raise RegistryError(f"{where}: HTTP {response.status}")
    try:
        data = json.loads(response.body)
    except (ValueError, RecursionError):
        raise RegistryError(f"{where}: the answer is not JSON") from None
    status = data.get("status") if isinstance(data, dict) else None
    if status != "scanned":
        raise PolicyError(f"scan gate: {image.repository}@{image.digest[:19]} is not scanned (Quay says {status!r}); the gate passes only what it has seen")
    layer = data.get("data").get("Layer") if isinstance(data.get("data"), dict) else None
    try:  # a report the gate cannot read whole never passes it
        if not isinstance(layer, dict):
            raise TypeError("no data.Layer")
        return [
            Finding(str(v.get("Name", "?")), severity(v.get("Severity")), str(f.get("Name", "")), str(v.get("FixedBy", "")))
            for f in layer.get("Features") or []
            for v in (f.get("Vulnerabilities") or [])
        ]
    except (AttributeError, TypeError) as exc:
        raise RegistryError(f"{where}: the report is not Quay's security report ({exc})") from None
