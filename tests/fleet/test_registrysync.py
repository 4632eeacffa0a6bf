"""Contract tests (no model registry server runs here: a stand-in checked against the published
description): a sync records what the remote's target branch renders, and only that."""

from __future__ import annotations

import pytest

from gitops_mlops.core.errors import InputError
from gitops_mlops.fleet.registrysync import after_push, sync
from testing.cli import cli
from tests.promote.test_registered import ENV, setup  # noqa: F401 (a fixture: the example with both registries)


def test_a_sync_records_only_what_reached_the_remote(setup, model_registry, monkeypatch):  # noqa: F811
    repo, _, version, _ = setup
    monkeypatch.setenv("MR_TOKEN", ENV["MR_TOKEN"])
    assert cli("promote", "fraud-detector", "--registry-version", "1.4.0", "--to", "datacenter", cwd=repo.work, env=ENV).code == 0
    unpushed = sync(repo.work)
    assert unpushed.created == [] and model_registry.services == {}  # committed here, not on the remote: nothing recorded
    repo.git("push", "-q", "origin", "HEAD:main")
    pushed = sync(repo.work)
    assert pushed.created == [("datacenter", "fraud-detector", version["id"])]
    assert sync(repo.work).changed == 0  # a second sync changes nothing


def test_without_a_model_registry_there_is_nothing_to_sync(gitops_repo):
    assert after_push(gitops_repo.work) is None
    with pytest.raises(InputError, match="registry sync needs modelRegistry"):
        sync(gitops_repo.work)
