"""The Prometheus HTTP API, as far as checks need it: one instant query, its vector by series.

Anything but a well-formed answer is a MonitoringError (exit 7) naming the address and the
cause: unreachable, a timeout, not Prometheus, or Prometheus's own error (a PromQL syntax
error says where). A bearer token is read from the variable the config names and is never
shown.
"""

from __future__ import annotations

import json
import math
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from gitops_mlops import settings
from gitops_mlops.checks import Prometheus
from gitops_mlops.errors import InputError, MonitoringError

MAX_RESPONSE = 64 * 1024 * 1024


@dataclass(frozen=True)
class Sample:
    labels: tuple[tuple[str, str], ...]
    value: float

    def label(self, name: str) -> str | None:
        for key, value in self.labels:
            if key == name:
                return value
        return None


class Client:
    """Queries, counted, with one connection setting per provider."""

    def __init__(self) -> None:
        self.requests = 0

    def query(self, provider: Prometheus, promql: str, at: float | None = None) -> list[Sample]:
        """The instant vector of ``promql`` at ``at`` (a Unix time; default: Prometheus's now)."""
        params = {"query": promql} | ({"time": f"{at:.3f}"} if at is not None else {})
        headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded", **_auth(provider)}
        # POST, as the API allows: a stage of thousands of sites makes a query longer than a URL should be
        request = urllib.request.Request(f"{provider.address}/api/v1/query", data=urllib.parse.urlencode(params).encode(), headers=headers, method="POST")
        self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=settings.monitoring_timeout(), context=_tls(provider)) as response:
                body = response.read(MAX_RESPONSE + 1)
        except urllib.error.HTTPError as exc:
            body = exc.read(MAX_RESPONSE + 1)
            raise MonitoringError(f"prometheus {provider.address}: {_error_of(body) or f'HTTP {exc.code}'}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise MonitoringError(f"prometheus {provider.address}: unreachable: {reason}") from None
        return _vector(provider, body)


def _auth(provider: Prometheus) -> dict[str, str]:
    if not provider.bearer_token_env:
        return {}
    token = os.environ.get(provider.bearer_token_env, "")
    if not token:
        raise InputError(f"prometheus {provider.address}: bearerTokenEnv names {provider.bearer_token_env}, which is not set")
    return {"Authorization": f"Bearer {token}"}


def _tls(provider: Prometheus) -> ssl.SSLContext | None:
    if not provider.address.startswith("https://"):
        return None
    if provider.ca_file and not os.path.isfile(provider.ca_file):
        raise InputError(f"prometheus {provider.address}: caFile {provider.ca_file} does not exist")
    return ssl.create_default_context(cafile=provider.ca_file or None)


def _error_of(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    if isinstance(data, dict) and data.get("status") == "error":
        return f"{data.get('errorType', 'error')}: {data.get('error', '')}".strip()
    return ""


def _vector(provider: Prometheus, body: bytes) -> list[Sample]:
    if len(body) > MAX_RESPONSE:
        raise MonitoringError(f"prometheus {provider.address}: response larger than {MAX_RESPONSE} bytes")
    try:
        data = json.loads(body)
    except ValueError:
        raise MonitoringError(f"prometheus {provider.address}: the answer is not JSON: not a Prometheus API") from None
    if not isinstance(data, dict) or "status" not in data:
        raise MonitoringError(f"prometheus {provider.address}: the answer is not a Prometheus API response")
    if data["status"] != "success":
        raise MonitoringError(f"prometheus {provider.address}: {_error_of(body) or 'status ' + str(data['status'])}")
    result = (data.get("data") or {}).get("result")
    kind = (data.get("data") or {}).get("resultType")
    if kind == "scalar":
        return [Sample((), _number(result[1]))]
    if kind != "vector" or not isinstance(result, list):
        raise MonitoringError(f"prometheus {provider.address}: expected an instant vector, got {kind!r}")
    return [Sample(tuple(sorted((item.get("metric") or {}).items())), _number(item["value"][1])) for item in result]


def _number(text: str) -> float:
    try:
        return float(text)  # 'NaN', '+Inf' included
    except (TypeError, ValueError):
        return math.nan
