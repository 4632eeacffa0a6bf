"""gitops-mlops.yaml sites, holds and the file's shape: each fault named at its line."""

from __future__ import annotations

import pytest

from gitops_mlops.config.load import CONFIG_FILE, parse_config
from gitops_mlops.core.errors import InputError
from tests.config.test_load import fault


def test_site_with_unknown_stage_is_refused_at_the_site():
    message = fault(
        """\
        models:
          - name: m
            repository: quay.io/p/m
        stages:
          - name: dev
        sites:
          - name: dev
            path: overlays/dev
          - name: edge
            path: overlays/edge
            stage: prdo
        """
    )
    assert f"{CONFIG_FILE}:9:" in message
    assert "stage 'prdo' is not one of the stages (dev)" in message


def test_site_stage_defaults_to_the_first_name_segment_and_must_exist():
    message = fault(
        """\
        models:
          - name: m
            repository: quay.io/p/m
        stages:
          - name: dev
        sites:
          - name: prod/edge-1
            path: overlays/prod/edge-1
        """
    )
    assert f"{CONFIG_FILE}:7:" in message
    assert "stage 'prod' is not one of the stages (dev)" in message


@pytest.mark.parametrize(
    "digest",
    ["sha256:" + "a" * 63, "sha256:" + "A" * 64, "sha512:" + "a" * 64, "a" * 64, '"sha256:' + "a" * 64 + ' "'],
)
def test_bad_hold_digest_is_refused_at_its_line(digest):
    message = fault(
        f"""\
        models:
          - name: m
            repository: quay.io/p/m
        holds:
          - model: m
            site: dev
            digest: {digest}
        """
    )
    assert f"{CONFIG_FILE}:7:" in message
    assert "hold digest" in message


def test_models_that_is_not_a_list_is_refused_at_its_line():
    message = fault(
        """\
        repoURL: https://git.example.com/x.git
        models:
          name: m
          repository: quay.io/p/m
        """
    )
    assert f"{CONFIG_FILE}:3:" in message
    assert "models must be a list" in message


def test_model_that_is_not_a_mapping_is_refused_at_its_line():
    message = fault("models:\n  - fraud-detector\n")
    assert f"{CONFIG_FILE}:2:" in message
    assert "must be a mapping" in message


def test_config_without_models_is_refused():
    message = fault("stages:\n  - name: dev\nmodels: []\n")
    assert f"{CONFIG_FILE}:1:" in message
    assert "at least one model" in message


def test_config_that_is_not_a_mapping_is_refused_at_its_line():
    message = fault("# header\n- models\n")
    assert f"{CONFIG_FILE}:2:" in message


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
def test_empty_config_is_refused(text):
    with pytest.raises(InputError) as info:
        parse_config(text)
    message = str(info.value)
    assert message.startswith(CONFIG_FILE)
    assert "empty" in message


def test_duplicate_key_in_config_is_refused_with_its_line():
    message = fault("models: []\nmodels:\n  - name: m\n    repository: quay.io/p/m\n")
    assert f"{CONFIG_FILE}:2:" in message
    assert "duplicate key" in message
