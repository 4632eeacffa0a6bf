"""Config additions for the registry: ``registries:`` and per-stage ``constraint``/``prereleases``."""

from __future__ import annotations

import textwrap

import pytest

from gitops_mlops.config.load import Stage, parse_config
from gitops_mlops.config.registries import RegistrySpec
from gitops_mlops.core.errors import InputError
from testing.cli import cli
from testing.repos import tree_snapshot

BASE = """\
models:
  - name: m
    repository: quay.io/p/m
"""


def parse(extra: str):
    return parse_config(BASE + textwrap.dedent(extra))


def test_registries_and_stage_constraints_parse_into_values():
    config = parse(
        """\
        stages:
          - name: datacenter
            constraint: ">=1.2.0 <2.0.0"
            prereleases: true
          - name: edge
        registries:
          - host: quay.io
            usernameEnv: QUAY_USER
            passwordEnv: QUAY_TOKEN
          - host: registry.lab:5000
            insecure: true
          - host: registry.corp
            caFile: /etc/pki/corp-ca.pem
        """
    )
    assert config.stages == (Stage("datacenter", ">=1.2.0 <2.0.0", True), Stage("edge"))
    assert config.registries == (
        RegistrySpec("quay.io", username_env="QUAY_USER", password_env="QUAY_TOKEN"),
        RegistrySpec("registry.lab:5000", insecure=True),
        RegistrySpec("registry.corp", ca_file="/etc/pki/corp-ca.pem"),
    )


@pytest.mark.parametrize(
    "extra,needle",
    [
        ("stages:\n  - name: edge\n    constraint: '>=1.2'\n", "gitops-mlops.yaml:6: stage 'edge': constraint '>=1.2'"),
        ("stages:\n  - name: edge\n    prereleases: maybe\n", "prereleases must be true or false"),
        ("registries:\n  - host: quay.io\n    insecure: 'yes'\n", "insecure must be true or false"),
        ("registries:\n  - host: https://quay.io\n", "registry.host 'https://quay.io' is not a valid name"),
        ("registries:\n  - host: quay.io\n  - host: quay.io\n", "listed twice"),
        ("registries:\n  - host: quay.io\n    usernameEnv: U\n", "usernameEnv and passwordEnv go together"),
        ("registries:\n  - host: quay.io\n    password: hunter2\n", "unknown key 'password' in registry"),
        ("registries:\n  - host: lab:5000\n    insecure: true\n    caFile: /ca.pem\n", "caFile is for HTTPS"),
    ],
)
def test_bad_registry_config_is_one_line(extra, needle):
    with pytest.raises(InputError) as caught:
        parse_config(BASE + extra)
    assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_bad_constraint_exits_2_and_changes_nothing(gitops_repo):
    path = gitops_repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text().replace("  - name: edge\n", "  - name: edge\n    constraint: '>=one'\n"))
    gitops_repo.git("commit", "-qam", "bad constraint")
    snap = tree_snapshot(gitops_repo.work)
    result = cli("update", cwd=gitops_repo.work)
    assert result.code == 2 and "constraint '>=one'" in result.err
    assert tree_snapshot(gitops_repo.work) == snap
