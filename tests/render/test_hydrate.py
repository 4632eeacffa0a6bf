"""Hydrated manifests: written with the promotion, pushed atomically with it, rebuilt when they do
not match their source commit, and a warm render cache for a fresh clone."""

from __future__ import annotations

import hashlib
import json

import pytest

from gitops_mlops.config.load import load_config
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.render import hydrate
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.kustomize import Kustomize
from testing.cli import cli
from testing.hostile_git import promoted_then_forged
from testing.paths import DIGEST_B, DIGEST_C
from testing.repos import GitOpsRepo, git, make_gitops_repo

REPO = "quay.io/example/fraud-detector"
HYDRATE = "hydrate:\n  branch: hydrated\n  path: sites\n"


def hydrated_repo(tmp_path) -> GitOpsRepo:
    repo = make_gitops_repo(tmp_path)
    (repo.work / "gitops-mlops.yaml").write_text(repo.read("gitops-mlops.yaml") + HYDRATE)
    repo.git("commit", "-qam", "hydrate the sites")
    repo.git("push", "-q", "origin", "main")
    return repo


def remote_file(repo: GitOpsRepo, ref: str, path: str) -> str:
    return git(repo.remote, "show", f"{ref}:{path}")


def source_commit(repo: GitOpsRepo, ref: str = "hydrated") -> str:
    return git(repo.remote, "log", "-1", "--format=%(trailers:key=Source-Commit,valueonly)", ref).strip()


def test_a_promotion_pushes_its_rendered_manifests_with_it(tmp_path):
    repo = hydrated_repo(tmp_path)
    result = cli("promote", "fraud-detector", f"{REPO}:1.4.0@{DIGEST_B}", "--to", "datacenter", "--push", cwd=repo.work)
    assert result.code == 0, result.err
    main = repo.remote_head()
    assert source_commit(repo) == main  # the first hydration renders every site
    for site in ("datacenter", "cloud", "edge/berlin-01"):
        assert remote_file(repo, "hydrated", f"sites/{site}/manifests.yaml") == Kustomize.find().build(repo.work / "overlays" / site)
    assert f"{REPO}:1.4.0@{DIGEST_B}" in remote_file(repo, "hydrated", "sites/datacenter/manifests.yaml")
    before = git(repo.remote, "rev-parse", "hydrated").strip()
    result = cli("promote", "fraud-detector", f"{REPO}:1.4.0@{DIGEST_B}", "--to", "cloud", "--push", cwd=repo.work)
    assert result.code == 0, result.err
    assert source_commit(repo) == repo.remote_head() and git(repo.remote, "rev-parse", "hydrated^").strip() == before
    changed = git(repo.remote, "diff", "--name-only", "hydrated^", "hydrated").split()
    assert changed == [".gitops-mlops/sites.jsonl", "sites/cloud/manifests.yaml"]  # only the site that changed


def test_both_branches_move_together_or_not_at_all(tmp_path):
    repo = hydrated_repo(tmp_path)
    hook = repo.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nwhile read old new ref; do [ \"$ref\" = refs/heads/hydrated ] && { echo 'hydrated is frozen' >&2; exit 1; }; done\nexit 0\n")
    hook.chmod(0o755)
    main = repo.remote_head()
    result = cli("promote", "fraud-detector", f"{REPO}:1.4.0@{DIGEST_B}", "--to", "datacenter", "--push", cwd=repo.work)
    assert result.code == 5 and "refused by the remote" in result.err, result.err
    assert repo.remote_head() == main and git(repo.remote, "branch", "--list", "hydrated").strip() == ""


def test_a_hydrated_branch_that_does_not_match_its_source_is_rebuilt(tmp_path):
    repo = hydrated_repo(tmp_path)
    assert cli("promote", "fraud-detector", f"{REPO}:1.4.0@{DIGEST_B}", "--to", "datacenter", "--push", cwd=repo.work).code == 0
    # a change by hand to a base, not hydrated: every site's render changes behind the branch's back
    path = repo.work / "base/fraud-detector/inferenceservice.yaml"
    path.write_text(path.read_text().replace("  annotations:\n", "  annotations:\n    tier: serving\n", 1))
    repo.git("commit", "-qam", "label by hand")
    repo.git("push", "-q", "origin", "main")
    check = cli("hydrate", "--check", "-o", "json", cwd=repo.work)
    assert check.code == 4 and json.loads(check.out)["matches"] is False
    result = cli("promote", "fraud-detector", f"{REPO}:1.4.0@{DIGEST_B}", "--to", "cloud", "--push", cwd=repo.work)
    assert result.code == 0, result.err
    assert "(rebuilt)" in git(repo.remote, "log", "-1", "--format=%s", "hydrated")
    assert "tier: serving" in remote_file(repo, "hydrated", "sites/edge/berlin-01/manifests.yaml")  # not only the promoted site
    assert cli("hydrate", "--check", cwd=repo.work).code == 0


