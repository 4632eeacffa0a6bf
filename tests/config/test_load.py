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


def test_a_config_symlinked_out_of_the_repository_is_refused(tmp_path):
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text((PROJECT_ROOT / "gitops-mlops.yaml").read_text())
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "gitops-mlops.yaml").symlink_to(outside)
    with pytest.raises(InputError, match="a symlink that leaves the repository"):
        load_config(repo)
