"""Where a site's image is set when not by its own pin: the nearest kustomization of its build whose pin
gives the rendered image, else the manifest that names it."""

from __future__ import annotations

import os

import pytest

from gitops_mlops.config.sites import Site
from gitops_mlops.render.inputs import References, walk_references
from gitops_mlops.render.provenance import pin_set_in, where_set
from testing.paths import DIGEST_A, DIGEST_B
from testing.repos import build_tree

DEPLOYMENT = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n"
    "        - name: server\n          image: docker.io/acme/app:1.0.0\n"
)


@pytest.fixture
def repo(tmp_path):
    build_tree(
        tmp_path,
        {
            "base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
            "base/deployment.yaml": DEPLOYMENT,
            "shared/kustomization.yaml": f"resources:\n  - ../base\nimages:\n  - name: docker.io/acme/app\n    newTag: 1.1.0\n    digest: {DIGEST_A}\n",
            "overlays/dev/kustomization.yaml": "resources:\n  - ../../shared\n",
            "overlays/prod/kustomization.yaml": f"resources:\n  - ../../shared\nimages:\n  - name: docker.io/acme/app\n    newTag: 1.2.0\n    digest: {DIGEST_B}\n",
        },
    )
    return tmp_path


DEV, PROD = Site("dev", "overlays/dev", "dev"), Site("prod", "overlays/prod", "prod")


def walked(repo, site: Site) -> References:
    """The site's build inputs, walked as a render walks them first."""
    refs = References()
    walk_references(repo, site, (), refs)
    return refs


def test_the_manifest_naming_the_image_is_found_with_its_kind_and_name(repo):
    assert where_set(repo, DEV, walked(repo, DEV), ("docker.io/acme/app",)) == "Deployment/app (base/deployment.yaml)"


def test_kustomizations_are_searched_only_when_asked_nearest_first(repo):
    assert where_set(repo, PROD, walked(repo, PROD), ("docker.io/acme/app",), kustomizations=True) == "overlays/prod/kustomization.yaml"


def test_a_name_only_inside_a_longer_name_is_not_a_match(repo):
    assert where_set(repo, DEV, walked(repo, DEV), ("acme/app",)) == ""
    assert where_set(repo, DEV, walked(repo, DEV), ("docker.io/acme/ap",)) == ""


def test_a_manifest_symlinked_out_of_the_repository_is_not_searched(repo, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "secret.yaml"
    outside.write_text("image: docker.io/acme/other:1\n")
    refs = walked(repo, DEV)  # (a render refuses such a link; this reader must not follow it either)
    os.symlink(outside, repo / "base/leak.yaml")
    assert where_set(repo, DEV, refs, ("docker.io/acme/other",)) == ""


def test_the_pin_that_gives_the_rendered_image_is_the_nearest_that_agrees(repo):
    assert pin_set_in(repo, DEV, walked(repo, DEV), f"docker.io/acme/app:1.1.0@{DIGEST_A}") == "shared/kustomization.yaml"
    assert pin_set_in(repo, PROD, walked(repo, PROD), f"docker.io/acme/app:1.2.0@{DIGEST_B}") == "overlays/prod/kustomization.yaml"


def test_no_pin_gives_an_image_set_elsewhere(repo):
    assert pin_set_in(repo, DEV, walked(repo, DEV), f"docker.io/acme/app:9.9.9@{DIGEST_B}") == ""
    assert pin_set_in(repo, DEV, walked(repo, DEV), "docker.io/acme/other:1.1.0") == ""
