"""An image's labels read from its config blob: the real registry on loopback, and small scripted
servers for what the registry never answers (a config that is not JSON, a manifest naming no config)."""

from __future__ import annotations

import hashlib
import json

import pytest

from gitops_mlops.core.errors import RegistryError
from gitops_mlops.core.imageref import parse_image
from gitops_mlops.registry.client import OCI_INDEX, OCI_MANIFEST
from gitops_mlops.registry.labels import image_labels
from testing.repos import registry_namespace
from tests.registry.test_client import client_for, scripted  # noqa: F401  (the fixture)

LABELS = {"io.example.requires": "fraud-detector >=1.4.0 <2.0.0", "org.opencontainers.image.version": "1.1.0"}


def test_the_labels_of_an_image_by_tag_or_digest(registry, pusher):
    repo = f"{registry_namespace()}/fraud-app"
    digest, _ = pusher.image(repo, "1.1.0", labels=LABELS)
    with client_for(registry) as client:
        assert image_labels(client, parse_image(f"{registry.host}/{repo}:1.1.0")) == LABELS
        assert image_labels(client, parse_image(f"{registry.host}/{repo}@{digest}")) == LABELS


def test_an_image_without_labels_has_none_and_an_index_is_read_at_linux_amd64(registry, pusher):
    repo = f"{registry_namespace()}/fraud-app"
    pusher.image(repo, "1.0.0")
    pusher.index(repo, "multi")
    with client_for(registry) as client:
        assert image_labels(client, parse_image(f"{registry.host}/{repo}:1.0.0")) == {}
        assert image_labels(client, parse_image(f"{registry.host}/{repo}:multi")) == {}


def test_an_unknown_digest_is_a_registry_error(registry):
    with client_for(registry) as client, pytest.raises(RegistryError, match=r"^registry 127.0.0.1:\d+: repository \S+: manifest sha256:0+: "):
        image_labels(client, parse_image(f"{registry.host}/{registry_namespace()}/app@sha256:{'0' * 64}"))


def served(manifest: dict, config: bytes):
    """A handler serving one manifest by its digest and one config blob."""
    body = json.dumps(manifest).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()

    def handler(path):
        if path.endswith(f"/manifests/{digest}"):
            return 200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest}, body
        if "/blobs/" in path:
            return 200, {"Content-Type": "application/octet-stream"}, config
        return 404, {}, b"{}"

    return handler, digest


@pytest.mark.parametrize(
    ("manifest", "config", "cause"),
    [
        ({"config": {"digest": "../../etc"}}, b"{}", "no config digest"),
        ({"config": {"digest": "sha256:" + hashlib.sha256(b"not json").hexdigest()}}, b"not json", "not a JSON object"),
        ({"config": {"digest": "sha256:" + "1" * 64}}, b"{}", "body hashes to"),
        (
            {"config": {"digest": "sha256:" + hashlib.sha256(b'{"config": {"Labels": {"a": 1}}}').hexdigest()}},
            b'{"config": {"Labels": {"a": 1}}}',
            "Labels is not a mapping",
        ),
        (  # nested deeper than the JSON decoder recurses: one line, not a traceback
            {"config": {"digest": "sha256:" + hashlib.sha256(b"[" * 5000 + b"]" * 5000).hexdigest()}},
            b"[" * 5000 + b"]" * 5000,
            "not a JSON object",
        ),
    ],
)
def test_what_the_registry_should_not_answer_is_one_line(scripted, manifest, config, cause):  # noqa: F811
    handler, digest = served({"schemaVersion": 2, "mediaType": OCI_MANIFEST, **manifest}, config)
    server = scripted(handler)
    with client_for(server) as client, pytest.raises(RegistryError) as caught:
        image_labels(client, parse_image(f"{server.host}/x/app@{digest}"))
    assert cause in str(caught.value) and "\n" not in str(caught.value)
    assert not any(".." in p for p in server.requests)


def test_a_config_larger_than_the_bound_is_refused(scripted):  # noqa: F811
    big = b"{" + b" " * (4 * 1024 * 1024 + 10) + b"}"
    handler, digest = served({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"digest": "sha256:" + hashlib.sha256(big).hexdigest()}}, big)
    server = scripted(handler)
    with client_for(server) as client, pytest.raises(RegistryError, match="response larger than"):
        image_labels(client, parse_image(f"{server.host}/x/app@{digest}"))


@pytest.mark.parametrize(
    "index",
    [
        {"manifests": [{"digest": "sha256:" + "2" * 64, "platform": "linux"}]},
        {"manifests": [{"digest": "sha256:" + "2" * 64, "platform": ["linux", "amd64"]}]},
        {"manifests": 5},
        {"manifests": True},
    ],
)
def test_an_index_of_the_wrong_shape_is_one_line(scripted, index):  # noqa: F811
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, **index}).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    server = scripted(lambda path: (200, {"Content-Type": OCI_INDEX, "Docker-Content-Digest": digest}, body) if digest in path else (404, {}, b"{}"))
    with client_for(server) as client, pytest.raises(RegistryError) as caught:
        image_labels(client, parse_image(f"{server.host}/x/app@{digest}"))
    assert str(caught.value).startswith(f"registry {server.host}: repository x/app: ") and "\n" not in str(caught.value)
