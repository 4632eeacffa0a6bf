"""gitops-mlops.yaml models: each fault in a model, its name, repository or image, and the allowed registries, named at its line."""

from __future__ import annotations

import pytest

from gitops_mlops.config.load import CONFIG_FILE, parse_config
from gitops_mlops.core.errors import InputError
from tests.config.test_load import DIGEST, fault


def test_unknown_top_level_key_is_refused_at_its_line():
    message = fault(
        """\
        models:
          - name: m
            repository: quay.io/p/m
        targetBrnach: main
        """
    )
    assert f"{CONFIG_FILE}:4:" in message
    assert "'targetBrnach'" in message


def test_unknown_model_key_is_refused_at_its_line():
    message = fault(
        """\
        models:
          - name: m
            repository: quay.io/p/m
            registry: quay.io
        """
    )
    assert f"{CONFIG_FILE}:4:" in message
    assert "unknown key 'registry' in model" in message


def test_model_without_name_is_refused_at_the_model():
    message = fault(
        """\
        models:
          - name: a
            repository: quay.io/p/a
          - repository: quay.io/p/b
        """
    )
    assert f"{CONFIG_FILE}:4:" in message
    assert "needs 'name'" in message


@pytest.mark.parametrize("name", ["Fraud_Detector", "../x", "-m", "m-", "a" * 64])
def test_bad_model_name_is_refused_at_its_line(name):
    message = fault(
        f"""\
        stages: []
        models:
          - repository: quay.io/p/m
            name: "{name}"
        """
    )
    assert f"{CONFIG_FILE}:4:" in message
    assert repr(name) in message


def test_model_name_that_is_not_a_string_is_refused():
    message = fault(
        """\
        models:
          - name: 12
            repository: quay.io/p/m
        """
    )
    assert f"{CONFIG_FILE}:2:" in message
    assert "must be a non-empty string" in message


@pytest.mark.parametrize("repository", ["quay.io/Example/m", "quay.io/p/m:1.0", "quay.io/p/m@" + DIGEST, "quay.io/"])
def test_bad_repository_is_refused_at_its_line(repository):
    message = fault(
        f"""\
        models:
          - name: m
            repository: "{repository}"
        """
    )
    assert f"{CONFIG_FILE}:3:" in message
    assert repository in message


def test_duplicate_model_is_refused_at_the_second():
    message = fault(
        """\
        models:
          - name: m
            repository: quay.io/p/m
          - name: m
            repository: quay.io/p/m2
        """
    )
    assert f"{CONFIG_FILE}:4:" in message
    assert "'m' is defined twice" in message


def test_two_models_sharing_one_image_are_refused_at_the_second():
    message = fault(
        """\
        models:
          - name: a
            image: shared
            repository: quay.io/p/a
          - image: shared
            name: b
            repository: quay.io/p/b
        """
    )
    assert "share one image" in message
    assert f"{CONFIG_FILE}:5:" in message


def test_image_defaulting_to_another_models_name_is_a_shared_image():
    with pytest.raises(InputError, match="share one image"):
        parse_config("models:\n  - name: a\n    repository: quay.io/p/a\n  - name: b\n    image: a\n    repository: quay.io/p/b\n")


def test_two_spellings_of_one_docker_hub_image_are_one_shared_image():
    message = fault(
        """\
        models:
          - name: a
            image: nginx
            repository: quay.io/p/a
          - name: b
            image: docker.io/library/nginx
            repository: quay.io/p/b
        """
    )
    assert f"{CONFIG_FILE}:5:" in message and "share one image" in message


@pytest.mark.parametrize("host", ["Quay.io", "quay.io/p", "https://quay.io"])
def test_an_allowed_registry_that_no_image_could_name_is_refused_at_its_line(host):
    message = fault(
        f"""\
        models:
          - name: m
            repository: quay.io/p/m
        policy:
          allowedRegistries:
            - quay.io
            - "{host}"
        """
    )
    assert f"{CONFIG_FILE}:7:" in message and f"policy.allowedRegistries: registry {host!r}" in message


def test_allowed_registries_keep_their_spelling():
    config = parse_config('models:\n  - name: m\n    repository: nginx\npolicy:\n  allowedRegistries: [index.docker.io, "localhost:5000"]\n')
    assert config.policy.allowed_registries == ("index.docker.io", "localhost:5000")
