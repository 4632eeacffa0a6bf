"""`gitops-mlops check` (fleet/preflight.py): one line per problem that would stop a promotion, exit 2 when there is any."""

from __future__ import annotations

import json

from testing.cli import cli
from testing.repos import tree_snapshot


def test_a_healthy_repository_has_no_problems(gitops_repo):
    result = cli("check", cwd=gitops_repo.work)
    assert result.code == 0 and result.out == "" and "no problems found" in result.err


def test_each_problem_is_one_line_and_nothing_is_written(gitops_repo, tmp_path):
    config = gitops_repo.work / "gitops-mlops.yaml"
    config.write_text(
        config.read_text().replace("  - name: edge\n", "  - name: edge\n  - name: lab\n")
        + "registries:\n  - host: registry.example.com\n    usernameEnv: REG_USER\n    passwordEnv: REG_PASS\n    caFile: certs/none.pem\n"
    )
    gitops_repo.git("remote", "remove", "origin")
    snap = tree_snapshot(gitops_repo.work)
    env = {"GITOPS_MLOPS_KUSTOMIZE": "no-such-kustomize build", "GIT_CONFIG_GLOBAL": str(tmp_path / "none"), "EMAIL": ""}
    (tmp_path / "none").write_text("")
    result = cli("check", "-o", "json", cwd=gitops_repo.work, env=env)
    assert result.code == 2 and "problems found" in result.err
    found = json.loads(result.out)
    checks = [p["check"] for p in found]
    assert checks == ["stages", "registries", "registries", "registries", "git", "git", "kustomize"], found
    text = " | ".join(p["problem"] for p in found)
    for needle in ("stage 'lab' has no sites", "REG_USER", "REG_PASS", "certs/none.pem", "no git identity", "no remote 'origin'", "no-such-kustomize"):
        assert needle in text
    table = cli("check", cwd=gitops_repo.work, env=env)
    assert table.code == 2 and len(table.out.strip().splitlines()) == len(found)
    assert tree_snapshot(gitops_repo.work) == snap


def test_a_broken_config_is_reported_not_raised(gitops_repo):
    (gitops_repo.work / "gitops-mlops.yaml").write_text("models: [\n")
    result = cli("check", cwd=gitops_repo.work)
    assert result.code == 2 and result.out.startswith("config: gitops-mlops.yaml")


def with_model_registry(repo, url: str, extra: str = "") -> None:
    config = repo.work / "gitops-mlops.yaml"
    config.write_text(config.read_text() + f"modelRegistry:\n  url: {url}\n  tokenEnv: MR_TOKEN\n{extra}")


def test_the_model_registry_answering_with_the_token_is_no_problem(gitops_repo, model_registry):
    """Contract test: the stand-in checks check's one request against the registry's published description."""
    with_model_registry(gitops_repo, model_registry.url)
    result = cli("check", cwd=gitops_repo.work, env={"MR_TOKEN": model_registry.token})
    assert result.code == 0, result.out + result.err
    assert [s.method for s in model_registry.seen] == ["GET"] and model_registry.token not in result.out + result.err


def test_model_registry_problems_are_one_line_each_and_nothing_is_written(gitops_repo, model_registry):
    with_model_registry(gitops_repo, model_registry.url)
    snap = tree_snapshot(gitops_repo.work)
    missing = cli("check", "-o", "json", cwd=gitops_repo.work, env={"MR_TOKEN": ""})
    assert missing.code == 2 and [p["check"] for p in json.loads(missing.out)] == ["model-registry"]
    assert "no token in MR_TOKEN (modelRegistry.tokenEnv)" in json.loads(missing.out)[0]["problem"]
    refused = cli("check", "-o", "json", cwd=gitops_repo.work, env={"MR_TOKEN": "wrong-token"})
    (problem,) = json.loads(refused.out)
    assert refused.code == 2 and "401 the token was refused (check MR_TOKEN)" in problem["problem"] and "wrong-token" not in refused.out
    assert tree_snapshot(gitops_repo.work) == snap


def test_a_model_registry_that_does_not_answer_is_a_problem_found_at_once(gitops_repo, model_registry):
    model_registry.close()  # nothing listens there any more
    with_model_registry(gitops_repo, model_registry.url)
    result = cli("check", "-o", "json", cwd=gitops_repo.work, env={"MR_TOKEN": "t"})
    (problem,) = json.loads(result.out)
    assert result.code == 2 and problem["check"] == "model-registry" and "unreachable" in problem["problem"]
    assert problem["problem"].startswith("model registry GET http://127.0.0.1:")
