"""Credentials never leave their origin: every HTTP client, told by a loopback server to go to a second
loopback server on another port (another origin), refuses (or, for the registry, goes without them);
the second server never sees a token, and the command fails with its documented code and one line.
A redirect within the origin is followed with the credentials."""

from __future__ import annotations

import json

import pytest

from gitops_mlops.config.registries import RegistrySpec
from gitops_mlops.core import httpclient
from gitops_mlops.core.errors import RegistryError
from gitops_mlops.core.imageref import parse_image
from gitops_mlops.registry.client import RegistryClient
from testing.cli import cli
from testing.loopback_http import LoopbackServer, QuietHandler
from testing.paths import DIGEST_B
from testing.repos import git, tree_snapshot
from tests.forge.test_argocd import SECRET as HOOK_SECRET
from tests.forge.test_argocd import configure as configure_webhook
from tests.forge.test_clients import BRANCH, TOKEN, promote_pr, remote_branches, use_forge
from tests.loop.test_verify import acting_config, with_checks
from tests.registry.test_scan import gate

PROM_TOKEN = "prom-bearer-7781"
PASSING = {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {"site": "datacenter"}, "value": [0, "0.01"]}]}}
FAILING = {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {"site": "datacenter"}, "value": [0, "0.5"]}]}}
CLEAN_SCAN = {"status": "scanned", "data": {"Layer": {"Name": "sha256:abc", "Features": []}}}


class Peer:
    """A loopback HTTP server: ``respond(method, path, headers)`` gives (status, headers, JSON); it records
    (method, path, headers) of every request."""

    def __init__(self, respond) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        peer = self

        class Handler(QuietHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                peer.seen.append((self.command, self.path, headers))
                status, extra, payload = respond(self.command, self.path, headers)
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **extra}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _any

        self.loopback = LoopbackServer(Handler)
        self.host = self.loopback.host
        self.url = f"http://{self.host}"

    def secrets_seen(self, *secrets: str) -> list[str]:
        return [v for _, _, headers in self.seen for v in headers.values() if any(s in v for s in secrets)]

    def close(self) -> None:
        self.loopback.close()


@pytest.fixture
def peers():
    started: list[Peer] = []

    def start(respond) -> Peer:
        started.append(Peer(respond))
        return started[-1]

    yield start
    for peer in started:
        peer.close()


def redirecting(peers, other: Peer, status: int = 307):
    """A server that sends every request to the same path on ``other`` (another port: another origin)."""
    return peers(lambda method, path, headers: (status, {"Location": f"{other.url}{path}"}, {}))


def one_error_line(result, needle: str) -> None:
    lines = [line for line in result.err.strip().splitlines() if line.startswith("error")]
    assert len(lines) == 1 and needle in lines[0], result.err


def footprint(repo) -> tuple:
    """The clone's files and refs and the remote's every byte: what a refused command must leave as it was."""
    files = {k: v for k, v in tree_snapshot(repo.work).items() if "/.git/" not in k}
    return files, repo.git("for-each-ref"), tree_snapshot(repo.remote)


def checks_with_token(repo, address: str) -> None:
    with_checks(repo, address)
    path = repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text().replace("{address: 'http://", "{bearerTokenEnv: PROM_TOKEN, address: 'http://"))
    repo.git("commit", "-qam", "a bearer token for Prometheus")


# ------------------------------------------------------------------ each client


def test_prometheus_redirected_to_another_origin_is_refused_and_never_gets_the_token(gitops_repo, peers):
    other = peers(lambda *_: (200, {}, PASSING))  # it would pass the check
    checks_with_token(gitops_repo, redirecting(peers, other).url)
    before = footprint(gitops_repo)
    result = cli("verify", "fraud-detector", "--site", "datacenter", cwd=gitops_repo.work, env={"PROM_TOKEN": PROM_TOKEN})
    assert result.code == 7 and "redirected to another origin" in result.err and PROM_TOKEN not in result.out + result.err
    assert other.seen == [] and footprint(gitops_repo) == before


