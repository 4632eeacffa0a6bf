"""The OCI client against the real distribution registry on loopback (anonymous, basic, token auth),
plus small loopback servers for what that registry never does (paging tags, hanging, oversized or wrong answers)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gitops_mlops.core.errors import RegistryError
from gitops_mlops.core.imageref import parse_image
from gitops_mlops.registry.client import OCI_INDEX, OCI_MANIFEST, Endpoint, RegistryClient, endpoints_for, on_the_wire
from testing.paths import DIGEST_A
from testing.registry_server import PASSWORD, USER
from testing.repos import registry_namespace

CREDS = {"GITOPS_MLOPS_REGISTRY_USERNAME": USER, "GITOPS_MLOPS_REGISTRY_PASSWORD": PASSWORD}


def client_for(server, env=None, **kw) -> RegistryClient:
    return RegistryClient([Endpoint(server.host, insecure=True)], env=env or {}, **kw)


def test_tag_resolves_to_the_pushed_manifest_digest(registry, pusher):
    repo = f"{registry_namespace()}/model"
    digest, _ = pusher.image(repo, "1.4.0")
    with client_for(registry) as client:
        found = client.resolve(parse_image(f"{registry.host}/{repo}:1.4.0"))
    assert (found.digest, found.media_type) == (digest, OCI_MANIFEST)


def test_multi_arch_tag_resolves_to_the_index_digest(registry, pusher):
    repo = f"{registry_namespace()}/model"
    index, per_arch = pusher.index(repo, "2.0.0")
    with client_for(registry) as client:
        found = client.resolve(parse_image(f"{registry.host}/{repo}:2.0.0"))
        head = client.head(parse_image(f"{registry.host}/{repo}"), "2.0.0")
    assert found.digest == index == head.digest and index not in per_arch
    assert found.media_type == head.media_type == OCI_INDEX


def test_docker_v2_manifests_are_accepted(registry, pusher):
    repo = f"{registry_namespace()}/model"
    digest, _ = pusher.image(repo, "1.0.0", media_type="application/vnd.docker.distribution.manifest.v2+json")
    with client_for(registry) as client:
        assert client.resolve(parse_image(f"{registry.host}/{repo}:1.0.0")).digest == digest


def test_verify_accepts_an_existing_digest_and_matching_tag(registry, pusher):
    repo = f"{registry_namespace()}/model"
    digest, _ = pusher.image(repo, "1.4.0")
    with client_for(registry) as client:
        assert client.confirm_digest(parse_image(f"{registry.host}/{repo}@{digest}")).digest == digest
        assert client.confirm_digest(parse_image(f"{registry.host}/{repo}:1.4.0@{digest}")).digest == digest


def test_tag_and_digest_that_disagree_are_refused(registry, pusher):
    repo = f"{registry_namespace()}/model"
    old, _ = pusher.image(repo, "1.4.0")
    pusher.image(repo, "1.4.0", salt="rebuilt")  # the tag moved
    with client_for(registry) as client, pytest.raises(RegistryError) as caught:
        client.confirm_digest(parse_image(f"{registry.host}/{repo}:1.4.0@{old}"))
    assert str(caught.value).startswith(f"registry {registry.host}: repository {repo}: tag 1.4.0 points to sha256:")
    assert caught.value.exit_code == 6


def test_unknown_digest_tag_and_repository_name_the_cause(registry, pusher):
    repo = f"{registry_namespace()}/model"
    pusher.image(repo, "1.0.0")
    with client_for(registry) as client:
        with pytest.raises(RegistryError, match=f"repository {repo}: digest {DIGEST_A}: not found"):
            client.confirm_digest(parse_image(f"{registry.host}/{repo}@{DIGEST_A}"))
        with pytest.raises(RegistryError, match="tag 9.9.9: not found"):
            client.resolve(parse_image(f"{registry.host}/{repo}:9.9.9"))
        with pytest.raises(RegistryError, match="repository nobody/here: tag list: unknown repository"):
            client.list_tags(parse_image(f"{registry.host}/nobody/here"))


def test_tags_are_listed(registry, pusher):
    repo = f"{registry_namespace()}/model"
    _, manifest = pusher.image(repo, "1.0.0")
    pusher.tags(repo, manifest, [f"1.{i}.0" for i in range(1, 50)])
    with client_for(registry) as client:
        tags = client.list_tags(parse_image(f"{registry.host}/{repo}"))
    assert sorted(tags) == sorted(["1.0.0"] + [f"1.{i}.0" for i in range(1, 50)])


def test_one_connection_is_reused_for_many_calls(registry, pusher):
    repo = f"{registry_namespace()}/model"
    pusher.image(repo, "1.0.0")
    ref = parse_image(f"{registry.host}/{repo}:1.0.0")
    with client_for(registry) as client:
        client.resolve(ref)
        sock = client._connections[("http", registry.host)].sock
        for _ in range(5):
            client.resolve(ref)
        assert client._connections[("http", registry.host)].sock is sock and client.requests == 6


def test_https_registry_with_its_ca_file_and_without(tmp_path_factory):
    from testing.registry_server import RegistryServer

    server = RegistryServer(tmp_path_factory.mktemp("registry-tls"), tls=True).start()
    try:
        pusher = server.pusher()
        digest, _ = pusher.image("team/model", "1.0.0")
        pusher.close()
        ref = parse_image(f"{server.host}/team/model:1.0.0")
        with RegistryClient([Endpoint(server.host, ca_file=str(server.ca_file))], env={}) as client:
            assert client.resolve(ref).digest == digest
        with RegistryClient([], env={}) as client, pytest.raises(RegistryError) as caught:  # system CAs do not know it
            client.resolve(ref)
        assert str(caught.value).startswith(f"registry {server.host}: repository team/model: TLS failed with {server.host}: CERTIFICATE_VERIFY_FAILED")
    finally:
        server.stop()


# ---------------------------------------------------------------- auth


def test_basic_auth_with_credentials_from_the_environment(basic_registry):
    pusher = basic_registry.pusher()
    repo = f"{registry_namespace()}/model"
    digest, _ = pusher.image(repo, "1.0.0")
    pusher.close()
    with client_for(basic_registry, env=CREDS) as client:
        assert client.resolve(parse_image(f"{basic_registry.host}/{repo}:1.0.0")).digest == digest


def test_basic_auth_from_a_docker_config_file(basic_registry, tmp_path):
    import base64

    pusher = basic_registry.pusher()
    repo = f"{registry_namespace()}/model"
    digest, _ = pusher.image(repo, "1.0.0")
    pusher.close()
    (tmp_path / ".docker").mkdir()
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (tmp_path / ".docker" / "config.json").write_text(json.dumps({"auths": {basic_registry.host: {"auth": auth}}}))
    with client_for(basic_registry, env={"HOME": str(tmp_path)}) as client:
        assert client.resolve(parse_image(f"{basic_registry.host}/{repo}:1.0.0")).digest == digest


def test_refused_credentials_exit_6_without_showing_them(basic_registry):
    env = {"GITOPS_MLOPS_REGISTRY_USERNAME": USER, "GITOPS_MLOPS_REGISTRY_PASSWORD": "wrong-" + PASSWORD}
    with client_for(basic_registry, env=env) as client, pytest.raises(RegistryError) as caught:
        client.resolve(parse_image(f"{basic_registry.host}/some/model:1.0.0"))
    message = str(caught.value)
    assert "unauthorized (401)" in message and basic_registry.host in message and "some/model" in message
    assert PASSWORD not in message


def test_anonymous_access_to_a_protected_registry_is_a_401(basic_registry):
    with client_for(basic_registry) as client, pytest.raises(RegistryError, match="unauthorized"):
        client.list_tags(parse_image(f"{basic_registry.host}/some/model"))


def test_bearer_token_flow_sends_credentials_to_the_realm_only(token_registry):
    pusher = token_registry.pusher()
    repo = f"{registry_namespace()}/model"
    digest, _ = pusher.image(repo, "1.0.0")
    pusher.close()
    issuer = token_registry.issuer
    before = len(issuer.seen)
    with client_for(token_registry, env=CREDS) as client:
        ref = parse_image(f"{token_registry.host}/{repo}:1.0.0")
        assert client.resolve(ref).digest == digest
        assert client.list_tags(ref) == ["1.0.0"]
        assert client.requests == 4  # challenge, token, manifest; then the tag list reuses the token
    asked = issuer.seen[before:]
    assert len(asked) == 1 and asked[0]["user"] == USER
    assert asked[0]["query"] == {"service": "test-registry", "scope": f"repository:{repo}:pull"}


def test_bearer_realm_refusing_credentials_is_reported(token_registry):
    env = {**CREDS, "GITOPS_MLOPS_REGISTRY_PASSWORD": "nope-" + PASSWORD}
    with client_for(token_registry, env=env) as client, pytest.raises(RegistryError) as caught:
        client.resolve(parse_image(f"{token_registry.host}/x/model:1.0.0"))
    assert "token from 127.0.0.1:" in str(caught.value) and "401" in str(caught.value) and PASSWORD not in str(caught.value)


# ---------------------------------------------------------------- what the registry never does: small loopback servers


class Scripted:
    """A loopback HTTP server answering GETs/HEADs with ``handler(path) -> (status, headers, body)``; counts requests."""

    def __init__(self, handler, delay: float = 0.0) -> None:
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, with_body: bool) -> None:
                outer.requests.append(self.path)
                if delay:
                    time.sleep(delay)
                status, headers, body = handler(self.path)
                self.send_response(status)
                for key, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(key, value)
                self.end_headers()
                if with_body:
                    try:
                        self.wfile.write(body)
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # the client stopped reading (size limit, timeout): that is the point

            def do_GET(self) -> None:
                self._answer(True)

            def do_HEAD(self) -> None:
                self._answer(False)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted():
    servers = []

    def start(handler, delay=0.0):
        servers.append(Scripted(handler, delay))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_tag_pages_are_followed_through_link_headers(scripted):
    all_tags = [f"1.0.{i}" for i in range(2500)]

    def pages(path):
        last = path.split("last=")[1].split("&")[0] if "last=" in path else None
        start = all_tags.index(last) + 1 if last else 0
        page = all_tags[start : start + 1000]
        headers = {"Content-Type": "application/json"}
        if start + 1000 < len(all_tags):
            headers["Link"] = f'</v2/m/x/tags/list?n=1000&last={page[-1]}>; rel="next"'
        return 200, headers, json.dumps({"name": "m/x", "tags": page}).encode()

    server = scripted(pages)
    with RegistryClient([Endpoint(server.host, insecure=True)], env={}) as client:
        assert client.list_tags(parse_image(f"{server.host}/m/x"), page_size=1000) == all_tags
        assert client.requests == 3
    assert server.requests[0] == "/v2/m/x/tags/list?n=1000"


def test_a_registry_that_does_not_answer_times_out(scripted):
    server = scripted(lambda path: (200, {}, b"{}"), delay=3)
    start = time.monotonic()
    with RegistryClient([Endpoint(server.host, insecure=True)], env={}, timeout=0.3) as client, pytest.raises(RegistryError) as caught:
        client.resolve(parse_image(f"{server.host}/m/x:1.0.0"))
    assert time.monotonic() - start < 2
    assert str(caught.value) == f"registry {server.host}: repository m/x: no answer within 0.3 s from {server.host}"


def test_an_oversized_answer_is_refused(scripted):
    server = scripted(lambda path: (200, {"Content-Type": OCI_MANIFEST}, b" " * (5 * 1024 * 1024)))
    with RegistryClient([Endpoint(server.host, insecure=True)], env={}) as client, pytest.raises(RegistryError, match="response larger than 4194304 bytes"):
        client.resolve(parse_image(f"{server.host}/m/x:1.0.0"))


def test_an_answer_that_is_not_a_manifest_is_refused(scripted):
    server = scripted(lambda path: (200, {"Content-Type": "text/html"}, b"<html>login</html>"))
    with (
        RegistryClient([Endpoint(server.host, insecure=True)], env={}) as client,
        pytest.raises(RegistryError, match="not an image manifest or index .*text/html"),
    ):
        client.resolve(parse_image(f"{server.host}/m/x:1.0.0"))


def test_a_body_that_does_not_hash_to_its_digest_header_is_refused(scripted):
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).encode()
    server = scripted(lambda path: (200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": DIGEST_A}, body))
    with (
        RegistryClient([Endpoint(server.host, insecure=True)], env={}) as client,
        pytest.raises(RegistryError, match="body hashes to sha256:.* but Docker-Content-Digest says"),
    ):
        client.resolve(parse_image(f"{server.host}/m/x:1.0.0"))


def test_nothing_listening_is_one_line(tmp_path):
    with RegistryClient([Endpoint("127.0.0.1:9", insecure=True)], env={}) as client, pytest.raises(RegistryError) as caught:
        client.resolve(parse_image("127.0.0.1:9/m/x:1.0.0"))
    assert str(caught.value).startswith("registry 127.0.0.1:9: repository m/x: cannot reach 127.0.0.1:9")


def test_insecure_registry_flag_is_validated_and_overrides_the_config():
    from gitops_mlops.config.registries import RegistrySpec
    from gitops_mlops.core.errors import InputError

    found = endpoints_for(
        (RegistrySpec("reg.example.com:5000", ca_file="/ca.pem", username_env="U", password_env="P"),), ("reg.example.com:5000", "127.0.0.1:5001")
    )
    assert found["reg.example.com:5000"] == Endpoint("reg.example.com:5000", True, "", "U", "P")
    assert found["127.0.0.1:5001"].insecure
    with pytest.raises(InputError, match="--insecure-registry 'http://x'"):
        endpoints_for((), ("http://x",))


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("nginx:1.27", "registry-1.docker.io/library/nginx:1.27"),
        ("docker.io/nginx:1.27", "registry-1.docker.io/library/nginx:1.27"),
        ("index.docker.io/library/nginx:1.27", "registry-1.docker.io/library/nginx:1.27"),
        ("acme/model:2", "registry-1.docker.io/acme/model:2"),
        ("registry-1.docker.io/acme/model:2", "registry-1.docker.io/acme/model:2"),
        ("quay.io/acme/model:2", "quay.io/acme/model:2"),
        ("localhost:5000/model:2", "localhost:5000/model:2"),
    ],
)
def test_docker_hub_names_are_asked_for_at_its_api_host_in_library(name, wire):
    """Docker Hub serves its API at registry-1.docker.io and one-segment names under library/, as
    container runtimes resolve them; every other registry is asked for the name as written."""
    assert str(on_the_wire(parse_image(name))) == wire


def test_settings_for_docker_io_apply_at_docker_hubs_api_host():
    hub = Endpoint("docker.io", username_env="HUB_USER", password_env="HUB_TOKEN")
    with RegistryClient([hub, Endpoint("quay.io")]) as client:
        assert client.endpoints["registry-1.docker.io"] is hub
    with RegistryClient([Endpoint("quay.io")]) as client:
        assert "registry-1.docker.io" not in client.endpoints
