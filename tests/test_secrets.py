"""Secrets never leak: a token in the remote URL and a registry password stay out of every output.

Every command runs, and fails every way the suite can make it fail, with the
remote's URL carrying a token (as user:token and as a bare token user) and a
registry password configured in the environment and in an auth file. Neither
may appear in stdout, stderr, exception text, commit messages, or any file the
tool writes, in the clone or the remote.
"""

from __future__ import annotations

import base64
import json
import traceback
from pathlib import Path

import pytest

from gitops_mlops.change.intents import PromoteRequest as Request
from gitops_mlops.change.intents import Publish
from gitops_mlops.core.errors import GitOpsError
from gitops_mlops.promote.promotion import promote
from testing.cli import cli_subprocess as cli  # a leak through any child process's stderr must show too
from testing.paths import DIGEST_B, DIGEST_C
from testing.repos import git, make_gitops_repo

TOKEN = "ghp_Sup3rS3cretT0kenValue0123456789abcd"
REGISTRY_PASSWORD = "quay-R0b0t-Passw0rd-9f8e7d6c5b4a"
SECRETS = (TOKEN, REGISTRY_PASSWORD, base64.b64encode(f"robot:{REGISTRY_PASSWORD}".encode()).decode())
REPO = "quay.io/example/fraud-detector"
IMAGE = f"{REPO}:1.4.0@{DIGEST_B}"


def registry_env(base: Path) -> dict[str, str]:
    """A registry password configured the ways a registry client reads one."""
    auth = base / "registry-auth.json"
    auth.write_text(json.dumps({"auths": {"quay.io": {"auth": SECRETS[2]}}}))
    return {
        "GITOPS_MLOPS_REGISTRY_USERNAME": "robot",
        "GITOPS_MLOPS_REGISTRY_PASSWORD": REGISTRY_PASSWORD,
        "REGISTRY_AUTH_FILE": str(auth),
        "DOCKER_CONFIG": str(base),
    }


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


@pytest.mark.slow
def test_no_command_leaks_a_secret_in_any_failure(tmp_path, http_refusing, monkeypatch):
    repo = _repo_with_token_remotes(tmp_path, http_refusing.removeprefix("http://"))
    env = registry_env(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    overlay = repo.work / "overlays/datacenter/kustomization.yaml"

    failures, codes = [], {}
    for name, args, *action in _commands(tmp_path):
        if action == ["break"]:
            overlay.write_text(overlay.read_text() + "configMapGenerator:\n  - name: s\n    files:\n      - missing\n")
        if action == ["lock"]:
            (repo.work / ".git" / "index.lock").write_text("")
        result = cli(*args, cwd=repo.work)
        codes[name] = result.code
        failures += [f"{name}: {secret[:6]}... in output" for secret in leaks(result.out + result.err)]
    assert not failures, failures
    assert codes["promote: auth refused"] == codes["promote: hook refuses"] == codes["promote: unreachable"] == 5
    assert sorted(set(codes.values())) == [0, 2, 3, 4, 5]  # success and every failure class the suite can cause here

    # exception text, as a library caller sees it
    (repo.work / ".git" / "index.lock").unlink()
    git(repo.work, "checkout", "--quiet", "--", ".")
    with pytest.raises(GitOpsError) as caught:
        promote(repo.work, Request(model="fraud-detector", image=f"{REPO}:1.6.0@{DIGEST_C}", selectors=("datacenter",)), Publish(push=True))
    assert not leaks("".join(traceback.format_exception(caught.value)) + repr(caught.value))

    # commit messages and contents, in the clone and the remote; every file the tool wrote
    for where in (repo.work, repo.remote):
        assert not leaks(git(where, "log", "--all", "-p", "--format=%H%n%B"))
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "/objects/" not in p.as_posix()]
    own = {repo.work / ".git" / "config", tmp_path / "registry-auth.json"}  # the secrets as we configured them
    assert not [str(p) for p in written if p not in own and leaks(p.read_bytes().decode("utf-8", "replace"))]


def _repo_with_token_remotes(tmp_path: Path, host: str):
    """A clone whose remotes carry the token: as user:token and as a bare token user (both refused by
    ``host``), an unreachable one, and 'mirror', a token URL git rewrites to the real bare remote,
    whose hook refuses pushes."""
    repo = make_gitops_repo(tmp_path)
    repo.git("remote", "set-url", "origin", f"http://pipeline:{TOKEN}@{host}/gitops.git")
    repo.git("remote", "add", "bare-token", f"http://{TOKEN}@{host}/gitops.git")
    repo.git("remote", "add", "dead", f"https://x-access-token:{TOKEN}@127.0.0.1:9/gitops.git")
    mirror_url = f"https://pipeline:{TOKEN}@git.example.invalid/gitops.git"
    repo.git("config", f"url.{repo.remote}.insteadOf", mirror_url)
    repo.git("remote", "add", "mirror", mirror_url)
    hook = repo.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'refused: promotions need review' >&2\nexit 1\n")
    hook.chmod(0o755)
    return repo


