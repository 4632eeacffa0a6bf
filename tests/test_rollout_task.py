"""The Tekton Task gitops-mlops-rollout: valid against the Tekton v1 Task CRD, and its step script run
for real (bash, git, the tool's rollout --watch) on a repository with a remote, as the Task's step would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from testing.paths import DIGEST_B, PROJECT_ROOT, product_schemas
from testing.repos import git, ship
from tests.promote.test_wavegate import with_waves

TASK = PROJECT_ROOT / "environments/pipelines/rollout-task.yaml"


def task() -> dict:
    return yaml.safe_load(TASK.read_text())


def run_step(tmp_path: Path, remote: Path, **params: str) -> tuple[subprocess.CompletedProcess, str]:
    (step,) = task()["spec"]["steps"]
    result = tmp_path / "results" / "state"
    result.parent.mkdir(exist_ok=True)
    values = {"MODEL": "fraud-detector", "IMAGE_URL": "quay.io/example/fraud-detector:1.4.0", "IMAGE_DIGEST": DIGEST_B, "STAGE": "edge", "INTERVAL": "1s"}
    values |= {"REPO_URL": remote.as_uri(), "REVISION": "main"} | params
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": str(tmp_path / "home"),
        "GITOPS_MLOPS_NO_VERIFY": "1",  # no registry holds quay.io/example here
        "GITOPS_MLOPS_RENDER_CACHE": os.environ.get("GITOPS_MLOPS_RENDER_CACHE", "off"),
        **values,
        "BASIC_AUTH_BOUND": "false",
        "BASIC_AUTH_PATH": "",
        "RESULT_STATE": str(result),
    }
    assert set(env) - {"PATH", "GITOPS_MLOPS_NO_VERIFY", "GITOPS_MLOPS_RENDER_CACHE"} == {e["name"] for e in step["env"]}
    work = tmp_path / "step"
    work.mkdir(exist_ok=True)
    done = subprocess.run(["bash", "-c", step["script"]], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    return done, result.read_text() if result.exists() else ""


def test_the_task_is_a_valid_tekton_v1_task():
    assert product_schemas().check_object(task()) == ([], None)
    spec = task()["spec"]
    assert [p["name"] for p in spec["params"]] == ["MODEL", "IMAGE_URL", "IMAGE_DIGEST", "STAGE", "INTERVAL", "REPO_URL", "REVISION"]
    assert "$(params." not in spec["steps"][0]["script"] and "--watch" in spec["steps"][0]["script"]


def test_the_step_rolls_out_every_wave_and_pushes(gitops_repo, tmp_path):
    with_waves(gitops_repo, waves="    waves:\n      - sites: 1\n      - sites: 100%\n")
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud", push=True)
    done, state = run_step(tmp_path, gitops_repo.remote)
    assert done.returncode == 0, done.stderr
    assert state == "done" and done.stderr.count("promoted wave") == 2
    waves = git(gitops_repo.remote, "log", "-2", "--format=%(trailers:key=Wave,valueonly)", "main").split()
    assert waves == ["2/2", "1/2"]


def test_a_refused_rollout_fails_the_step_and_pushes_nothing(gitops_repo, tmp_path):
    with_waves(gitops_repo)
    head = gitops_repo.remote_head()
    done, state = run_step(tmp_path, gitops_repo.remote)  # cloud does not run the build yet: stage order
    assert done.returncode == 3 and "stage order" in done.stderr and state == ""
    assert gitops_repo.remote_head() == head
    done, _ = run_step(tmp_path, gitops_repo.remote, STAGE="")
    assert done.returncode == 2 and done.stderr == "gitops-mlops-rollout: param STAGE is empty\n"
