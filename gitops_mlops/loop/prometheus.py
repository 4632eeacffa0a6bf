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
import urllib.parse
from dataclasses import dataclass

from gitops_mlops.config.checks import Prometheus
from gitops_mlops.core import httpclient, settings
from gitops_mlops.core.errors import InputError, MonitoringError

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
        headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
        where = f"prometheus {httpclient.redact_url(provider.address)}"
        self.requests += 1
        try:
            # POST, as the API allows: a stage of thousands of sites makes a query longer than a URL should be.
            # A redirect to another origin is refused: a verdict comes only from the Prometheus configured.
            response = httpclient.send(
                "POST",
                f"{provider.address}/api/v1/query",
                headers=headers,
                secret=_auth(provider),
                body=urllib.parse.urlencode(params).encode(),
                timeout=settings.monitoring_timeout(),
                limit=MAX_RESPONSE,
                context=_tls(provider),
            )
        except httpclient.HttpFailure as exc:
            raise MonitoringError(f"{where}: {exc}") from None
        if response.status >= 300:
            raise MonitoringError(f"{where}: {_error_of(response.body) or f'HTTP {response.status}'}")
        return _vector(provider, response.body)


def _auth(provider: Prometheus) -> dict[str, str]:
    if not provider.bearer_token_env:
        return {}
    token = os.environ.get(provider.bearer_token_env, "")
    if not token:
        raise InputError(f"prometheus {httpclient.redact_url(provider.address)}: bearerTokenEnv names {provider.bearer_token_env}, which is not set")
    return {"Authorization": f"Bearer {token}"}


def _tls(provider: Prometheus) -> ssl.SSLContext | None:
    if not provider.address.startswith("https://"):
        return None
    if provider.ca_file and not os.path.isfile(provider.ca_file):
        raise InputError(f"prometheus {httpclient.redact_url(provider.address)}: caFile {provider.ca_file} does not exist")
    return ssl.create_default_context(cafile=provider.ca_file or None)


def _error_of(body: bytes) -> str:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return ""
    if isinstance(data, dict) and data.get("status") == "error":
        return f"{data.get('errorType', 'error')}: {data.get('error', '')}".strip()
    return ""


def _vector(provider: Prometheus, body: bytes) -> list[Sample]:
    where = f"prometheus {httpclient.redact_url(provider.address)}"
    if len(body) > MAX_RESPONSE:
        raise MonitoringError(f"{where}: response larger than {MAX_RESPONSE} bytes")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise MonitoringError(f"{where}: the answer is not JSON: not a Prometheus API") from None
    if not isinstance(data, dict) or "status" not in data:
        raise MonitoringError(f"{where}: the answer is not a Prometheus API response")
    if data["status"] != "success":
        raise MonitoringError(f"{where}: {_error_of(body) or 'status ' + str(data['status'])}")
    inner = data.get("data") if isinstance(data.get("data"), dict) else {}
    result, kind = inner.get("result"), inner.get("resultType")
    try:
        if kind == "scalar":
            return [Sample((), _number(result[1]))]
        if kind == "vector" and isinstance(result, list):
            return [Sample(tuple(sorted((str(k), str(v)) for k, v in (item.get("metric") or {}).items())), _number(item["value"][1])) for item in result]
    except (KeyError, IndexError, TypeError, AttributeError):
        raise MonitoringError(f"{where}: the {kind} in the answer is malformed") from None
    raise MonitoringError(f"{where}: expected an instant vector, got {kind!r}")


def _number(text: str) -> float:
    try:
        return float(text)  # 'NaN', '+Inf' included
    except (TypeError, ValueError):
        return math.nan