def test_prometheus_redirected_within_its_origin_is_followed_with_the_token(gitops_repo, peers):
    def respond(method, path, headers):
        if path.startswith("/prometheus/"):
            return 200, {}, PASSING
        return 307, {"Location": "/prometheus" + path}, {}

    prometheus = peers(respond)
    checks_with_token(gitops_repo, prometheus.url)
    result = cli("verify", "fraud-detector", "--site", "datacenter", cwd=gitops_repo.work, env={"PROM_TOKEN": PROM_TOKEN})
    assert result.code == 0, result.err
    assert [(m, p, h.get("authorization")) for m, p, h in prometheus.seen] == [
        ("POST", "/api/v1/query", f"Bearer {PROM_TOKEN}"),
        ("POST", "/prometheus/api/v1/query", f"Bearer {PROM_TOKEN}"),
    ]


@pytest.mark.parametrize(("kind", "repository"), [("github", "ml/gitops"), ("gitlab", "ml/platform/gitops"), ("gitea", "ml/gitops")])
def test_a_forge_redirected_to_another_origin_is_refused_and_never_gets_the_token(gitops_repo, peers, kind, repository):
    other = peers(lambda *_: (200, {}, {}))
    use_forge(gitops_repo, kind, redirecting(peers, other, 301).url + "/api", repository)
    before = footprint(gitops_repo)
    result = promote_pr(gitops_repo)
    assert result.code == 5 and TOKEN not in result.out + result.err
    one_error_line(result, "redirected to another origin")
    assert other.seen == [] and footprint(gitops_repo) == before


def test_quay_redirected_to_another_origin_is_refused_and_its_clean_report_does_not_pass_the_gate(gitops_repo, peers):
    other = peers(lambda *_: (200, {}, CLEAN_SCAN))
    quay = redirecting(peers, other, 302)
    gate(gitops_repo, "    maxSeverity: high\n    tokenEnv: QUAY_TOKEN\n", host=quay.host)
    before = footprint(gitops_repo)
    result = cli(
        "promote", "fraud-detector", f"{quay.host}/example/fraud-detector:1.4.0@{DIGEST_B}", "--to", "datacenter", "--push", "--no-verify",
        cwd=gitops_repo.work, env={"QUAY_TOKEN": "quay-token-5521"},
    )  # fmt: skip
    assert result.code == 6 and "quay-token-5521" not in result.out + result.err
    one_error_line(result, "security report of example/fraud-detector")
    assert "redirected to another origin" in result.err and other.seen == [] and footprint(gitops_repo) == before


def test_argocd_webhook_redirected_to_another_origin_is_a_warning_with_the_url_redacted(gitops_repo, peers):
    other = peers(lambda *_: (200, {}, {}))
    configure_webhook(gitops_repo, redirecting(peers, other).url + "/api/webhook?token=hook-query-token")
    image = f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}"
    result = cli(
        "promote", "fraud-detector", image, "--to", "datacenter", "--push", "--no-verify", cwd=gitops_repo.work, env={"ARGOCD_WEBHOOK_SECRET": HOOK_SECRET}
    )
    assert result.code == 0 and "redirected to another origin" in result.err and "token=***" in result.err
    assert "hook-query-token" not in result.out + result.err and other.seen == []
    assert "Action: promote" in gitops_repo.git("log", "-1", "--format=%B", "origin/main")  # the push landed all the same


def test_a_retrain_trigger_redirected_to_another_origin_is_refused_and_never_signed_there(gitops_repo, peers):
    other = peers(lambda *_: (202, {}, {}))
    prometheus = peers(lambda *_: (200, {}, FAILING))
    acting_config(gitops_repo, prometheus.url, edge_action="none", url=redirecting(peers, other).url + "/hooks/retrain?key=trigger-key-1")
    result = cli("verify", "fraud-detector", "--site", "datacenter", "--act", cwd=gitops_repo.work, env={"RETRAIN_SECRET": "s3cret"})
    assert result.code == 7 and "retrain trigger" in result.err and "redirected to another origin" in result.err
    assert "trigger-key-1" not in result.out + result.err and other.seen == []
    assert "triggers.jsonl" not in git(gitops_repo.work, "ls-tree", "-r", "--name-only", "gitops-mlops/verifications", check=False)


