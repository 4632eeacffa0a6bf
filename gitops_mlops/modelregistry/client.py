"""JSON over HTTP(S) with the model registry's REST API (``/api/model_registry/v1alpha3``).

Every call goes through ``core.httpclient`` (timeouts, bounded reads, redirects within the origin,
redacted URLs); the bearer token comes from the variable ``modelRegistry.tokenEnv`` names and goes
to the registry's origin only. A 5xx answer or no answer is tried again (``ATTEMPTS`` in all, with
a growing pause). A lookup that finds nothing is ``None``; any other failure is a
``ModelRegistryError`` (exit 6) naming the call and the cause. Writing back where versions run
turns it into a ``WriteBackError`` (exit 7): see ``writeback``.
"""

from __future__ import annotations

import json
import os
import ssl
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gitops_mlops.config.modelregistry import ModelRegistrySpec
from gitops_mlops.core import httpclient
from gitops_mlops.core.errors import InputError, RegistryError
from gitops_mlops.core.keepalive import Connections

TIMEOUT = 30
ATTEMPTS = 4  # one call and three more after a 5xx or no answer
PAUSE = 0.25  # seconds before the second attempt; doubled before each next
PAGE = 1000  # entities per page of a list
WORKERS = 4  # writes at once (a bounded pool; each thread keeps its own connection)
KEEP_ALIVE = True  # one persistent connection per thread, not a new one per call


class ModelRegistryError(RegistryError):
    """The model registry failed or refused (exit 6): unreachable, 5xx after retries, 401/403, an answer not of its API."""


class Client:
    """The registry's API for one command: ``get``/``post``/``patch`` of JSON, ``find`` and ``pages``;
    safe to call from ``workers`` threads at once."""

    def __init__(self, spec: ModelRegistrySpec, repo_dir: Path | None = None, pause: float = PAUSE) -> None:
        self.spec, self.api, self.pause, self.requests = spec, spec.api, pause, 0
        self.secret = {"Authorization": f"Bearer {_token(spec)}"} if spec.token_env else {}
        self.context = _context(spec, repo_dir) if spec.url.startswith("https://") else None
        self.workers, self.attempts, self.timeout = WORKERS, ATTEMPTS, TIMEOUT
        self.connections = Connections(self.api, TIMEOUT, self.context) if KEEP_ALIVE else None
        self.counting = threading.Lock()
        self.pool: ThreadPoolExecutor | None = None

    def probe(self, timeout: float) -> None:
        """One call that lists a registered model, tried once, without a kept-alive connection: whether the
        registry answers and takes the token (a ModelRegistryError naming the cause when not)."""
        self.attempts, self.timeout, self.connections = 1, timeout, None
        self.call("GET", "/registered_models", query={"pageSize": "1"})

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None
        if self.connections is not None:
            self.connections.close()

    def each(self, call, items: list) -> list:
        """``call`` of every item, ``workers`` at a time (the same threads, each with its connection, for
        the client's life); the answers in the items' order; the first failure raised once the calls under way are done."""
        if len(items) < 2 or self.workers < 2:
            return [call(item) for item in items]
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="model-registry")
        return list(self.pool.map(call, items))

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _send(self, method: str, url: str, headers: dict, data: bytes | None) -> httpclient.Response:
        with self.counting:
            self.requests += 1
        if self.connections is not None:
            return self.connections.send(method, url, headers=headers, secret=self.secret, body=data)
        return httpclient.send(method, url, headers=headers, secret=self.secret, body=data, timeout=self.timeout, context=self.context)

    def call(self, method: str, path: str, query: dict | None = None, body: dict | None = None, missing_ok: bool = False) -> dict | None:
        """The answer's JSON object; None for a 404 when ``missing_ok``."""
        url = self.api + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json", "User-Agent": "gitops-mlops"} | ({"Content-Type": "application/json"} if data is not None else {})
        what = f"model registry {method} {httpclient.redact_url(self.api + path)}"
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.pause * 2 ** (attempt - 1))
            try:
                response = self._send(method, url, headers, data)
            except httpclient.HttpFailure as exc:
                if exc.retryable and attempt < self.attempts - 1:
                    continue
                raise ModelRegistryError(f"{what}: {exc}") from None
            if response.status >= 500 and attempt < self.attempts - 1:
                continue
            break
        if response.status == 404 and missing_ok:
            return None
        if response.status >= 300:
            raise ModelRegistryError(f"{what}: {response.status} {_cause(response.status, response.body, self.spec)}")
        try:
            answer = json.loads(response.body)
        except (ValueError, RecursionError):
            answer = None
        if not isinstance(answer, dict):
            raise ModelRegistryError(f"{what}: the answer is not a JSON object; not the model registry's API, or it changed")
        return answer

    def find(self, kind: str, **query: str) -> dict | None:
        """One entity by name (and parent): ``find("registered_model", name=...)``; None when there is none."""
        return self.call("GET", "/" + kind, query={k: v for k, v in query.items() if v}, missing_ok=True)

    def pages(self, path: str, query: dict | None = None) -> list[dict]:
        """Every item of a list, page by page."""
        items: list[dict] = []
        token = ""
        for _ in range(100_000):
            answer = self.call("GET", path, query={**(query or {}), "pageSize": str(PAGE), **({"nextPageToken": token} if token else {})})
            page = answer.get("items")
            if not isinstance(page, list) or not all(isinstance(i, dict) for i in page):
                raise ModelRegistryError(f"model registry GET {httpclient.redact_url(self.api + path)}: the answer has no list of items")
            items += page
            token = answer.get("nextPageToken") or ""
            if not token or not page:
                return items
        raise ModelRegistryError(f"model registry GET {httpclient.redact_url(self.api + path)}: the list does not end")


def _token(spec: ModelRegistrySpec) -> str:
    value = os.environ.get(spec.token_env, "")
    if not value:
        raise InputError(f"model registry {httpclient.redact_url(spec.url)}: no token in {spec.token_env} (modelRegistry.tokenEnv): set it to a bearer token")
    return value


def _context(spec: ModelRegistrySpec, repo_dir: Path | None) -> ssl.SSLContext:
    if not spec.ca_file:
        return ssl.create_default_context()
    path = Path(spec.ca_file) if Path(spec.ca_file).is_absolute() or repo_dir is None else Path(repo_dir) / spec.ca_file
    if not path.is_file():
        raise InputError(f"model registry {httpclient.redact_url(spec.url)}: caFile {spec.ca_file} does not exist")
    try:
        return ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError) as exc:
        raise InputError(f"model registry: caFile {spec.ca_file} is not a CA certificate: {exc}") from None


def _cause(status: int, body: bytes, spec: ModelRegistrySpec) -> str:
    try:
        detail = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        detail = {}
    message = str(detail.get("message", "")) if isinstance(detail, dict) else ""
    hint = {
        401: f"the token was refused (check {spec.token_env})" if spec.token_env else "the registry wants a token (set modelRegistry.tokenEnv)",
        403: "the token may not do this",
        404: "not found",
        409: "it conflicts with what the registry holds",
    }.get(status, "the registry failed" if status >= 500 else "the registry refused the request")
    return " ".join(httpclient.redact(f"{hint}: {message}" if message else hint).split())[:300]
