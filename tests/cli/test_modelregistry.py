"""``gitops-mlops registry sync`` on the command line: one line per record written, JSON on stdout,
bad input exit 2. Contract tests: the model registry is a stand-in checked against its published description."""

from __future__ import annotations

import json

from testing.cli import cli
from testing.repos import tree_snapshot
from tests.promote.test_registered import ENV, setup  # noqa: F401 (a fixture: the example with both registries)


def test_registry_sync_prints_each_record_and_json(setup, model_registry):  # noqa: F811
    repo, _, version, _ = setup
    assert cli("promote", "fraud-detector", "--registry-version", "1.4.0", "--to", "datacenter", cwd=repo.work, env=ENV).code == 0
    repo.git("push", "-q", "origin", "HEAD:main")
    result = cli("registry", "sync", "-o", "json", cwd=repo.work, env=ENV)
    assert result.code == 0, result.err
    assert json.loads(result.out)["created"] == [{"environment": "datacenter", "registeredModel": "fraud-detector", "modelVersion": version["id"]}]
    assert f"fraud-detector in datacenter: model version {version['id']}" in result.err
    assert ENV["MR_TOKEN"] not in result.out + result.err


def test_registry_sync_without_a_model_registry_is_bad_input_and_changes_nothing(gitops_repo):
    before = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    result = cli("registry", "sync", cwd=gitops_repo.work)
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1 and "modelRegistry" in result.err
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == before
