"""The ``policy:`` section read on its own: allowed registries as images name them, remote resources, the scan gate."""

from __future__ import annotations

import pytest

from gitops_mlops.config.policy import Policy, read_policy
from gitops_mlops.core.errors import InputError
from gitops_mlops.yamltext.nodes import compose


def policy(text: str) -> Policy:
    return read_policy("gitops-mlops.yaml", compose(text, "gitops-mlops.yaml"))


def test_no_section_is_the_default_policy():
    assert read_policy("gitops-mlops.yaml", None) == Policy()


def test_registries_remote_resources_and_the_scan_gate_are_read():
    found = policy(
        "allowedRegistries: [quay.io, 'registry.example.com:5000']\nremoteResources: ['https://github.com/acme/']\nvulnerabilities:\n  maxSeverity: High\n"
    )
    assert found.allowed_registries == ("quay.io", "registry.example.com:5000")
    assert found.remote_resources == ("https://github.com/acme/",)
    assert found.vulnerabilities.max_severity == "high"


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("allowedRegistries: [Quay.io]\n", "gitops-mlops.yaml:1: policy.allowedRegistries"),
        ("vulnerabilities:\n  maxSeverity: awful\n", "gitops-mlops.yaml:2: policy.vulnerabilities.maxSeverity 'awful' is not one of"),
        ("allowed: [quay.io]\n", "unknown key 'allowed' in policy"),
    ],
)
def test_bad_values_name_their_line(text, cause):
    with pytest.raises(InputError, match=cause.replace(".", r"\.")):
        policy(text)
