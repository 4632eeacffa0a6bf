"""The one HTTP layer: bounded reads, redacted messages, credentials bound to their origin.
(Redirects across clients are tested end to end in test_httpclient_redirects.py.)"""

from __future__ import annotations

import pytest

from gitops_mlops.core import httpclient
from gitops_mlops.core.httpclient import HttpFailure
from testing.loopback_http import LoopbackServer, QuietHandler


class Server:
    """A loopback server answering ``routes[path] = (status, headers, body)``; records each request's headers."""

    def __init__(self, routes: dict[str, tuple[int, dict[str, str], bytes]]) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                server.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                status, headers, body = routes.get(self.path, (404, {}, b"no"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

        self.loopback = LoopbackServer(Handler)
        self.url = f"http://{self.loopback.host}"

    def close(self) -> None:
        self.loopback.close()


@pytest.fixture
def servers():
    made: list[Server] = []

    def make(routes):
        made.append(Server(routes))
        return made[-1]

    yield make
    for server in made:
        server.close()


def test_redact_url_hides_user_password_and_credential_parameters():
    url = "https://bot:s3cret@git.example/x?private_token=abc&page=2&X-Amz-Signature=zz#frag"
    assert httpclient.redact_url(url) == "https://***@git.example/x?private_token=***&page=2&X-Amz-Signature=***#***"


def test_redact_finds_urls_inside_text_and_leaves_the_punctuation_after_them():
    text = "fetch https://u:p@host/repo.git, then (http://h/?token=t)."
    assert httpclient.redact(text) == "fetch https://***@host/repo.git, then (http://h/?token=***)."


def test_origin_fills_in_the_default_port():
    assert httpclient.origin("HTTPS://Host.Example/x") == ("https", "host.example", 443)
    assert httpclient.origin("http://h:8080/") == ("http", "h", 8080)


def test_redirect_target_refuses_a_downgrade_to_http_and_other_schemes():
    assert httpclient.redirect_target("https://a/x", "/y") == "https://a/y"
    with pytest.raises(HttpFailure, match="from https to plain http"):
        httpclient.redirect_target("https://a/x", "http://a/y")
    with pytest.raises(HttpFailure, match="not an http"):
        httpclient.redirect_target("https://a/x", "file:///etc/passwd")


def test_a_url_carrying_credentials_is_refused_before_any_request_and_redacted(servers):
    server = servers({"/": (200, {}, b"ok")})
    url = server.url.replace("http://", "http://me:hunter2@") + "/"
    with pytest.raises(HttpFailure) as info:
        httpclient.send("GET", url)
    assert "hunter2" not in str(info.value)
    assert server.seen == []


def test_any_status_is_an_answer(servers):
    server = servers({"/gone": (410, {}, b"gone")})
    response = httpclient.send("GET", server.url + "/gone")
    assert (response.status, response.body) == (410, b"gone")


def test_a_body_over_the_limit_is_refused(servers):
    server = servers({"/big": (200, {}, b"x" * 2000)})
    with pytest.raises(HttpFailure, match="larger than 1000 bytes"):
        httpclient.send("GET", server.url + "/big", limit=1000)
    assert httpclient.send("GET", server.url + "/big", limit=2000).body == b"x" * 2000


def test_a_redirect_within_the_origin_keeps_the_credentials(servers):
    server = servers({"/a": (302, {"Location": "/b"}, b""), "/b": (200, {}, b"here")})
    response = httpclient.send("GET", server.url + "/a", secret={"Authorization": "Bearer t0k"})
    assert response.body == b"here" and response.url == server.url + "/b"
    assert [headers.get("authorization") for _, _, headers in server.seen] == ["Bearer t0k", "Bearer t0k"]


def test_a_redirect_to_another_origin_is_refused_by_default_and_stripped_when_asked(servers):
    other = servers({"/land": (200, {}, b"landed")})
    start = servers({"/a": (302, {"Location": other.url + "/land"}, b"")})
    with pytest.raises(HttpFailure, match="another origin"):
        httpclient.send("GET", start.url + "/a", secret={"Authorization": "Bearer t0k"})
    assert other.seen == []
    response = httpclient.send("GET", start.url + "/a", secret={"Authorization": "Bearer t0k"}, cross_origin="strip")
    assert response.body == b"landed"
    assert "authorization" not in other.seen[-1][2]


def test_a_post_redirected_by_303_becomes_a_get(servers):
    server = servers({"/form": (303, {"Location": "/done"}, b""), "/done": (200, {}, b"ok")})
    httpclient.send("POST", server.url + "/form", body=b"x=1")
    assert [(method, path) for method, path, _ in server.seen] == [("POST", "/form"), ("GET", "/done")]


def test_too_many_redirects_fail(servers):
    server = servers({"/loop": (302, {"Location": "/loop"}, b"")})
    with pytest.raises(HttpFailure, match=f"more than {httpclient.MAX_REDIRECTS} redirects"):
        httpclient.send("GET", server.url + "/loop")
    assert len(server.seen) == httpclient.MAX_REDIRECTS + 1


def test_an_unreachable_host_is_a_retryable_failure():
    with pytest.raises(HttpFailure, match="unreachable") as info:
        httpclient.send("GET", "http://127.0.0.1:9/", timeout=2)
    assert info.value.retryable
