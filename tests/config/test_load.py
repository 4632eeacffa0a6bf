"""gitops-mlops.yaml: parsed once into frozen values; every fault names file:line."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from gitops_mlops.config.load import CONFIG_FILE, Config, Hold, Model, SiteSpec, Stage, load_config, parse_config
from gitops_mlops.config.policy import Policy
from gitops_mlops.core.errors import InputError
from testing.paths import PROJECT_ROOT

DIGEST = "sha256:" + "a" * 64

VALID = f"""\
# managed by gitops-mlops
repoURL: https://git.example.com/ml/serving.git
targetBranch: release
remote: upstream
models:
  - name: fraud-detector
    repository: quay.io/example/fraud-detector
  - name: churn
    image: churn-model
    repository: localhost:5000/ml/churn
stages:
  - name: dev
  - name: staging
  - name: prod
sites:
  - name: dev
    path: overlays/dev
  - name: prod/edge-1
    path: overlays/prod/edge-1
  - name: canary
    path: overlays/canary
    stage: staging
policy:
  allowedRegistries: [quay.io, "localhost:5000"]
  remoteResources:
    - https://github.com/example/
holds:
  - model: fraud-detector
    site: prod/edge-1
    digest: {DIGEST}
    reason: incident 42
"""


def fault(text: str) -> str:
    with pytest.raises(InputError) as info:
        parse_config(textwrap.dedent(text))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_valid_config_parses_into_values():
    config = parse_config(VALID)
    assert config.models == (
        Model(name="fraud-detector", image="fraud-detector", repository="quay.io/example/fraud-detector"),
        Model(name="churn", image="churn-model", repository="localhost:5000/ml/churn"),
    )
    assert config.stages == (Stage("dev"), Stage("staging"), Stage("prod"))
    assert config.sites == (
        SiteSpec(name="dev", path="overlays/dev", stage="dev"),
        SiteSpec(name="prod/edge-1", path="overlays/prod/edge-1", stage="prod"),
        SiteSpec(name="canary", path="overlays/canary", stage="staging"),
    )
    assert config.policy == Policy(allowed_registries=("quay.io", "localhost:5000"), remote_resources=("https://github.com/example/",))
    assert config.holds == (Hold(model="fraud-detector", site="prod/edge-1", digest=DIGEST, reason="incident 42"),)
    assert (config.repo_url, config.target_branch, config.remote) == ("https://git.example.com/ml/serving.git", "release", "upstream")


def test_minimal_config_takes_defaults():
    config = parse_config("models:\n  - name: m\n    repository: quay.io/p/m\n")
    assert config.models[0].image == "m"
    assert (config.stages, config.sites, config.holds) == ((), (), ())
    assert config.policy == Policy()
    assert (config.repo_url, config.target_branch, config.remote) == ("", "main", "origin")


@pytest.mark.parametrize(
    "target, attribute",
    [
        ("config", "target_branch"),
        ("model", "repository"),
        ("stage", "name"),
        ("site", "path"),
        ("hold", "digest"),
        ("policy", "allowed_registries"),
    ],
)
def test_config_values_are_frozen(target, attribute):
    config = parse_config(VALID)
    obj = {
        "config": config,
        "model": config.models[0],
        "stage": config.stages[0],
        "site": config.sites[0],
        "hold": config.holds[0],
        "policy": config.policy,
    }[target]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, attribute, "changed")


def test_collections_are_tuples_not_lists():
    config = parse_config(VALID)
    for value in (config.models, config.stages, config.sites, config.holds, config.policy.allowed_registries):
        assert isinstance(value, tuple)


def test_stage_index_orders_stages_and_puts_unknown_last():
    config = parse_config(VALID)
    assert [config.stage_index(s) for s in ("dev", "staging", "prod", "nope")] == [0, 1, 2, 3]


def test_model_lookup_by_name():
    assert parse_config(VALID).model("churn").image == "churn-model"


def test_unknown_model_names_the_configured_models():
    with pytest.raises(InputError) as info:
        parse_config(VALID).model("nope")
    message = str(info.value)
    assert "'nope'" in message
    assert "fraud-detector" in message and "churn" in message


def test_load_config_reads_the_file_at_the_repository_root(tmp_path):
    (tmp_path / CONFIG_FILE).write_bytes(VALID.encode())
    assert load_config(tmp_path) == parse_config(VALID)


def test_load_config_errors_name_the_config_file_not_the_absolute_path(tmp_path):
    (tmp_path / CONFIG_FILE).write_text("models:\n  - name: Bad\n    repository: quay.io/p/m\n")
    with pytest.raises(InputError, match=rf"^{CONFIG_FILE}:2:"):
        load_config(tmp_path)


def test_load_config_of_a_missing_file_says_not_found(tmp_path):
    with pytest.raises(InputError) as info:
        load_config(tmp_path)
    message = str(info.value)
    assert "not found" in message
    assert CONFIG_FILE in message


def test_load_config_refuses_a_file_that_is_not_utf8(tmp_path):
    (tmp_path / CONFIG_FILE).write_bytes(b"models: \xff\n")
    with pytest.raises(InputError, match="not UTF-8"):
        load_config(tmp_path)


def test_config_is_a_config_instance():
    assert isinstance(parse_config(VALID), Config)


def test_a_config_symlinked_out_of_the_repository_is_refused(tmp_path):
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text((PROJECT_ROOT / "gitops-mlops.yaml").read_text())
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "gitops-mlops.yaml").symlink_to(outside)
    with pytest.raises(InputError, match="a symlink that leaves the repository"):
        load_config(repo)