def _commands(tmp_path: Path) -> list[tuple]:
    """Every command, in order, each way the suite makes it fail: (name, arguments[, what to break first])."""
    promote_args = ("promote", "fraud-detector", IMAGE, "--to", "datacenter")
    return [
        ("sites", ("sites",)),
        ("models", ("models", "-o", "json")),
        ("status", ("status",)),
        ("validate", ("validate",)),
        ("promote: auth refused", (*promote_args, "--push")),
        ("promote: bare token auth refused", (*promote_args, "--push", "--remote", "bare-token")),
        ("promote: unreachable", (*promote_args, "--push", "--remote", "dead")),
        ("promote: hook refuses", (*promote_args, "--push", "--remote", "mirror")),
        ("promote: review branch", (*promote_args, "--push", "--branch", "review/x")),
        ("promote: json", (*promote_args, "--push", "-o", "json")),
        ("promote: bad image", ("promote", "fraud-detector", f"{REPO}:1.4.0@sha256:bad", "--to", "datacenter", "--push")),
        ("promote: policy", ("promote", "fraud-detector", IMAGE, "--to", "edge")),
        ("promote: local", promote_args),
        ("promote: dry run", ("promote", "fraud-detector", f"{REPO}:1.5.0@{DIGEST_C}", "--to", "datacenter", "--dry-run")),
        ("history", ("history", "fraud-detector")),
        ("rollback", ("rollback", "fraud-detector", "--site", "datacenter", "--push")),
        ("rollback: local", ("rollback", "fraud-detector", "--site", "datacenter")),
        ("rollback: review branch", ("rollback", "fraud-detector", "--site", "datacenter", "--push", "--branch", "review/y")),
        ("release-hold", ("release-hold", "fraud-detector", "--site", "datacenter", "--push")),
        ("diff: default base", ("diff",)),
        ("diff: markdown", ("diff", "--base", "HEAD~1", "--markdown")),
        ("init: token in repo URL", ("init", str(tmp_path / "new"), "--repo-url", f"https://pipeline:{TOKEN}@github.com/example/x.git")),
        ("validate: broken overlay", ("validate",), "break"),
        ("promote: dirty tree", (*promote_args, "--push")),
        ("promote: stale index.lock", (*promote_args, "--push"), "lock"),
    ]


def test_registry_failures_leak_no_password(tmp_path, basic_registry, monkeypatch):
    """Against a real registry behind basic auth: wrong password (401), the right one with an
    unknown tag or digest (404), update with wrong credentials: exit 6, and no password anywhere."""
    from testing.registry_server import PASSWORD, USER
    from testing.repos import point_models_at, registry_namespace

    repo = make_gitops_repo(tmp_path)
    ns = registry_namespace()
    point_models_at(repo, basic_registry.host, ns)
    pusher = basic_registry.pusher()
    try:
        pusher.image(f"{ns}/fraud-detector", "1.4.0")
    finally:
        pusher.close()
    image = f"{basic_registry.host}/{ns}/fraud-detector"
    secrets = (*SECRETS, PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
    runs = [
        (
            "wrong password, tag",
            {"GITOPS_MLOPS_REGISTRY_USERNAME": USER, "GITOPS_MLOPS_REGISTRY_PASSWORD": REGISTRY_PASSWORD},
            ("promote", "fraud-detector", f"{image}:1.4.0", "--to", "datacenter"),
        ),
        (
            "wrong password, digest",
            {"GITOPS_MLOPS_REGISTRY_USERNAME": USER, "GITOPS_MLOPS_REGISTRY_PASSWORD": REGISTRY_PASSWORD},
            ("promote", "fraud-detector", f"{image}:1.4.0@{DIGEST_B}", "--to", "datacenter", "-o", "json"),
        ),
        (
            "right password, unknown tag",
            {"GITOPS_MLOPS_REGISTRY_USERNAME": USER, "GITOPS_MLOPS_REGISTRY_PASSWORD": PASSWORD},
            ("promote", "fraud-detector", f"{image}:9.9.9", "--to", "datacenter"),
        ),
        (
            "right password, unknown digest",
            {"GITOPS_MLOPS_REGISTRY_USERNAME": USER, "GITOPS_MLOPS_REGISTRY_PASSWORD": PASSWORD},
            ("promote", "fraud-detector", f"{image}:1.4.0@{DIGEST_C}", "--to", "datacenter"),
        ),
        (
            "update, wrong password",
            {"GITOPS_MLOPS_REGISTRY_USERNAME": USER, "GITOPS_MLOPS_REGISTRY_PASSWORD": REGISTRY_PASSWORD},
            ("update", "--dry-run", "-o", "json"),
        ),
    ]
    for name, env, args in runs:
        result = cli(*args, cwd=repo.work, env=env)
        assert result.code == 6, (name, result.err)
        assert len(result.err.strip().splitlines()) == 1, (name, result.err)
        assert not [s for s in secrets if s in result.out + result.err], name
    for key, value in runs[0][1].items():
        monkeypatch.setenv(key, value)
    with pytest.raises(GitOpsError) as caught:
        promote(repo.work, Request(model="fraud-detector", image=f"{image}:1.4.0", selectors=("datacenter",)))
    text = "".join(traceback.format_exception(caught.value)) + repr(caught.value)
    assert caught.value.exit_code == 6 and not [s for s in secrets if s in text]
    assert not [s for s in secrets if s in git(repo.work, "log", "--all", "-p", "--format=%H%n%B")]
