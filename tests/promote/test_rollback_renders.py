"""Rollback reads renders at earlier commits: what a site ran is what kustomize rendered for it
then, so a rollback reaches before the tool was adopted, keeps a digest-only pin digest-only, and
removes a pin the promotion added (repositories from ``tests/render/test_state_truth.py``)."""

from __future__ import annotations

import json

from testing.cli import cli
from testing.repos import make_repo_from, rendered_images
from tests.render.test_state_truth import BASE, D0, D1, D2, IN_BASE, REPO, config, deployment, pin, promote


def test_rollback_of_a_digest_only_pin_stays_digest_only_and_a_retry_does_nothing(tmp_path):
    files = {
        **BASE,
        "gitops-mlops.yaml": config(),
        "overlays/dev/kustomization.yaml": "resources:\n  - ../../base\n" + pin(tag=None),
        "overlays/prod/kustomization.yaml": "resources:\n  - ../../base\n" + pin(tag=None),
    }
    repo = make_repo_from(tmp_path, files)
    original = repo.read("overlays/dev/kustomization.yaml")
    assert promote(repo, "--to", "dev", "--push").code == 0
    assert rendered_images(repo, "overlays/dev") == [f"{REPO}:1.1.0@{D1}"]
    result = cli("rollback", "fraud-detector", "--site", "dev", "--push", cwd=repo.work)
    assert result.code == 0, result.err
    assert repo.read("overlays/dev/kustomization.yaml") == original  # newTag gone again, byte for byte
    assert rendered_images(repo, "overlays/dev") == [f"{REPO}@{D0}"]
    assert f"digest: {D1}" in repo.read("gitops-mlops.yaml")  # the rolled-back digest is on hold
    head = repo.head()
    again = cli("rollback", "fraud-detector", "--site", "dev", "--push", cwd=repo.work)
    assert again.code == 0 and repo.head() == head == repo.remote_head(), again.err


def test_rollback_reaches_before_the_tool_and_removes_a_pin_the_promotion_added(tmp_path):
    repo = make_repo_from(tmp_path, {**IN_BASE, "base/deployment.yaml": deployment("fraud-detector", f"{REPO}:0.9.0@{D2}")})
    # changes by hand, before the tool was adopted
    (repo.work / "base/deployment.yaml").write_text(deployment("fraud-detector", f"{REPO}:1.0.0@{D0}"))
    repo.git("commit", "-qam", "bump by hand")
    assert promote(repo, "--to", "dev").code == 0  # adds a pin to dev
    assert "images:" in repo.read("overlays/dev/kustomization.yaml")
    result = cli("rollback", "fraud-detector", "--site", "dev", cwd=repo.work)
    assert result.code == 0, result.err
    assert repo.read("overlays/dev/kustomization.yaml") == "resources:\n  - ../../base\n"  # the pin the promotion added is gone
    assert rendered_images(repo, "overlays/dev") == [f"{REPO}:1.0.0@{D0}"]
    result = cli("rollback", "fraud-detector", "--site", "dev", "--to", "0.9.0", cwd=repo.work)
    assert result.code == 0, result.err
    assert rendered_images(repo, "overlays/dev") == [f"{REPO}:0.9.0@{D2}"]
    history = json.loads(cli("history", "fraud-detector", "-o", "json", cwd=repo.work).out)
    assert [e["action"] for e in history] == ["rollback", "rollback", "promote"]
    # one site's history comes from its renders: the change by hand and the first state are there too
    history = json.loads(cli("history", "fraud-detector", "--site", "dev", "-o", "json", cwd=repo.work).out)
    assert [(e["action"], e["version"]) for e in history] == [
        ("rollback", "0.9.0"),
        ("rollback", "1.0.0"),
        ("promote", "1.1.0"),
        ("change", "1.0.0"),
        ("change", "0.9.0"),
    ]


def test_rollback_to_what_already_runs_is_a_no_op(tmp_path):
    repo = make_repo_from(tmp_path, IN_BASE)
    head = repo.head()
    result = cli("rollback", "fraud-detector", "--site", "dev", "--to", "1.0.0", cwd=repo.work)
    assert result.code == 0 and repo.head() == head, result.err
    result = cli("rollback", "fraud-detector", "--site", "dev", "--to", D0[:19], cwd=repo.work)
    assert result.code == 0 and repo.head() == head, result.err
