"""A stand-in for the Kubeflow Model Registry (OpenShift AI's model registry), for contract tests.

No registry server runs here, so the tests of the model-registry client are contract tests against
the registry's published OpenAPI description (``shared/fixtures/model-registry/model-registry.yaml``,
API v1alpha3; never copied into the project). This server keeps state (registered models, their
versions and model artifacts, serving environments, inference services) for the calls the tool
makes, and checks EVERY request it receives and every response it sends against the description
with ``openapi-core``: a request or answer that drifts from the published API is recorded in
``violations`` and the tests fail on it. The description lists its servers as localhost:8080; the
checks present each request as sent there (the path, query, headers and body are the real ones).
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from testing.loopback_http import LoopbackServer, QuietHandler
from testing.paths import PROJECT_ROOT

BASE = "/api/model_registry/v1alpha3"
_description: list = []
_lock = threading.Lock()


def fixtures_dir() -> Path:
    """The published API descriptions: ``GITOPS_MLOPS_FIXTURES``, else ``../shared/fixtures`` beside the project.

    Where neither exists (a clone elsewhere) the test is skipped with one line; under CI=true it fails."""
    override = os.environ.get("GITOPS_MLOPS_FIXTURES", "").strip()
    path = Path(override) if override else PROJECT_ROOT.parent / "shared" / "fixtures"
    if (path / "model-registry" / "model-registry.yaml").is_file():
        return path
    reason = f"no model registry description at {path / 'model-registry'} (set GITOPS_MLOPS_FIXTURES or check the project out beside shared/)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def description():
    """The published description, parsed once per process (openapi-core's OpenAPI)."""
    with _lock:
        if not _description:
            from openapi_core import OpenAPI

            _description.append(OpenAPI.from_file_path(str(fixtures_dir() / "model-registry" / "model-registry.yaml")))
    return _description[0]


class _Request:
    """A request as openapi-core reads it (its Request protocol)."""

    def __init__(self, method: str, path: str, query: str, headers: dict, body: bytes | None) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        self.host_url = "http://localhost:8080"  # the description's server
        self.path, self.method, self.body = path, method.lower(), body or None
        self.content_type = headers.get("content-type", "application/json" if body else "")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(urllib.parse.parse_qsl(query, keep_blank_values=True)), header=Headers(headers), cookie=ImmutableMultiDict()
        )


@dataclass
class _Response:
    status_code: int
    data: bytes
    content_type: str = "application/json"
    headers: dict = field(default_factory=lambda: {"Content-Type": "application/json"})


@dataclass
class Seen:
    method: str
    path: str  # with the query
    body: object
    status: int


class ModelRegistryServer:
    """The registry's state and the loopback server answering for it; ``fail`` queues statuses to answer first."""

    def __init__(self, token: str = "mr-token-s3cr3t", validate: bool = True) -> None:
        self.token, self.validate = token, validate
        self.ids = itertools.count(1)
        self.models: dict[str, dict] = {}
        self.versions: dict[str, dict] = {}
        self.artifacts: dict[str, list[dict]] = {}  # model version id -> its model artifacts
        self.environments: dict[str, dict] = {}
        self.services: dict[str, dict] = {}
        self.seen: list[Seen] = []
        self.violations: list[str] = []
        self.fail: dict[tuple[str, str], list[int]] = {}  # (method, path without the base) -> statuses to answer, in turn
        if validate:
            description()
        self.server = LoopbackServer(_handler(self))
        self.url = f"http://{self.server.host}"

    def close(self) -> None:
        self.server.close()

    # ---------------------------------------------------------------- seeding, as data scientists register

    def _new(self, **values) -> dict:
        now = str(int(time.time() * 1000))
        return {"id": str(next(self.ids)), "createTimeSinceEpoch": now, "lastUpdateTimeSinceEpoch": now, "customProperties": {}, **values}

    def register(self, model: str, version: str, uri: str, model_format: str = "onnx", state: str = "LIVE", artifact: bool = True) -> dict:
        """A version of a registered model (made if new) with one model artifact at ``uri``; the version."""
        found = next((m for m in self.models.values() if m["name"] == model), None)
        if found is None:
            found = self._new(name=model, state="LIVE")
            self.models[found["id"]] = found
        made = self._new(name=version, registeredModelId=found["id"], state=state, author="data-scientist")
        self.versions[made["id"]] = made
        self.artifacts[made["id"]] = []
        if artifact:
            self.artifacts[made["id"]].append(
                self._new(name=f"{model}-{version}", uri=uri, modelFormatName=model_format, modelFormatVersion="1", artifactType="model-artifact", state="LIVE")
            )
        return made

    def writes(self) -> list[Seen]:
        return [s for s in self.seen if s.method in ("POST", "PATCH", "PUT", "DELETE")]

    # ---------------------------------------------------------------- the API

    def answer(self, method: str, path: str, query: dict, body) -> tuple[int, object]:
        for (m, p), statuses in self.fail.items():
            if m == method and p == path and statuses:
                status = statuses.pop(0)
                return status, {"code": str(status), "message": "injected failure"}
        route = _ROUTES.get((method, _shape(path)))
        if route is None:
            return 404, {"code": "404", "message": f"no route {method} {path}"}
        try:
            return route(self, path, query, body)
        except (KeyError, TypeError, AttributeError, ValueError):  # a body without what the call needs (also a violation, recorded)
            return 400, {"code": "400", "message": "bad request"}


