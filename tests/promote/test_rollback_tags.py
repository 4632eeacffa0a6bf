"""Rollback to a state pinned by a tag without a digest (how repositories are before the tool):
resolved in the registry and pinned by tag and digest; offline (--no-verify) pinned by the tag
alone, as it was, with a warning; and a dry run exits exactly as the real run would.

Real git (a bare remote and a clone), the real kustomize and a real registry on loopback.
"""

from __future__ import annotations

import json

import pytest

from gitops_mlops.render.kustomize import Kustomize
from testing.cli import cli
from testing.repos import GitOpsRepo, make_repo_from, registry_namespace, tree_snapshot

D9 = "sha256:" + "9" * 64
OFFLINE = "127.0.0.1:9"  # nothing listens there: the registry is down


def deployment() -> str:
    return """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: fraud-detector
spec:
  selector:
    matchLabels: {app: fraud-detector}
  template:
    metadata:
      labels: {app: fraud-detector}
    spec:
      containers:
        - name: server
          image: fraud-detector
"""


def overlay(repo: str, tag: str, digest: str = "") -> str:
    return f"resources:\n  - ../../base\nimages:\n  - name: fraud-detector\n    newName: {repo}\n    newTag: '{tag}'\n" + (
        f"    digest: {digest}\n" if digest else ""
    )


def as_found(tmp_path, host: str, tag: str = "1.2.0", digest: str = "") -> tuple[GitOpsRepo, str]:
    """A repository as the tool finds it: both sites pin fraud-detector by tag alone."""
    repo = f"{host}/{registry_namespace()}/fraud-detector"
    files = {
        "base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
        "base/deployment.yaml": deployment(),
        "overlays/dev/kustomization.yaml": overlay(repo, tag, digest),
        "overlays/prod/kustomization.yaml": overlay(repo, tag, digest),
        "gitops-mlops.yaml": (
            f"models:\n  - name: fraud-detector\n    image: fraud-detector\n    repository: {repo}\n"
            "stages:\n  - name: dev\n  - name: prod\n"
            f"policy:\n  allowedRegistries: ['{host}']\nregistries:\n  - host: {host}\n    insecure: true\n"
        ),
    }
    return make_repo_from(tmp_path, files), repo


def rendered_images(repo: GitOpsRepo, path: str) -> list[str]:
    out = Kustomize.find().build(repo.work / path)
    return [line.split("image:", 1)[1].strip() for line in out.splitlines() if line.strip().removeprefix("- ").startswith("image:")]


def promoted(repo: GitOpsRepo, image: str, digest: str) -> None:
    result = cli("promote", "fraud-detector", f"{image}:1.3.0@{digest}", "--to", "dev", "--no-verify", "--push", cwd=repo.work)
    assert result.code == 0, result.err


def unchanged(repo: GitOpsRepo):
    files = {k: v for k, v in tree_snapshot(repo.work).items() if "/.git/" not in k}
    return files, repo.head(), repo.remote_head()


def test_rollback_to_a_tag_resolves_it_and_pins_tag_and_digest(tmp_path, registry, pusher):
    repo, image = as_found(tmp_path, registry.host)
    old, _ = pusher.image(image.split("/", 1)[1], "1.2.0")
    new, _ = pusher.image(image.split("/", 1)[1], "1.3.0")
    promoted(repo, image, new)
    result = cli("rollback", "fraud-detector", "--site", "dev", "--push", "-o", "json", cwd=repo.work)
    assert result.code == 0, result.err
    assert f"note: {image}:1.2.0 resolved to {old} in the registry" in result.err
    assert json.loads(result.out)["changes"][0]["to"] == {"version": "1.2.0", "digest": old, "image": f"{image}:1.2.0@{old}"}
    assert rendered_images(repo, "overlays/dev") == [f"{image}:1.2.0@{old}"]
    assert repo.read("overlays/dev/kustomization.yaml") == overlay(image, "1.2.0", old)  # the pin as it was, with the digest added
    assert f"digest: {new}" in repo.read("gitops-mlops.yaml")  # the rolled-back digest is on hold
    assert repo.head() == repo.remote_head()
    head = repo.head()
    again = cli("rollback", "fraud-detector", "--site", "dev", "--push", cwd=repo.work)
    assert again.code == 0 and repo.head() == head == repo.remote_head(), again.err  # done once: run again it does nothing
    pusher.image(image.split("/", 1)[1], "1.2.0", salt="the tag moved")
    again = cli("rollback", "fraud-detector", "--site", "dev", "--to", "1.2.0", cwd=repo.work)
    assert again.code == 0 and repo.head() == head, again.err  # the site runs 1.2 already, pinned: a moved tag is no reason to move


