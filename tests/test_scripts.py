"""The pull-request check script a CI system runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitops_mlops.change.intents import PromoteRequest as Request
from gitops_mlops.change.intents import Publish
from gitops_mlops.promote.promotion import promote
from testing.paths import DIGEST_B, PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "pr-check.sh"


def run_check(cwd: Path, comment: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", str(SCRIPT), "origin/main", str(comment)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_pr_check_validates_and_writes_the_review_comment(gitops_repo, tmp_path):
    promote(
        gitops_repo.work,
        Request(model="fraud-detector", image=f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}", selectors=("datacenter",)),
        Publish(branch="promote/fd"),
    )
    comment = tmp_path / "comment.md"
    result = run_check(gitops_repo.work, comment)
    assert result.returncode == 0, result.stderr
    text = comment.read_text()
    assert "| fraud-detector | 1.0.0 → 1.4.0 |" in text and "| 1: datacenter |" in text and "<details><summary>datacenter</summary>" in text


def test_pr_check_fails_with_the_validation_exit_code(gitops_repo, tmp_path):
    path = gitops_repo.work / "overlays/cloud/kustomization.yaml"
    path.write_text(path.read_text().replace("digest: sha256:", "digest: sha256:0", 1))
    gitops_repo.git("commit", "-qam", "a malformed digest")
    comment = tmp_path / "comment.md"
    result = run_check(gitops_repo.work, comment)
    assert result.returncode == 4 and "malformed digest" in result.stdout + result.stderr
    assert not comment.exists()


@pytest.mark.slow
def test_the_demo_runs_every_act_and_prints_no_escape_codes_into_a_pipe():
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("NO_COLOR", None)
    demo = subprocess.run(["bash", str(PROJECT_ROOT / "scripts" / "demo.sh")], env=env, capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "\x1b" not in demo.stdout + demo.stderr
    assert "SKIPPED" not in demo.stdout  # the closing-the-loop act ran: Prometheus is there or was installed
    assert "Action: rollback" in demo.stdout and "--to edge --push" in demo.stdout
    assert "promote fraud-detector --registry-version 1.5.0" in demo.stdout and "Model-Version-Id:" in demo.stdout  # the model registry act
    assert "modelregistry.opendatahub.io~1model-version-id" in demo.stdout and "datacenter   fraud-detector   version 1.5.0    DEPLOYED" in demo.stdout
    assert "registry sync: 0 records written" in demo.stderr + demo.stdout
