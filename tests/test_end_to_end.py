"""End to end, all real: buildah builds a modelcar image (a small model file) and pushes it to the
loopback registry (docker-registry); the tool promotes it by tag, resolving the digest, and the pin
equals what skopeo reports; the commit goes over smart HTTP with Basic auth (lighttpd with git's
git-http-backend) to a repository whose pre-receive hook refuses non-fast-forward pushes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gitops_mlops.pins.kustomization import parse
from testing.cli import cli_subprocess as cli  # git's own stderr, where a password could show, is captured too
from testing.git_http_server import GitHttpServer, missing
from testing.repos import git, make_gitops_repo, point_models_at, registry_namespace

pytestmark = pytest.mark.slow

USER, PASSWORD = "pipeline", "Corr3ct-Horse-Battery"


def need(*tools: str) -> None:
    absent = [t for t in tools if shutil.which(t) is None]
    if absent:
        reason = f"{', '.join(absent)} not installed (scripts/bootstrap.sh --with-registry installs them)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


@pytest.fixture
def git_server(tmp_path):
    absent = missing()
    if absent:
        need(absent)
    server = GitHttpServer(tmp_path / "git-server", USER, PASSWORD)
    yield server
    server.close()


class Buildah:
    """buildah with its own storage under the test's folder (vfs: no overlay mounts in a sandbox)."""

    def __init__(self, root: Path) -> None:
        self.args = ["buildah", "--root", str(root / "storage"), "--runroot", str(root / "run"), "--storage-driver", "vfs"]

    def __call__(self, *args: str) -> str:
        done = subprocess.run([*self.args, *args], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"buildah {args[0]}: {done.stderr}"
        return done.stdout.strip()

    def modelcar(self, model_file: Path, name: str) -> str:
        """A modelcar image: the model under /models, as KServe's modelcar sidecar expects."""
        container = self("from", "scratch")
        self("copy", container, str(model_file), "/models/1/model.onnx")
        self("config", "--label", "org.opencontainers.image.title=fraud-detector", "--workingdir", "/models", container)
        self("commit", "--quiet", container, name)
        self("rm", container)
        return name


def skopeo_digest(reference: str) -> str:
    done = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", f"docker://{reference}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def clone_over_http(server: GitHttpServer, tmp_path: Path, name: str, password: str = PASSWORD) -> tuple[Path, Path]:
    """A clone that authenticates as Tekton's basic-auth workspace does: a credential store file."""
    creds = tmp_path / f"{name}.git-credentials"
    creds.write_text(f"http://{USER}:{password}@127.0.0.1:{server.port}\n")
    work = tmp_path / name
    helper = f"store --file={creds}"
    git(tmp_path, "-c", f"credential.helper={helper}", "clone", "--quiet", server.url("gitops.git"), str(work))
    git(work, "config", "credential.helper", helper)
    return work, creds


def test_a_modelcar_built_and_pushed_is_promoted_by_tag_and_pushed_over_smart_http(tmp_path, registry, git_server):
    need("buildah", "skopeo")
    seed = make_gitops_repo(tmp_path / "seed")
    ns = registry_namespace()
    point_models_at(seed, registry.host, ns)
    seed.git("push", "--quiet", "origin", "main")
    served = git_server.add("gitops.git", seed.remote)
    work, creds = clone_over_http(git_server, tmp_path, "pipeline")

    model = tmp_path / "model.onnx"
    model.write_bytes(b"\x08\x07\x12\x0bfraud-model" + os.urandom(64))  # a small model file, unique per run
    buildah = Buildah(tmp_path / "buildah")
    image = buildah.modelcar(model, "localhost/fraud-detector-modelcar:1.5.0")
    reference = f"{registry.host}/{ns}/fraud-detector:1.5.0"
    buildah("push", "--quiet", "--tls-verify=false", image, f"docker://{reference}")
    digest = skopeo_digest(reference)
    assert digest.startswith("sha256:")

    result = cli("promote", "fraud-detector", reference, "--to", "datacenter", "--push", "-o", "json", cwd=work)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["digest"] == digest and data["pushed"] and data["version"] == "1.5.0"
    assert git(served, "rev-parse", "main").strip() == data["commit"]
    path = "overlays/datacenter/kustomization.yaml"
    text = git(served, "show", f"main:{path}")
    assert parse(text, path).pin("InferenceService/fraud-detector").digest == digest
    assert f"oci://{reference}@{digest}" in text
    rendered = cli("render", "datacenter", cwd=work)
    assert f"storageUri: oci://{reference}@{digest}" in rendered.out
    assert PASSWORD not in result.out + result.err + creds.read_text().replace(PASSWORD, "", 1)


def test_a_wrong_password_is_exit_5_with_the_password_in_no_output(tmp_path, git_server):
    seed = make_gitops_repo(tmp_path / "seed")
    served = git_server.add("gitops.git", seed.remote)
    before = git(served, "rev-parse", "main").strip()
    work, creds = clone_over_http(git_server, tmp_path, "pipeline")
    wrong = "Wr0ng-Password-7731"
    creds.write_text(f"http://{USER}:{wrong}@127.0.0.1:{git_server.port}\n")
    image = "quay.io/example/fraud-detector:1.4.0@sha256:" + "b" * 64
    head = git(work, "rev-parse", "HEAD").strip()
    result = cli("promote", "fraud-detector", image, "--to", "datacenter", "--push", "--no-verify", cwd=work)
    assert result.code == 5, result.err
    assert "Authentication failed" in result.err and len(result.err.strip().splitlines()) == 1
    assert wrong not in result.out + result.err and PASSWORD not in result.out + result.err
    assert git(served, "rev-parse", "main").strip() == before and git(work, "rev-parse", "HEAD").strip() == head
    # the same with the password in the remote's URL, as some pipelines set it
    git(work, "config", "--unset", "credential.helper")
    git(work, "remote", "set-url", "origin", f"http://{USER}:{wrong}@127.0.0.1:{git_server.port}/git/gitops.git")
    result = cli("promote", "fraud-detector", image, "--to", "datacenter", "--push", "--no-verify", cwd=work)
    assert result.code == 5 and wrong not in result.out + result.err
    assert git(served, "rev-parse", "main").strip() == before


def test_the_hook_refuses_a_rewrite_and_a_racing_promotion_still_lands_without_force(tmp_path, git_server):
    seed = make_gitops_repo(tmp_path / "seed")
    served = git_server.add("gitops.git", seed.remote)
    first, _ = clone_over_http(git_server, tmp_path, "first")
    other, _ = clone_over_http(git_server, tmp_path, "other")
    git(other, "commit", "--quiet", "--allow-empty", "-m", "someone else landed first")
    git(other, "push", "--quiet", "origin", "main")
    rewritten = subprocess.run(["git", "push", "--force", "origin", "HEAD~1:main"], cwd=other, capture_output=True, text=True)
    assert rewritten.returncode != 0 and "would not fast-forward" in rewritten.stderr  # the hook refuses a rewrite
    image = "quay.io/example/fraud-detector:1.4.0@sha256:" + "c" * 64
    result = cli("promote", "fraud-detector", image, "--to", "datacenter", "--push", "--no-verify", "-o", "json", cwd=first)
    assert result.code == 0, result.err
    landed = json.loads(result.out)["commit"]
    assert git(served, "rev-parse", "main").strip() == landed
    assert git(served, "log", "--format=%s", "-2", "main").splitlines()[1] == "someone else landed first"
