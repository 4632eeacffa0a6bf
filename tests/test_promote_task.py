"""The Tekton Task gitops-mlops-promote: valid against the Tekton v1 Task CRD, and its step script run
for real (bash, git, the tool) on a repository with a remote, as the Task's step would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from testing.paths import DIGEST_B, PROJECT_ROOT, product_schemas
from testing.repos import git

TASK = PROJECT_ROOT / "environments/pipelines/promote-task.yaml"
FORGE_TOKEN = "forge-token-for-the-task-0042"


def task() -> dict:
    return yaml.safe_load(TASK.read_text())


def run_step(tmp_path: Path, remote: Path, **params: str) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """The step's script with its env as Tekton would set it: params, workspace paths, result files."""
    (step,) = task()["spec"]["steps"]
    auth = tmp_path / "basic-auth"
    auth.mkdir(exist_ok=True)
    (auth / ".git-credentials").write_text("https://pipeline:not-a-real-token@git.example.com\n")
    (auth / ".gitconfig").write_text("[credential]\n\thelper = store\n[user]\n\tname = Model Pipeline\n\temail = pipeline@example.com\n")
    results = {name: tmp_path / "results" / name for name in ("commit", "pushed", "pull-request-url")}
    results["commit"].parent.mkdir(exist_ok=True)
    values = {"MODEL": "fraud-detector", "IMAGE_URL": "quay.io/example/fraud-detector:1.4.0", "IMAGE_DIGEST": DIGEST_B, "TO": "datacenter"}
    values |= {"REPO_URL": remote.as_uri(), "REVISION": "main", "PR_BRANCH": "", "VERSION": "", "OPEN_PR": "false", "RELEASE": ""} | params
    token = tmp_path / "forge-token"
    token.mkdir(exist_ok=True)
    (token / "token").write_text(FORGE_TOKEN)
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": str(tmp_path / "home"),
        "GITOPS_MLOPS_NO_VERIFY": "1",  # no registry holds quay.io/example here
        "GITOPS_MLOPS_RENDER_CACHE": os.environ.get("GITOPS_MLOPS_RENDER_CACHE", "off"),
        **values,
        "BASIC_AUTH_BOUND": "true",
        "BASIC_AUTH_PATH": str(auth),
        "DOCKERCONFIG_BOUND": "false",
        "DOCKERCONFIG_PATH": "",
        "FORGE_TOKEN_BOUND": "true",
        "FORGE_TOKEN_PATH": str(token),
        "RESULT_COMMIT": str(results["commit"]),
        "RESULT_PUSHED": str(results["pushed"]),
        "RESULT_PULL_REQUEST_URL": str(results["pull-request-url"]),
    }
    names = {e["name"] for e in step["env"]}
    assert set(env) - {"PATH", "GITOPS_MLOPS_NO_VERIFY", "GITOPS_MLOPS_RENDER_CACHE"} == names  # the test sets what the Task sets, no more
    work = tmp_path / "step"
    work.mkdir(exist_ok=True)
    done = subprocess.run(["bash", "-c", step["script"]], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    return done, {name: path.read_text() if path.exists() else "" for name, path in results.items()}


def test_the_task_is_a_valid_tekton_v1_task():
    errors, unchecked = product_schemas().check_object(task())
    assert (errors, unchecked) == ([], None)
    spec = task()["spec"]
    assert [p["name"] for p in spec["params"]] == [
        "MODEL",
        "IMAGE_URL",
        "IMAGE_DIGEST",
        "TO",
        "REPO_URL",
        "REVISION",
        "PR_BRANCH",
        "VERSION",
        "OPEN_PR",
        "RELEASE",
    ]
    assert [r["name"] for r in spec["results"]] == ["commit", "pushed", "pull-request-url"]
    assert {w["name"]: w["optional"] for w in spec["workspaces"]} == {"basic-auth": True, "dockerconfig": True, "forge-token": True}
    assert "$(params." not in spec["steps"][0]["script"]  # params reach the script as variables, never as code


def test_the_step_promotes_and_pushes_and_writes_its_results(gitops_repo, tmp_path):
    done, results = run_step(tmp_path, gitops_repo.remote)
    assert done.returncode == 0, done.stderr
    assert results == {"commit": gitops_repo.remote_head(), "pushed": "true", "pull-request-url": ""}
    message = git(gitops_repo.remote, "log", "-1", "--format=%an%n%B", "main")
    assert message.startswith("Model Pipeline\n") and "Image: quay.io/example/fraud-detector:1.4.0@" + DIGEST_B in message
    again, results = run_step(tmp_path, gitops_repo.remote)
    assert again.returncode == 0 and results["commit"] == "" and results["pushed"] == "false"  # already up to date


def test_the_step_can_push_a_branch_for_a_pull_request(gitops_repo, tmp_path):
    main = gitops_repo.remote_head()
    done, results = run_step(tmp_path, gitops_repo.remote, PR_BRANCH="promote/fraud-detector-1.4.0", TO="datacenter cloud", VERSION="1.4.0")
    assert done.returncode == 3 and "stage order" in done.stderr  # cloud before datacenter runs it: refused, nothing pushed
    done, results = run_step(tmp_path, gitops_repo.remote, PR_BRANCH="promote/fraud-detector-1.4.0", VERSION="1.4.0")
    assert done.returncode == 0, done.stderr
    assert gitops_repo.remote_head("promote/fraud-detector-1.4.0") == results["commit"] and gitops_repo.remote_head() == main


def test_the_step_opens_the_pull_request_and_gives_its_url(gitops_repo, tmp_path):
    """The forge is a loopback server written to Gitea's documented endpoints (a contract test)."""
    from testing.forge_servers import GiteaServer

    gitea = GiteaServer("ml/gitops", FORGE_TOKEN)
    try:
        path = gitops_repo.work / "gitops-mlops.yaml"
        path.write_text(path.read_text() + f"forge:\n  type: gitea\n  url: {gitea.url}\n  repository: ml/gitops\n")
        gitops_repo.git("commit", "-qam", "forge")
        gitops_repo.git("push", "--quiet", "origin", "main")
        done, results = run_step(tmp_path, gitops_repo.remote, OPEN_PR="true")
        assert done.returncode == 2 and "OPEN_PR needs PR_BRANCH" in done.stderr
        done, results = run_step(tmp_path, gitops_repo.remote, OPEN_PR="true", PR_BRANCH="promote/fraud-detector-1.4.0")
        assert done.returncode == 0, done.stderr
        assert results["pull-request-url"] == "http://gitea.test/ml/gitops/pulls/1" and results["pushed"] == "true"
        assert gitea.pulls[0]["head"]["ref"] == "promote/fraud-detector-1.4.0" and FORGE_TOKEN not in done.stdout + done.stderr
    finally:
        gitea.close()


@pytest.mark.parametrize("missing", ["MODEL", "IMAGE_DIGEST", "TO"])
def test_a_missing_param_is_one_line_and_pushes_nothing(gitops_repo, tmp_path, missing):
    head = gitops_repo.remote_head()
    done, results = run_step(tmp_path, gitops_repo.remote, **{missing: ""})
    assert done.returncode == 2 and done.stderr == f"gitops-mlops-promote: param {missing} is empty\n"
    assert gitops_repo.remote_head() == head and results == {"commit": "", "pushed": "", "pull-request-url": ""}


def test_the_model_build_pipeline_is_a_valid_tekton_v1_pipeline_ending_in_the_promotion():
    pipeline = yaml.safe_load((PROJECT_ROOT / "environments/pipelines/model-build.yaml").read_text())
    assert product_schemas().check_object(pipeline) == ([], None)
    tasks = {t["name"]: t for t in pipeline["spec"]["tasks"]}
    assert list(tasks) == ["clone", "build", "test", "push", "promote"]
    assert tasks["clone"]["taskRef"]["resolver"] == "cluster" and tasks["promote"]["taskRef"] == {"name": "gitops-mlops-promote"}
    params = {p["name"]: p["value"] for p in tasks["promote"]["params"]}
    assert params["IMAGE_DIGEST"] == "$(tasks.push.results.IMAGE_DIGEST)" and params["TO"] == "$(params.first-stage)"
    assert [t.get("runAfter") for t in tasks.values()] == [None, ["clone"], ["build"], ["test"], ["push"]]


def test_the_step_promotes_a_member_of_a_release_with_release(gitops_repo, tmp_path):
    config = gitops_repo.work / "gitops-mlops.yaml"
    config.write_text(config.read_text() + "releases:\n  - name: fraud\n    members: [fraud-detector, openvino-model-server]\n")
    git(gitops_repo.work, "commit", "-qam", "a release")
    git(gitops_repo.work, "push", "-q", "origin", "main")
    main = gitops_repo.remote_head()
    alone, _ = run_step(tmp_path, gitops_repo.remote)
    assert alone.returncode == 3 and "--member-only" in alone.stderr and gitops_repo.remote_head() == main  # a member alone: refused
    done, results = run_step(tmp_path, gitops_repo.remote, RELEASE="fraud")
    assert done.returncode == 0, done.stderr
    assert results["commit"] == gitops_repo.remote_head() and results["pushed"] == "true"
    message = git(gitops_repo.remote, "log", "-1", "--format=%B", "main")
    assert "Release: fraud\nModel: fraud-detector\n" in message and "Model: openvino-model-server" not in message  # the other member keeps what it runs
    bad, _ = run_step(tmp_path, gitops_repo.remote, RELEASE="fraud", VERSION="1.4.0")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
