"""The ``modelRegistry:`` section and a model's ``registeredModel``: read once, each fault at its file:line (exit 2)."""

from __future__ import annotations

import pytest

from gitops_mlops.config.load import parse_config
from gitops_mlops.core.errors import InputError
from testing.paths import PROJECT_ROOT

BASE = """\
models:
  - name: fraud-detector
    repository: quay.io/example/fraud-detector
{model_extra}stages:
  - name: dev
{section}"""


def config(section: str = "", model_extra: str = ""):
    return parse_config(BASE.format(section=section, model_extra=model_extra))


def test_model_registry_is_read_with_its_api_base():
    cfg = config("modelRegistry:\n  url: https://registry.example.com\n  tokenEnv: MR_TOKEN\n  caFile: ca.pem\n")
    spec = cfg.model_registry
    assert (spec.url, spec.token_env, spec.ca_file) == ("https://registry.example.com", "MR_TOKEN", "ca.pem")
    assert spec.api == "https://registry.example.com/api/model_registry/v1alpha3"


def test_a_url_already_naming_the_api_base_keeps_it_once():
    spec = config("modelRegistry:\n  url: http://127.0.0.1:8080/api/model_registry/v1alpha3/\n").model_registry
    assert spec.api == "http://127.0.0.1:8080/api/model_registry/v1alpha3"


def test_no_section_means_no_model_registry():
    assert config().model_registry is None


def test_registered_model_defaults_to_the_models_name():
    assert config().models[0].registered_name == "fraud-detector"
    assert config(model_extra="    registeredModel: Fraud Detector v2\n").models[0].registered_name == "Fraud Detector v2"


@pytest.mark.parametrize(
    ("section", "line", "cause"),
    [
        ("modelRegistry:\n  url: ftp://registry.example.com\n", 7, "is not an http(s):// URL"),
        ("modelRegistry:\n  url: https://user:pw@registry.example.com\n", 7, "carries a user or password"),
        ("modelRegistry:\n  tokenEnv: MR_TOKEN\n", 7, "modelRegistry needs 'url'"),
        ("modelRegistry:\n  url: https://r.example.com\n  tokenEnv: 'MR TOKEN'\n", 8, "not an environment variable name"),
        ("modelRegistry:\n  url: http://r.example.com\n  caFile: ca.pem\n", 8, "caFile is for HTTPS"),
        ("modelRegistry:\n  url: https://r.example.com\n  token: x\n", 8, "unknown key 'token'"),
        ("modelRegistry: https://r.example.com\n", 6, "must be a mapping"),
    ],
)
def test_bad_model_registry_is_refused_at_its_line(section, line, cause):
    with pytest.raises(InputError) as caught:
        config(section)
    message = str(caught.value)
    assert message.startswith(f"gitops-mlops.yaml:{line}:"), message
    assert cause in message and "\n" not in message
    assert "pw@" not in message


def test_bad_registered_model_is_refused_at_its_line():
    with pytest.raises(InputError, match=r"^gitops-mlops\.yaml:4: registeredModel 'caf\u00e9'"):
        config(model_extra="    registeredModel: caf\u00e9\n")


def test_update_from_is_tags_or_model_registry_and_needs_the_registry(tmp_path):
    base = (PROJECT_ROOT / "gitops-mlops.yaml").read_text()
    registered = base.replace("  - name: fraud-detector\n", "  - name: fraud-detector\n    updateFrom: modelRegistry\n", 1)
    config = parse_config(registered + "modelRegistry:\n  url: https://mr.example.com\n")
    assert config.model("fraud-detector").update_from == "modelRegistry" and config.model("demand-forecast").update_from == "tags"
    with pytest.raises(InputError, match="updateFrom: modelRegistry needs the modelRegistry"):
        parse_config(registered)
    with pytest.raises(InputError, match="updateFrom 'oci' is not one of: tags, modelRegistry"):
        parse_config(base.replace("  - name: fraud-detector\n", "  - name: fraud-detector\n    updateFrom: oci\n", 1))