def test_the_registry_follows_a_redirect_to_another_origin_without_its_credentials(peers):
    other = peers(lambda *_: (404, {}, {"errors": [{"code": "MANIFEST_UNKNOWN"}]}))

    def respond(method, path, headers):
        if "authorization" not in headers:
            return 401, {"WWW-Authenticate": 'Basic realm="registry"'}, {}
        return 307, {"Location": f"{other.url}{path}"}, {}

    registry = peers(respond)
    endpoint = RegistrySpec(registry.host, insecure=True, username_env="REG_USER", password_env="REG_PASSWORD")
    with RegistryClient([endpoint], env={"REG_USER": "robot", "REG_PASSWORD": "registry-password-93"}) as client:
        with pytest.raises(RegistryError, match="not found in the registry") as caught:
            client.head(parse_image(f"{registry.host}/example/fraud-detector@{DIGEST_B}"), DIGEST_B)
    assert "registry-password-93" not in str(caught.value)
    assert registry.secrets_seen("Basic") and other.seen and "authorization" not in other.seen[0][2]


def test_a_forge_answering_without_the_fields_it_needs_is_exit_5_and_takes_the_branch_back(gitops_repo, peers):
    gitea = peers(lambda method, path, headers: (200, {}, [] if method == "GET" and "/pulls" in path else {}))
    use_forge(gitops_repo, "gitea", gitea.url + "/api/v1", "ml/gitops")
    head = gitops_repo.head()
    result = promote_pr(gitops_repo)
    assert result.code == 5
    one_error_line(result, "the answer has no number")
    assert [m for m, _, _ in gitea.seen].count("POST") == 1  # the push happened, the pull request failed: taken back
    assert remote_branches(gitops_repo) == ["main"] and gitops_repo.head() == head and BRANCH not in gitops_repo.git("branch", "--list")


def test_a_forge_answering_an_empty_object_for_a_list_is_exit_5_and_takes_the_branch_back(gitops_repo, peers):
    gitlab = peers(lambda *_: (200, {}, {}))
    use_forge(gitops_repo, "gitlab", gitlab.url + "/api/v4", "ml/platform/gitops")
    head = gitops_repo.head()
    result = promote_pr(gitops_repo)
    assert result.code == 5 and "Traceback" not in result.err
    one_error_line(result, "the answer is not a list")
    assert remote_branches(gitops_repo) == ["main"] and gitops_repo.head() == head


# ------------------------------------------------------------------ the layer itself


def test_a_redirect_loop_stops_after_a_bounded_number(peers):
    loop = peers(lambda method, path, headers: (302, {"Location": path + "x"}, {}))
    with pytest.raises(httpclient.HttpFailure, match="more than 5 redirects"):
        httpclient.send("GET", loop.url + "/a", secret={"Authorization": "Bearer t"})
    assert len(loop.seen) == httpclient.MAX_REDIRECTS + 1


def test_strip_follows_another_origin_without_the_secret_and_keeps_the_other_headers(peers):
    other = peers(lambda *_: (200, {}, {"ok": True}))
    first = redirecting(peers, other, 302)
    response = httpclient.send("GET", first.url + "/x", headers={"Accept": "application/json"}, secret={"PRIVATE-TOKEN": "t0k"}, cross_origin="strip")
    assert response.status == 200 and json.loads(response.body) == {"ok": True} and response.url == other.url + "/x"
    assert first.seen[0][2]["private-token"] == "t0k" and "private-token" not in other.seen[0][2] and other.seen[0][2]["accept"] == "application/json"


def test_an_answer_larger_than_the_limit_is_refused(peers):
    big = peers(lambda *_: (200, {}, {"x": "y" * 5000}))
    with pytest.raises(httpclient.HttpFailure, match="response larger than 1000 bytes"):
        httpclient.send("GET", big.url, limit=1000)


def test_a_url_with_a_user_and_password_is_never_sent(peers):
    server = peers(lambda *_: (200, {}, {}))
    with pytest.raises(httpclient.HttpFailure) as caught:
        httpclient.send("GET", f"http://admin:PASS@{server.host}/")
    assert "PASS" not in str(caught.value) and "***@" in str(caught.value) and server.seen == []
