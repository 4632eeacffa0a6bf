"""Promotion of images named as container runtimes resolve them (Docker Hub's short names and aliases), and the version a pin records."""

from __future__ import annotations

import json

import pytest

from gitops_mlops.change.intents import PromoteRequest as Request
from gitops_mlops.pins.kustomization import parse
from testing.cli import cli
from testing.paths import DIGEST_B
from testing.repos import one_model_repo, rendered_images, tree_snapshot
from tests.promote.test_promotion import REPO, pin, promote, trailers

# ---------------------------------------------------------------- image names as container runtimes resolve them


def hub_state(repo) -> tuple:
    """The clone's files, HEAD and the remote: what a refusal must leave as it was."""
    return {k: v for k, v in tree_snapshot(repo.work).items() if "/.git/" not in k}, repo.head(), repo.remote_head()


def test_a_docker_hub_model_spelled_short_in_the_manifests_is_promoted(tmp_path):
    repo = one_model_repo(tmp_path, "team/app:1.0", "docker.io/team/app")
    result = cli("promote", "app", f"docker.io/team/app:1.4.0@{DIGEST_B}", "--to", "dev", "--push", cwd=repo.work)
    assert result.code == 0, result.err
    assert rendered_images(repo, "overlays/dev") == [f"docker.io/team/app:1.4.0@{DIGEST_B}"]
    assert rendered_images(repo, "overlays/prod") == ["team/app:1.0"]
    assert "- name: team/app\n" in repo.read("overlays/dev/kustomization.yaml")  # kustomize matches the name as the manifest spells it
    assert repo.remote_head() == repo.head()


def test_a_one_segment_name_is_in_library_on_docker_hub(tmp_path):
    repo = one_model_repo(tmp_path, "nginx:1.0", "docker.io/library/nginx", allowed="index.docker.io")
    result = cli("promote", "app", f"nginx:1.4.0@{DIGEST_B}", "--to", "dev", cwd=repo.work)
    assert result.code == 0, result.err
    assert rendered_images(repo, "overlays/dev") == [f"docker.io/nginx:1.4.0@{DIGEST_B}"]  # newName as the tool always wrote it
    again = cli("promote", "app", f"registry-1.docker.io/library/nginx:1.4.0@{DIGEST_B}", "--to", "dev", cwd=repo.work)
    assert again.code == 0 and "already up to date" in again.err, again.err


def test_a_pin_of_a_spelling_kustomize_does_not_match_is_left_and_the_rendered_name_pinned(tmp_path):
    pins = "images:\n  - name: docker.io/library/nginx\n    newTag: '9'\n"
    repo = one_model_repo(tmp_path, "nginx:1.0", "docker.io/library/nginx", model_image="docker.io/library/nginx", pins=pins)
    assert rendered_images(repo, "overlays/dev") == ["nginx:1.0"]  # kustomize matches images[].name literally
    result = cli("promote", "app", f"docker.io/library/nginx:1.4.0@{DIGEST_B}", "--to", "dev", cwd=repo.work)
    assert result.code == 0, result.err
    assert rendered_images(repo, "overlays/dev") == [f"docker.io/library/nginx:1.4.0@{DIGEST_B}"]
    assert parse(repo.read("overlays/dev/kustomization.yaml"), "k").pin("nginx").digest == DIGEST_B


@pytest.mark.parametrize(
    "image, code, needle",
    [
        (f"quay.io/team/app:1.4.0@{DIGEST_B}", 3, "not model app's repository docker.io/team/app"),
        (f"library/team/app:1.4.0@{DIGEST_B}", 3, "not model app's repository"),
        (f"Docker.io/team/app:1.4.0@{DIGEST_B}", 2, "a registry host is lowercase"),
    ],
)
def test_another_repository_or_a_malformed_name_changes_nothing(tmp_path, image, code, needle):
    repo = one_model_repo(tmp_path, "team/app:1.0", "docker.io/team/app")
    before = hub_state(repo)
    result = cli("promote", "app", image, "--to", "dev", "--push", cwd=repo.work)
    assert result.code == code and needle in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1
    assert hub_state(repo) == before and rendered_images(repo, "overlays/dev") == ["team/app:1.0"]


def test_the_allowed_registries_know_docker_hubs_aliases(tmp_path):
    for folder in ("a", "r"):
        (tmp_path / folder).mkdir()
    allowed = one_model_repo(tmp_path / "a", "team/app:1.0", "docker.io/team/app", allowed="registry-1.docker.io")
    assert cli("promote", "app", f"team/app:1.4.0@{DIGEST_B}", "--to", "dev", cwd=allowed.work).code == 0
    refused = one_model_repo(tmp_path / "r", "team/app:1.0", "docker.io/team/app", allowed="quay.io")
    before = hub_state(refused)
    result = cli("promote", "app", f"index.docker.io/team/app:1.4.0@{DIGEST_B}", "--to", "dev", cwd=refused.work)
    assert result.code == 3 and "registry index.docker.io is not allowed by policy.allowedRegistries (quay.io)" in result.err, result.err
    assert hub_state(refused) == before


# ---------------------------------------------------------------- the pin's tag is the image's own


def test_the_pin_takes_the_images_own_tag_and_version_names_the_release(tmp_path):
    repo = one_model_repo(tmp_path, "team/app:1.0", "docker.io/team/app")
    result = cli("promote", "app", f"team/app:build-7@{DIGEST_B}", "--version", "1.5.0", "--to", "dev", "-o", "json", cwd=repo.work)
    assert result.code == 0, result.err
    assert rendered_images(repo, "overlays/dev") == [f"docker.io/team/app:build-7@{DIGEST_B}"]
    assert parse(repo.read("overlays/dev/kustomization.yaml"), "k").pin("team/app").new_tag == "build-7"
    assert trailers(repo)["Model-Version"] == "1.5.0" and trailers(repo)["Image"] == f"docker.io/team/app:build-7@{DIGEST_B}"
    assert json.loads(result.out)["version"] == "1.5.0"


def test_version_is_the_tag_only_when_the_image_has_none(tmp_path):
    repo = one_model_repo(tmp_path, "team/app:1.0", "docker.io/team/app")
    result = cli("promote", "app", f"docker.io/team/app@{DIGEST_B}", "--version", "1.5.0", "--to", "dev", cwd=repo.work)
    assert result.code == 0, result.err
    assert rendered_images(repo, "overlays/dev") == [f"docker.io/team/app:1.5.0@{DIGEST_B}"]


def test_a_version_that_contradicts_the_semver_tag_changes_nothing(tmp_path):
    repo = one_model_repo(tmp_path, "team/app:1.0", "docker.io/team/app")
    before = hub_state(repo)
    result = cli("promote", "app", f"team/app:1.4.0@{DIGEST_B}", "--version", "1.5.0", "--to", "dev", cwd=repo.work)
    assert result.code == 2 and result.err.strip().splitlines() == ["error: --version 1.5.0 disagrees with the image tag '1.4.0'"], result.err
    assert hub_state(repo) == before


def test_a_modelcar_pin_takes_the_images_own_tag_too(gitops_repo):
    result = promote(gitops_repo.work, Request(model="fraud-detector", image=f"{REPO}:nightly-42@{DIGEST_B}", selectors=("datacenter",), version="1.5.0"))
    assert result.version == "1.5.0" and pin(gitops_repo, "datacenter").new_tag == "nightly-42"
    assert f"oci://{REPO}:nightly-42@{DIGEST_B}" in gitops_repo.read("overlays/datacenter/kustomization.yaml")
