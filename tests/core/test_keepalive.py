"""Persistent connections: many calls on one connection per thread, the same rules as httpclient.send
(bounded reads, credentials only to the origin, redirects by send's rules), a closed idle connection
opened again. Real loopback servers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from gitops_mlops.core.httpclient import HttpFailure
from gitops_mlops.core.keepalive import Connections
from testing.loopback_http import LoopbackServer, QuietHandler


class Server:
    """HTTP/1.1 loopback server: ``/ok`` answers its path, ``/big`` 2 KiB, ``/moved`` redirects to ``/ok``,
    ``/close`` answers then closes; records (path, connection port, authorization) of each request."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int, str]] = []
        lock, server = threading.Lock(), self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                with lock:
                    server.seen.append((self.path, self.client_address[1], self.headers.get("Authorization", "")))
                body = b"x" * 2048 if self.path == "/big" else self.path.encode()
                self.send_response(302 if self.path == "/moved" else 200)
                if self.path == "/moved":
                    self.send_header("Location", "/ok")
                if self.path == "/close":
                    self.send_header("Connection", "close")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

        self.loopback = LoopbackServer(Handler)
        self.url = f"http://{self.loopback.host}"


@pytest.fixture
def server():
    made = Server()
    yield made
    made.loopback.close()


def get(connections: Connections, url: str, **kw):
    return connections.send("GET", url, headers={}, secret={"Authorization": "Bearer t0k3n"}, body=None, **kw)


def test_many_calls_share_one_connection_per_thread(server):
    connections = Connections(server.url, timeout=5)
    assert [get(connections, f"{server.url}/ok").body for _ in range(5)] == [b"/ok"] * 5
    assert len({port for _, port, _ in server.seen}) == 1
    with ThreadPoolExecutor(max_workers=3) as pool:
        assert set(pool.map(lambda _: get(connections, f"{server.url}/ok").status, range(30))) == {200}
    assert len({port for _, port, _ in server.seen}) <= 4
    connections.close()


def test_a_connection_the_server_closed_is_opened_again(server):
    connections = Connections(server.url, timeout=5)
    assert get(connections, f"{server.url}/close").body == b"/close"
    assert get(connections, f"{server.url}/ok").body == b"/ok"
    assert len({port for _, port, _ in server.seen}) == 2


def test_a_redirect_follows_the_rules_of_send_and_reads_are_bounded(server):
    connections = Connections(server.url, timeout=5)
    assert get(connections, f"{server.url}/moved").body == b"/ok"
    with pytest.raises(HttpFailure, match="larger than 100 bytes"):
        get(connections, f"{server.url}/big", limit=100)


def test_a_url_of_another_origin_never_uses_the_pooled_connections(server):
    other = Server()
    try:
        connections = Connections(server.url, timeout=5)
        get(connections, f"{other.url}/ok")  # another origin: sent by httpclient.send, which never reuses this pool
        assert other.seen and not server.seen
    finally:
        other.loopback.close()


def test_an_origin_that_does_not_answer_is_a_retryable_failure():
    connections = Connections("http://127.0.0.1:9", timeout=2)
    with pytest.raises(HttpFailure) as caught:
        get(connections, "http://127.0.0.1:9/ok")
    assert caught.value.retryable and "unreachable" in str(caught.value)