def test_rollback_to_a_tag_the_registry_lacks_is_exit_6_and_changes_nothing(tmp_path, registry, pusher):
    repo, image = as_found(tmp_path, registry.host)
    new, _ = pusher.image(image.split("/", 1)[1], "1.3.0")  # 1.2 was never pushed (or was deleted)
    promoted(repo, image, new)
    before = unchanged(repo)
    result = cli("rollback", "fraud-detector", "--site", "dev", "--push", cwd=repo.work)
    assert result.code == 6 and "tag 1.2.0: not found" in result.err, result.err
    assert unchanged(repo) == before
    assert rendered_images(repo, "overlays/dev") == [f"{image}:1.3.0@{new}"]


def test_rollback_to_a_tag_with_the_registry_down_is_exit_6_and_offline_pins_the_tag_alone(tmp_path, monkeypatch):
    monkeypatch.delenv("GITOPS_MLOPS_NO_VERIFY", raising=False)
    repo, image = as_found(tmp_path, OFFLINE)
    original = repo.read("overlays/dev/kustomization.yaml")
    promoted(repo, image, D9)
    before = unchanged(repo)
    result = cli("rollback", "fraud-detector", "--site", "dev", "--push", cwd=repo.work)
    assert result.code == 6 and f"cannot reach {OFFLINE}" in result.err, result.err
    assert unchanged(repo) == before
    result = cli("rollback", "fraud-detector", "--site", "dev", "--push", "--no-verify", cwd=repo.work)
    assert result.code == 0, result.err
    assert f"note: {image}:1.2.0 has no digest: pinned by its tag alone, as it was (--no-verify); a tag can move" in result.err
    assert repo.read("overlays/dev/kustomization.yaml") == original  # byte for byte
    assert rendered_images(repo, "overlays/dev") == [f"{image}:1.2.0"]
    assert f"digest: {D9}" in repo.read("gitops-mlops.yaml") and repo.head() == repo.remote_head()
    head = repo.head()
    again = cli("rollback", "fraud-detector", "--site", "dev", "--no-verify", cwd=repo.work)
    assert again.code == 0 and repo.head() == head, again.err


# ---------------------------------------------------------------- the dry run exits as the real run would


def registry_up(tmp_path, registry, pusher):
    repo, image = as_found(tmp_path, registry.host)
    pusher.image(image.split("/", 1)[1], "1.2.0")
    new, _ = pusher.image(image.split("/", 1)[1], "1.3.0")
    promoted(repo, image, new)
    return repo, ()


def registry_down(tmp_path, registry, pusher):
    repo, image = as_found(tmp_path, OFFLINE)
    promoted(repo, image, D9)
    return repo, ()


def offline(tmp_path, registry, pusher):
    repo, image = as_found(tmp_path, OFFLINE)
    promoted(repo, image, D9)
    return repo, ("--no-verify",)


def render_fails(tmp_path, registry, pusher):
    """The state gone back to had a digest cut short by hand: restoring it would deploy a malformed reference."""
    repo, image = as_found(tmp_path, OFFLINE, tag="1.2.0", digest="sha256:0123abcd")
    promoted(repo, image, D9)
    return repo, ("--no-verify",)


@pytest.mark.parametrize(
    ("state", "code"),
    [(registry_up, 0), (registry_down, 6), (offline, 0), (render_fails, 4)],
    ids=["tag-registry-up", "registry-down", "no-verify", "render-fails"],
)
def test_a_dry_run_exits_as_the_real_run_and_changes_nothing(tmp_path, registry, pusher, monkeypatch, state, code):
    monkeypatch.delenv("GITOPS_MLOPS_NO_VERIFY", raising=False)
    repo, extra = state(tmp_path, registry, pusher)
    before = unchanged(repo)
    dry = cli("rollback", "fraud-detector", "--site", "dev", "--push", "--dry-run", *extra, cwd=repo.work)
    assert unchanged(repo) == before
    real = cli("rollback", "fraud-detector", "--site", "dev", "--push", *extra, cwd=repo.work)
    assert (dry.code, real.code) == (code, code), (dry.err, real.err)
    if code:
        assert unchanged(repo) == before and dry.err.splitlines()[-1] == real.err.splitlines()[-1]
    else:
        assert "overlays/dev/kustomization.yaml" in dry.out and "gitops-mlops.yaml" in dry.out  # the diff: the pin and the hold
        assert repo.head() == repo.remote_head() != before[1]