def _shape(path: str) -> str:
    return "/".join("{id}" if part.isdigit() else part for part in path.split("/"))


def _not_found(what: str) -> tuple[int, dict]:
    return 404, {"code": "404", "message": f"{what} not found"}


def _one(items, what: str, **match) -> tuple[int, object]:
    found = [i for i in items if all(i.get(k) == v for k, v in match.items() if v is not None)]
    return (200, found[0]) if found else _not_found(what)


def _page(items: list[dict], query: dict) -> tuple[int, dict]:
    size = int(query.get("pageSize", "100"))
    start = int(query.get("nextPageToken") or 0)
    chunk = items[start : start + size]
    more = start + size < len(items)
    return 200, {"items": chunk, "size": len(chunk), "pageSize": size, "nextPageToken": str(start + size) if more else ""}


def _find_model(s: ModelRegistryServer, path, query, body):
    return _one(s.models.values(), "registered model", name=query.get("name"))


def _find_version(s: ModelRegistryServer, path, query, body):
    return _one(s.versions.values(), "model version", name=query.get("name"), registeredModelId=query.get("parentResourceId"))


def _registered_models(s: ModelRegistryServer, path, query, body):
    return _page(list(s.models.values()), query)


def _model_versions(s: ModelRegistryServer, path, query, body):
    model = path.split("/")[2]
    if model not in s.models:
        return _not_found("registered model")
    return _page([v for v in s.versions.values() if v["registeredModelId"] == model], query)


def _version_artifacts(s: ModelRegistryServer, path, query, body):
    version = path.split("/")[2]
    if version not in s.versions:
        return _not_found("model version")
    kind = query.get("artifactType")
    return _page([a for a in s.artifacts[version] if kind in (None, a["artifactType"])], query)


def _find_environment(s: ModelRegistryServer, path, query, body):
    return _one(s.environments.values(), "serving environment", name=query.get("name"))


def _environments(s: ModelRegistryServer, path, query, body):
    return _page(list(s.environments.values()), query)


def _create_environment(s: ModelRegistryServer, path, query, body):
    if any(e["name"] == body["name"] for e in s.environments.values()):
        return 409, {"code": "409", "message": f"serving environment {body['name']} already exists"}
    made = s._new(**body)
    s.environments[made["id"]] = made
    return 201, made


def _find_service(s: ModelRegistryServer, path, query, body):
    return _one(s.services.values(), "inference service", name=query.get("name"), servingEnvironmentId=query.get("parentResourceId"))


def _services(s: ModelRegistryServer, path, query, body):
    return _page(list(s.services.values()), query)


def _create_service(s: ModelRegistryServer, path, query, body):
    if body["servingEnvironmentId"] not in s.environments or body["registeredModelId"] not in s.models:
        return 400, {"code": "400", "message": "no such serving environment or registered model"}
    if any(i.get("name") == body.get("name") and i["servingEnvironmentId"] == body["servingEnvironmentId"] for i in s.services.values()):
        return 409, {"code": "409", "message": f"inference service {body.get('name')} already exists"}
    made = s._new(**{"desiredState": "DEPLOYED", **body})
    s.services[made["id"]] = made
    return 200, made  # the description answers a created InferenceService with 200


def _update_service(s: ModelRegistryServer, path, query, body):
    found = s.services.get(path.split("/")[2])
    if found is None:
        return _not_found("inference service")
    found.update(body, lastUpdateTimeSinceEpoch=str(int(time.time() * 1000)))
    return 200, found


_ROUTES = {
    ("GET", "/registered_model"): _find_model,
    ("GET", "/registered_models"): _registered_models,
    ("GET", "/registered_models/{id}/versions"): _model_versions,
    ("GET", "/model_version"): _find_version,
    ("GET", "/model_versions/{id}/artifacts"): _version_artifacts,
    ("GET", "/serving_environment"): _find_environment,
    ("GET", "/serving_environments"): _environments,
    ("POST", "/serving_environments"): _create_environment,
    ("GET", "/inference_service"): _find_service,
    ("GET", "/inference_services"): _services,
    ("POST", "/inference_services"): _create_service,
    ("PATCH", "/inference_services/{id}"): _update_service,
}


def _handler(state: ModelRegistryServer):
    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body leave at once, as a real server's do (no delayed-ACK stall on keep-alive)

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            request = _Request(self.command, path, query, headers, raw)
            if state.validate:
                self._check(lambda: description().validate_request(request), f"request {self.command} {self.path}")
            if headers.get("authorization") != f"Bearer {state.token}":
                status, payload = 401, {"code": "401", "message": "unauthorized"}
            elif not path.startswith(BASE + "/"):
                status, payload = 404, {"code": "404", "message": "not the model registry's API"}
            else:
                with _lock:
                    status, payload = state.answer(self.command, path[len(BASE) :], dict(urllib.parse.parse_qsl(query)), body)
            data = json.dumps(payload).encode()
            if state.validate:
                response = _Response(status, data)
                self._check(lambda: description().validate_response(request, response), f"response {status} to {self.command} {self.path}")
            state.seen.append(Seen(self.command, self.path, body, status))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _check(self, run, what: str) -> None:
            try:
                run()
            except Exception as exc:  # openapi-core's findings: every one is a drift from the published API
                cause = getattr(exc, "__cause__", None)
                state.violations.append(f"{what}: {type(exc).__name__}: {exc}" + (f" ({cause})" if cause else ""))

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

    return Handler
