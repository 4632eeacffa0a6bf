"""The image settled before anything is written (promote/settle.py): a tag becomes its digest, a digest is
confirmed in its registry, ``--no-verify`` asks nothing. The real registry on loopback; the unreachable
case is a closed loopback port."""

from __future__ import annotations

import socket

import pytest

from gitops_mlops.change.intents import PromoteRequest
from gitops_mlops.config.load import parse_config
from gitops_mlops.core.errors import RegistryError, RegistryUnreachable
from gitops_mlops.core.imageref import parse_image
from gitops_mlops.promote.settle import settle_image
from testing.paths import DIGEST_B
from testing.repos import registry_namespace

CONFIG = parse_config("models:\n- name: m\n  image: m\n  repository: example.com/m\nstages:\n- name: dev\n")


def request(image: str, host: str, **extra) -> PromoteRequest:
    return PromoteRequest(model="m", image=image, selectors=("dev",), insecure_registries=(host,), **extra)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_tag_becomes_the_digest_it_resolves_to(registry, pusher):
    ns = registry_namespace()
    digest, _ = pusher.image(f"{ns}/m", "1.0.0")
    image = f"{registry.host}/{ns}/m:1.0.0"
    settled = settle_image(CONFIG, parse_image(image), request(image, registry.host))
    assert (settled.image, settled.registry_checked) == (f"{image}@{digest}", True)


def test_a_digest_is_confirmed_and_an_unknown_one_refused(registry, pusher):
    ns = registry_namespace()
    digest, _ = pusher.image(f"{ns}/m", "1.0.0")
    image = f"{registry.host}/{ns}/m:1.0.0@{digest}"
    settled = settle_image(CONFIG, parse_image(image), request(image, registry.host))
    assert (settled.image, settled.registry_checked) == (image, True)
    missing = f"{registry.host}/{ns}/m:1.0.0@{DIGEST_B}"
    with pytest.raises(RegistryError):
        settle_image(CONFIG, parse_image(missing), request(missing, registry.host))


def test_no_verify_asks_nothing_for_a_digest_but_a_tag_still_needs_the_registry():
    host = f"127.0.0.1:{closed_port()}"
    pinned = f"{host}/ns/m:1.0.0@{DIGEST_B}"
    untouched = request(pinned, host, verify=False)
    assert settle_image(CONFIG, parse_image(pinned), untouched) is untouched
    tag = f"{host}/ns/m:1.0.0"
    with pytest.raises(RegistryUnreachable, match="name the digest .* and pass --no-verify"):
        settle_image(CONFIG, parse_image(tag), request(tag, host, verify=False))
