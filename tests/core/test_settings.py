"""Settings are read when used, never at import; a bad value is one line and exit 2. The CRD
fixtures come from GITOPS_MLOPS_CRDS or ../shared/crds, and their tests skip without them
(fail under CI=true)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from testing.cli import cli
from testing.paths import DIGEST_B, PROJECT_ROOT

MODULES = [
    "gitops_mlops.cli.main",
    "gitops_mlops.promote.promotion",
    "gitops_mlops.render.kustomize",
    "gitops_mlops.registry.client",
    "gitops_mlops.views.diff",
    "gitops_mlops.promote.update",
    "gitops_mlops.promote.rollback",
]
BAD = {"GITOPS_MLOPS_PUSH_ATTEMPTS": "many", "GITOPS_MLOPS_KUSTOMIZE_TIMEOUT": "-1", "GITOPS_MLOPS_REGISTRY_TIMEOUT": "nan"}


def test_importing_reads_no_setting():
    code = "import " + ", ".join(MODULES)
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, **BAD}, capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    "name, value, args",
    [
        ("GITOPS_MLOPS_KUSTOMIZE_TIMEOUT", "soon", ("validate",)),
        (
            "GITOPS_MLOPS_PUSH_ATTEMPTS",
            "2.5",
            ("promote", "fraud-detector", f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}", "--to", "datacenter", "--push"),
        ),
        ("GITOPS_MLOPS_REGISTRY_TIMEOUT", "0", ("promote", "fraud-detector", "quay.io/example/fraud-detector:1.4.0", "--to", "datacenter")),
    ],
)
def test_a_bad_number_is_one_line_and_exit_2(gitops_repo, name, value, args):
    result = cli(*args, cwd=gitops_repo.work, env={name: value})
    assert result.code == 2 and result.err.strip().splitlines() == [result.err.strip()] and name in result.err, result.err


def _schema_test(env: dict) -> subprocess.CompletedProcess:
    target = "tests/render/test_schemas.py::test_the_pr_check_pipeline_is_a_valid_tekton_v1_pipeline_that_fans_out_over_shards"
    return subprocess.run(
        [sys.executable, "-m", "pytest", target, "-q", "-rs", "-p", "no:cacheprovider"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )


@pytest.mark.slow
def test_crd_tests_skip_with_one_line_without_fixtures_and_fail_under_ci(tmp_path):
    missing = str(tmp_path / "no-crds-here")
    skipped = _schema_test({"GITOPS_MLOPS_CRDS": missing, "CI": ""})
    assert skipped.returncode == 0 and "1 skipped" in skipped.stdout and f"no CRD fixtures at {missing}" in skipped.stdout, skipped.stdout
    failed = _schema_test({"GITOPS_MLOPS_CRDS": missing, "CI": "true"})
    assert failed.returncode == 1 and "1 failed" in failed.stdout, failed.stdout