@pytest.mark.own_render_cache  # a fresh clone's cache is its own: what it finds came from the hydrated branch
def test_a_fresh_clone_starts_with_a_warm_cache_from_the_hydrated_branch(tmp_path):
    repo = hydrated_repo(tmp_path)
    log, script = tmp_path / "runs.log", tmp_path / "counted-kustomize"
    log.write_text("")
    script.write_text(f'#!/bin/sh\necho run >> {log}\nexec {" ".join(Kustomize.find().command)} "$@"\n')
    script.chmod(0o755)
    env = {"GITOPS_MLOPS_KUSTOMIZE": str(script)}
    assert cli("promote", "fraud-detector", f"{REPO}:1.4.0@{DIGEST_B}", "--to", "datacenter", "--push", cwd=repo.work, env=env).code == 0
    fresh = repo.clone("fresh")
    runs = log.read_text().count("run")
    result = cli("promote", "fraud-detector", f"{REPO}:1.4.0@{DIGEST_B}", "--to", "cloud", "--push", cwd=fresh.work, env=env)
    assert result.code == 0, result.err
    assert log.read_text().count("run") == runs  # every render came from the hydrated branch
    result = cli("promote", "fraud-detector", f"{REPO}:1.5.0@{DIGEST_C}", "--to", "datacenter", "--push", cwd=fresh.work, env=env)
    assert result.code == 0 and log.read_text().count("run") == runs, result.err  # a pin change: the pin-invariant renders


def test_hydrate_config_is_checked(tmp_path):
    repo = make_gitops_repo(tmp_path)
    for bad, needle in (
        ("hydrate:\n  branch: main\n", "must not be the branch"),
        ("hydrate:\n  branch: a..b\n", "not a valid branch name"),
        ("hydrate:\n  path: x\n", "needs 'branch'"),
    ):
        (repo.work / "gitops-mlops.yaml").write_text(repo.read("gitops-mlops.yaml").split("hydrate:")[0] + bad)
        result = cli("promote", "fraud-detector", f"{REPO}:1.4.0@{DIGEST_B}", "--to", "datacenter", cwd=repo.work)
        assert result.code == 2 and needle in result.err, result.err


@pytest.mark.own_render_cache  # a fresh clone's cache is its own: what it finds came from the hydrated branch
def test_a_forged_hydrated_branch_seeds_nothing_and_the_gate_decides_as_with_the_cache_off(tmp_path):
    repo = make_gitops_repo(tmp_path)
    promoted_then_forged(f"1.4.0@{DIGEST_B}", f"1.5.0@{DIGEST_C}")(repo)  # as the catalogue's case; its own cache is not used here
    fresh = repo.clone("fresh")
    config, git_repo = load_config(fresh.work), GitRepo(fresh.work)
    assert not hydrate.vouched(git_repo, hydrate.tip(git_repo, config, fetch=False))
    with RenderCache(fresh.work) as cache:
        assert hydrate.seed(git_repo, config, cache) == 0
    later = f"{REPO}:1.5.0@{DIGEST_C}"
    decisions = [
        cli("promote", "fraud-detector", later, "--to", "cloud", "--push", cwd=fresh.work, env=env) for env in ({}, {"GITOPS_MLOPS_RENDER_CACHE": "off"})
    ]
    assert [(d.code, d.err) for d in decisions] == [(3, decisions[1].err)] * 2 and "stage order" in decisions[1].err
    # the tool's next hydration does not build on the forged tip: it is rebuilt from the source
    assert cli("promote", "fraud-detector", f"{REPO}:1.4.0@{DIGEST_B}", "--to", "cloud", "--push", cwd=fresh.work).code == 0
    assert "(rebuilt)" in git(repo.remote, "log", "-1", "--format=%s", "hydrated")
    assert DIGEST_C not in remote_file(repo, "hydrated", "sites/datacenter/manifests.yaml")
    git_repo.run("fetch", "--quiet", "origin", "+refs/heads/hydrated:refs/remotes/origin/hydrated")
    assert hydrate.vouched(git_repo, git_repo.resolve("refs/remotes/origin/hydrated"))


def test_a_genuine_hydrated_branch_is_vouched_for_by_its_source_commit(tmp_path):
    repo = hydrated_repo(tmp_path)
    assert cli("promote", "fraud-detector", f"{REPO}:1.4.0@{DIGEST_B}", "--to", "datacenter", "--push", cwd=repo.work).code == 0
    index = remote_file(repo, "hydrated", ".gitops-mlops/sites.jsonl")
    anchor = git(repo.remote, "log", "-1", "--format=%(trailers:key=Hydrated-Index,valueonly)", "main").strip()
    assert anchor == hashlib.sha256(index.encode()).hexdigest()
    assert hydrate.vouched(GitRepo(repo.work), repo.git("rev-parse", "hydrated").strip())
