"""The Prometheus API client: one instant query (POST, as the API allows), its vector read by series,
and anything else a MonitoringError (exit 7) naming the address, never the token.

The answers come from a loopback server speaking the API's documented JSON (the real Prometheus is
queried end to end in test_verify.py)."""

from __future__ import annotations

import json
import math
import urllib.parse

import pytest

from gitops_mlops.config.checks import Prometheus
from gitops_mlops.core.errors import InputError, MonitoringError
from gitops_mlops.loop.prometheus import Client, Sample
from testing.loopback_http import LoopbackServer, QuietHandler

VECTOR = {
    "status": "success",
    "data": {"resultType": "vector", "result": [{"metric": {"site": "edge/a", "job": "x"}, "value": [1, "0.25"]}, {"metric": {}, "value": [1, "NaN"]}]},
}


class Api:
    """Answers every query with ``answer`` (status, body); records each request's headers and form."""

    def __init__(self, status: int = 200, body: bytes | dict = VECTOR) -> None:
        self.status, self.body = status, body if isinstance(body, bytes) else json.dumps(body).encode()
        self.seen: list[tuple[str, str, dict, dict]] = []
        api = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()))
                api.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, form))
                self.send_response(api.status)
                self.send_header("Content-Length", str(len(api.body)))
                self.end_headers()
                self.wfile.write(api.body)

        self.server = LoopbackServer(Handler)
        self.address = f"http://{self.server.host}"


@pytest.fixture
def api():
    made: list[Api] = []

    def make(*args, **kw) -> Api:
        made.append(Api(*args, **kw))
        return made[-1]

    yield make
    for one in made:
        one.server.close()


def test_an_instant_query_is_posted_and_its_vector_read_by_series(api):
    server = api()
    client = Client()
    samples = client.query(Prometheus(server.address), "rate(errors[5m])", at=1700000000)
    assert samples[0] == Sample((("job", "x"), ("site", "edge/a")), 0.25) and samples[0].label("site") == "edge/a"
    assert math.isnan(samples[1].value) and samples[1].label("site") is None
    method, path, _, form = server.seen[0]
    assert (method, path, form) == ("POST", "/api/v1/query", {"query": "rate(errors[5m])", "time": "1700000000.000"})
    assert client.requests == 1


def test_a_scalar_is_one_sample_without_labels(api):
    server = api(body={"status": "success", "data": {"resultType": "scalar", "result": [1, "3"]}})
    assert Client().query(Prometheus(server.address), "scalar(up)") == [Sample((), 3.0)]


def test_the_bearer_token_comes_from_its_variable_and_is_never_shown(api, monkeypatch):
    server = api(400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"})
    monkeypatch.setenv("PROM_TOKEN", "t0ken-77")
    with pytest.raises(MonitoringError, match=r"prometheus http://127.0.0.1:\d+: bad_data: parse error at char 5") as info:
        Client().query(Prometheus(server.address, bearer_token_env="PROM_TOKEN"), "rate(")
    assert server.seen[0][2]["authorization"] == "Bearer t0ken-77"
    assert "t0ken-77" not in str(info.value) and info.value.exit_code == 7


def test_a_token_variable_that_is_not_set_is_bad_input_before_any_request(api, monkeypatch):
    server = api()
    monkeypatch.delenv("PROM_TOKEN", raising=False)
    with pytest.raises(InputError, match="bearerTokenEnv names PROM_TOKEN, which is not set"):
        Client().query(Prometheus(server.address, bearer_token_env="PROM_TOKEN"), "up")
    assert server.seen == []


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (200, b"<html>login</html>", "the answer is not JSON: not a Prometheus API"),
        (200, {"hello": "world"}, "not a Prometheus API response"),
        (200, {"status": "success", "data": {"resultType": "matrix", "result": []}}, "expected an instant vector, got 'matrix'"),
        (200, {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}}]}}, "the vector in the answer is malformed"),
        (503, b"down for maintenance", "HTTP 503"),
    ],
)
def test_anything_but_a_well_formed_answer_is_a_monitoring_error(api, status, body, words):
    server = api(status, body)
    with pytest.raises(MonitoringError, match=words):
        Client().query(Prometheus(server.address), "up")


def test_an_unreachable_prometheus_is_a_monitoring_error_naming_it():
    with pytest.raises(MonitoringError, match=r"prometheus http://127.0.0.1:9: unreachable"):
        Client().query(Prometheus("http://127.0.0.1:9"), "up")


def test_a_missing_ca_file_is_bad_input():
    with pytest.raises(InputError, match="caFile /nonexistent/ca.pem does not exist"):
        Client().query(Prometheus("https://127.0.0.1:9", ca_file="/nonexistent/ca.pem"), "up")
