"""Edge mirrors, against two real registries on loopback: the source the pipeline pushes to, and the
edge's mirror. A digest not mirrored yet would fail at the edge with ImagePullBackOff: promote refuses
it (exit 6) before anything is written, and status --mirrors shows which sites lack what they run."""

from __future__ import annotations

import json

import pytest

from gitops_mlops.config.load import load_config
from gitops_mlops.config.sites import discover_sites
from gitops_mlops.core.errors import RegistryError
from gitops_mlops.core.imageref import ImageRef, parse_image
from gitops_mlops.registry.mirrors import check, mirror_ref
from testing.cli import cli
from testing.registry_server import start_registry
from testing.repos import point_models_at, registry_namespace, tree_snapshot


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    server = start_registry(tmp_path_factory, "")
    yield server
    server.stop()


def with_mirror(repo, source_host: str, mirror_host: str) -> str:
    ns = registry_namespace()
    extra = f"  - host: {mirror_host}\n    insecure: true\n"
    point_models_at(repo, source_host, ns, extra=extra)
    path = repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text().replace("  - name: edge\n", f"  - name: edge\n    mirror: {mirror_host}\n", 1))
    repo.git("commit", "-qam", "the edge pulls from its mirror")
    return ns


def test_promote_checks_the_digest_is_in_the_edge_mirror_first(gitops_repo, registry, mirror, pusher):
    ns = with_mirror(gitops_repo, registry.host, mirror.host)
    digest, _ = pusher.image(f"{ns}/fraud-detector", "1.4.0")
    image = f"{registry.host}/{ns}/fraud-detector:1.4.0@{digest}"
    for stage in ("datacenter", "cloud"):  # no mirror there: the source registry is enough
        assert cli("promote", "fraud-detector", image, "--to", stage, cwd=gitops_repo.work).code == 0
    snap = tree_snapshot(gitops_repo.work)
    refused = cli("promote", "fraud-detector", image, "--to", "edge", cwd=gitops_repo.work)
    assert refused.code == 6
    assert f"site edge/austin-01 (and 2 more sites): mirror {mirror.host} does not have {ns}/fraud-detector@{digest[:19]}: mirror it first" in refused.err
    assert tree_snapshot(gitops_repo.work) == snap
    copy = mirror.pusher()
    try:
        assert copy.image(f"{ns}/fraud-detector", "1.4.0")[0] == digest  # what oc mirror does: the same manifest, byte for byte
    finally:
        copy.close()
    assert cli("promote", "fraud-detector", image, "--to", "edge", cwd=gitops_repo.work).code == 0


def test_status_shows_the_sites_whose_mirror_lacks_what_they_run(gitops_repo, registry, mirror):
    with_mirror(gitops_repo, registry.host, mirror.host)
    rows = {(r["model"], r["site"]): r["mirrored"] for r in json.loads(cli("status", "--mirrors", "-o", "json", cwd=gitops_repo.work).out)}
    assert rows[("fraud-detector", "edge/berlin-01")] is False and rows[("fraud-detector", "datacenter")] is None
    table = cli("status", "--mirrors", "--model", "fraud-detector", cwd=gitops_repo.work).out
    assert "unmirrored" in next(line for line in table.splitlines() if "edge/berlin-01" in line)
    assert "unmirrored" not in next(line for line in table.splitlines() if line.startswith("fraud-detector  datacenter"))


@pytest.mark.parametrize(
    ("image", "path"),
    [
        ("nginx", "library/nginx"),
        ("docker.io/nginx", "library/nginx"),
        ("index.docker.io/library/nginx", "library/nginx"),
        ("acme/m", "acme/m"),
        ("quay.io/acme/m", "acme/m"),
    ],
)
def test_a_mirror_holds_the_canonical_path_of_a_docker_hub_name(image, path):
    assert mirror_ref("mirror.example:5000", parse_image(image), "sha256:" + "a" * 64) == ImageRef("mirror.example:5000", path, digest="sha256:" + "a" * 64)


def test_a_docker_hub_short_name_is_looked_up_in_the_mirror_under_library(gitops_repo, registry, mirror):
    """oc mirror copies docker.io/nginx to HOST/library/nginx: that is where the check looks."""
    with_mirror(gitops_repo, registry.host, mirror.host)
    copy = mirror.pusher()
    try:
        digest, _ = copy.image("library/nginx", "1.27")
    finally:
        copy.close()
    config = load_config(gitops_repo.work)
    edge = tuple(site for site in discover_sites(gitops_repo.work, config) if site.stage == "edge")
    check(config, parse_image(f"nginx@{digest}"), edge)  # found: no error
    with pytest.raises(RegistryError, match="does not have library/busybox"):
        check(config, parse_image(f"busybox@{digest}"), edge)
