"""The tool's image: scripts/build-image.sh builds the Containerfile with buildah (from a local
Debian base made with debootstrap, since no base image can be pulled here), and podman runs
``gitops-mlops promote`` inside it, as its non-root user, against a real repository."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess

import pytest

from testing.paths import DIGEST_B, PROJECT_ROOT
from testing.repos import make_gitops_repo

pytestmark = pytest.mark.slow

TAG = "localhost/gitops-mlops:test"


def storage() -> list[str]:
    """The storage flags scripts/build-image.sh uses: its runroot is short whatever the clone's path."""
    store = os.environ.get("GITOPS_MLOPS_CONTAINERS") or str(PROJECT_ROOT / ".tools" / "containers")
    runroot = "/tmp/gitops-mlops-run-" + hashlib.sha1(store.encode()).hexdigest()[:12]
    return ["--root", f"{store}/storage", "--runroot", runroot, "--storage-driver", "vfs"]


def podman(*args: str) -> subprocess.CompletedProcess:
    # runc, and rlimits a sandbox lets a container set (crun, and the host's nproc, are refused here)
    run = ["podman", *storage(), "--runtime", "runc", "run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
    return subprocess.run([*run, *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def image():
    tools = ["buildah", "podman", "runc"] + ([] if os.environ.get("GITOPS_MLOPS_IMAGE_BASE") else ["debootstrap"])
    absent = [t for t in tools if shutil.which(t) is None and not os.path.exists(f"/usr/sbin/{t}")]
    if absent:
        reason = f"{', '.join(absent)} not installed (scripts/bootstrap.sh --with-registry installs them)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    built = subprocess.run(["bash", "scripts/build-image.sh", TAG], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=1200)
    assert built.returncode == 0, built.stderr
    return TAG


def test_the_image_says_what_it_runs(image):
    done = podman(image, "--version")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("gitops-mlops ") and any(line.startswith("kustomize v5") for line in lines)
    assert any(line.startswith("git version") for line in lines)


def test_promote_runs_inside_the_image_as_its_non_root_user(image, tmp_path):
    seed = make_gitops_repo(tmp_path / "seed")
    data = tmp_path / "data"
    data.mkdir()
    shutil.copytree(seed.remote, data / "remote.git", symlinks=True)
    subprocess.run(["chown", "-R", "1001:1001", str(data)], check=True)  # the image's user owns what it pushes to
    script = (
        "set -e; id -u; git clone --quiet /data/remote.git repo && cd repo"
        " && git config user.name 'Model Pipeline' && git config user.email pipeline@example.com"
        f" && gitops-mlops promote fraud-detector quay.io/example/fraud-detector:1.4.0@{DIGEST_B} --to datacenter --push --no-verify -o json"
    )
    done = podman("-v", f"{data}:/data", "--entrypoint", "bash", image, "-c", script)
    assert done.returncode == 0, done.stderr
    uid, _, out = done.stdout.partition("\n")
    assert uid == "1001"
    result = json.loads(out)
    assert result["pushed"] and result["sites"] == ["datacenter"]
    remote = ["git", "-c", "safe.directory=*", "-C", str(data / "remote.git")]
    assert subprocess.run([*remote, "rev-parse", "main"], capture_output=True, text=True).stdout.strip() == result["commit"]
    message = subprocess.run([*remote, "log", "-1", "--format=%an%n%B", "main"], capture_output=True, text=True).stdout
    assert message.startswith("Model Pipeline\n") and f"Image: quay.io/example/fraud-detector:1.4.0@{DIGEST_B}" in message
