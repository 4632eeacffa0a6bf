"""Pull requests on forges (--open-pr). No forge runs here: these are contract tests. GitHub's side
is Prism serving GitHub's published OpenAPI description (every request checked against it); GitLab's
and Gitea's are loopback servers written to their documented endpoints (see forge_servers.py). The
git side is real: a bare remote and a clone, real pushes, the real kustomize."""

from __future__ import annotations

import json
import os

import pytest

from gitops_mlops.config.services import ForgeSpec
from gitops_mlops.core.errors import InputError
from gitops_mlops.forge.clients import resolve, split_remote, token
from testing.cli import cli
from testing.forge_servers import GiteaServer, GitHubContract, GitLabServer, github_tools
from testing.paths import DIGEST_A, DIGEST_B
from testing.repos import git

TOKEN = "s3cret-forge-token-0042"
IMAGE = f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}"
BRANCH = "promote/fraud-detector-1.4.0"


def use_forge(repo, kind: str, url: str, repository: str, labels: str = "") -> None:
    path = repo.work / "gitops-mlops.yaml"
    extra = f"  labels: [{labels}]\n" if labels else ""
    path.write_text(path.read_text() + f"forge:\n  type: {kind}\n  url: {url}\n  repository: {repository}\n  tokenEnv: FORGE_TOKEN\n{extra}")
    repo.git("commit", "-qam", "forge")
    repo.git("push", "--quiet", "origin", "main")


def promote_pr(repo, *extra: str, token: str = TOKEN):
    args = ("promote", "fraud-detector", IMAGE, "--to", "datacenter", "--branch", BRANCH, "--open-pr", "--no-verify", "-o", "json", *extra)
    return cli(*args, cwd=repo.work, env={"FORGE_TOKEN": token})


def remote_branches(repo) -> list[str]:
    return git(repo.remote, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()


def assert_nothing_left(repo, head: str, result) -> None:
    assert remote_branches(repo) == ["main"]
    assert repo.head() == head and repo.git("branch", "--show-current").strip() == "main"
    assert BRANCH not in repo.git("branch", "--list")
    assert TOKEN not in result.out + result.err


# ------------------------------------------------------------------ which forge


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/acme/gitops.git", ("https", "github.com", "acme/gitops")),
        ("git@github.com:acme/gitops.git", ("https", "github.com", "acme/gitops")),
        ("https://ci:tok@gitlab.example.com/ml/platform/gitops.git", ("https", "gitlab.example.com", "ml/platform/gitops")),
        ("ssh://git@gitea.example.com:2222/ml/gitops.git", ("https", "gitea.example.com", "ml/gitops")),
        ("http://127.0.0.1:3000/ml/gitops", ("http", "127.0.0.1:3000", "ml/gitops")),
    ],
)
def test_remote_urls_split_into_host_and_repository(url, expected):
    assert split_remote(url) == expected


def test_the_forge_and_its_api_default_from_the_remote():
    github = resolve(None, "git@github.com:acme/gitops.git")
    assert (github.type, github.api, github.repository) == ("github", "https://api.github.com", "acme/gitops")
    gitlab = resolve(None, "https://gitlab.example.com/ml/platform/gitops.git")
    assert (gitlab.type, gitlab.api, gitlab.repository) == ("gitlab", "https://gitlab.example.com/api/v4", "ml/platform/gitops")
    enterprise = resolve(ForgeSpec(type="github"), "https://git.corp.example/acme/gitops.git")
    assert enterprise.api == "https://git.corp.example/api/v3"
    gitea = resolve(ForgeSpec(type="gitea"), "https://code.example.org/ml/gitops.git")
    assert (gitea.api, gitea.repository) == ("https://code.example.org/api/v1", "ml/gitops")
    told = resolve(ForgeSpec(type="gitea", url="http://127.0.0.1:3000/api/v1/", repository="o/r"), "/srv/git/gitops.git")
    assert (told.api, told.repository) == ("http://127.0.0.1:3000/api/v1", "o/r")


def test_an_unknown_host_needs_forge_type():
    with pytest.raises(InputError, match="set forge.type"):
        resolve(None, "https://code.example.org/ml/gitops.git")
    with pytest.raises(InputError, match="not owner/name"):
        resolve(ForgeSpec(type="github"), "https://github.com/just-one")


def test_the_token_comes_from_the_named_variable_or_the_usual_ones(monkeypatch):
    for name in ("GITOPS_MLOPS_FORGE_TOKEN", "GITHUB_TOKEN", "MINE"):
        monkeypatch.delenv(name, raising=False)
    target = resolve(None, "https://github.com/acme/gitops.git")
    with pytest.raises(InputError, match="GITOPS_MLOPS_FORGE_TOKEN or GITHUB_TOKEN"):
        token(target)
    monkeypatch.setenv("GITHUB_TOKEN", "a")
    assert token(target) == "a"
    monkeypatch.setenv("GITOPS_MLOPS_FORGE_TOKEN", "b")
    assert token(target) == "b"
    named = resolve(ForgeSpec(token_env="MINE"), "https://github.com/acme/gitops.git")
    with pytest.raises(InputError, match="MINE"):
        token(named)


@pytest.mark.parametrize(
    ("lines", "words"),
    [
        ("  type: bitbucket", "forge.type 'bitbucket' is not one of"),
        ("  url: gitlab.example.com/api/v4", "forge.url 'gitlab.example.com/api/v4' is not an http(s):// URL"),
        ("  repository: just-a-name", "forge.repository 'just-a-name' is not owner/name"),
        ("  tokenEnv: X\n  secret: y", "secret"),
    ],
)
def test_forge_config_is_checked_with_the_line_named(gitops_repo, lines, words):
    path = gitops_repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text() + f"forge:\n{lines}\n")
    result = cli("models", cwd=gitops_repo.work)
    assert result.code == 2 and words in result.err and "gitops-mlops.yaml:" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_open_pr_needs_a_branch_and_labels_need_open_pr(gitops_repo):
    head = gitops_repo.head()
    result = cli("promote", "fraud-detector", IMAGE, "--to", "datacenter", "--open-pr", "--no-verify", cwd=gitops_repo.work)
    assert result.code == 2 and "--open-pr needs --branch" in result.err
    result = cli("promote", "fraud-detector", IMAGE, "--to", "datacenter", "--label", "x", "--no-verify", cwd=gitops_repo.work)
    assert result.code == 2 and "--label needs --open-pr" in result.err
    assert gitops_repo.head() == head


def test_no_token_is_bad_input_and_nothing_is_written(gitops_repo):
    gitlab = GitLabServer("ml/gitops", TOKEN)
    try:
        use_forge(gitops_repo, "gitlab", gitlab.url, "ml/gitops")
        head = gitops_repo.head()
        result = promote_pr(gitops_repo, token="")
        assert result.code == 2 and "no token for gitlab in FORGE_TOKEN" in result.err
        assert_nothing_left(gitops_repo, head, result)
        assert gitlab.recorder.seen == []
    finally:
        gitlab.close()


# ------------------------------------------------------------------ GitLab (loopback, documented endpoints)


@pytest.fixture
def gitlab(gitops_repo):
    server = GitLabServer("ml/platform/gitops", TOKEN)
    use_forge(gitops_repo, "gitlab", server.url, "ml/platform/gitops", labels="gitops, model-rollout")
    yield server
    server.close()


def test_gitlab_merge_request_is_opened_then_updated(gitops_repo, gitlab):
    first = promote_pr(gitops_repo, "--label", "fraud")
    assert first.code == 0, first.err
    data = json.loads(first.out)
    assert data["pullRequestUrl"] == "http://gitlab.test/ml/platform/gitops/-/merge_requests/1" and data["pushed"]
    assert git(gitops_repo.remote, "rev-parse", BRANCH).strip() == data["commit"]
    (mr,) = gitlab.merge_requests
    assert (mr["source_branch"], mr["target_branch"], mr["labels"]) == (BRANCH, "main", ["gitops", "model-rollout", "fraud"])
    assert mr["title"] == "Promote fraud-detector 1.4.0 to datacenter" and "| datacenter |" in mr["description"]
    assert "pull request: http://gitlab.test/" in first.err and TOKEN not in first.out + first.err
    calls = [(s.method, s.path.split("?")[0]) for s in gitlab.recorder.seen]
    assert calls == [
        ("GET", "/api/v4/projects/ml%2Fplatform%2Fgitops"),
        ("GET", "/api/v4/projects/ml%2Fplatform%2Fgitops/merge_requests"),
        ("POST", "/api/v4/projects/ml%2Fplatform%2Fgitops/merge_requests"),
    ]
    gitops_repo.git("checkout", "--quiet", "main")
    again = promote_pr(gitops_repo)  # the same change: the branch is reused, the open merge request updated
    assert again.code == 0, again.err
    assert json.loads(again.out)["commit"] == data["commit"] and len(gitlab.merge_requests) == 1
    assert gitlab.recorder.seen[-1].method == "PUT" and gitlab.recorder.seen[-1].path.endswith("/merge_requests/1")


def test_a_dry_run_asks_the_forge_as_the_real_run_would_and_opens_nothing(gitops_repo, gitlab):
    head = gitops_repo.head()
    refused = promote_pr(gitops_repo, "--dry-run", token="wrong-token")
    assert refused.code == 5 and "token was refused" in refused.err
    fine = promote_pr(gitops_repo, "--dry-run")
    assert fine.code == 0, fine.err
    assert [(s.method, s.path) for s in gitlab.recorder.seen] == [("GET", "/api/v4/projects/ml%2Fplatform%2Fgitops")] * 2
    assert gitlab.merge_requests == [] and remote_branches(gitops_repo) == ["main"] and gitops_repo.head() == head


def test_gitlab_refusing_the_token_is_exit_5_and_nothing_pushed(gitops_repo, gitlab):
    head = gitops_repo.head()
    result = promote_pr(gitops_repo, token="wrong-token")
    assert result.code == 5, result.err
    assert "401" in result.err and "token was refused" in result.err and len(result.err.strip().splitlines()) == 1
    assert_nothing_left(gitops_repo, head, result)
    assert "wrong-token" not in result.err


def test_gitlab_unknown_project_is_exit_5_naming_it(gitops_repo, gitlab):
    gitlab.project = "ml/other"
    head = gitops_repo.head()
    result = promote_pr(gitops_repo)
    assert result.code == 5 and "404" in result.err and "ml/platform/gitops" in result.err
    assert_nothing_left(gitops_repo, head, result)


def test_a_refused_merge_request_takes_the_pushed_branch_back(gitops_repo, gitlab):
    gitlab.recorder.fail[("POST", "/api/v4/projects/ml%2Fplatform%2Fgitops/merge_requests")] = 422
    head = gitops_repo.head()
    result = promote_pr(gitops_repo)
    assert result.code == 5 and "422" in result.err and "forced by the test" in result.err
    assert_nothing_left(gitops_repo, head, result)


# ------------------------------------------------------------------ Gitea / Forgejo (loopback, documented endpoints)


@pytest.fixture
def gitea(gitops_repo):
    server = GiteaServer("ml/gitops", TOKEN, labels=("gitops", "rollback"))
    use_forge(gitops_repo, "forgejo", server.url, "ml/gitops", labels="gitops")
    yield server
    server.close()


def test_gitea_pull_request_with_label_ids_then_updated(gitops_repo, gitea):
    result = promote_pr(gitops_repo)
    assert result.code == 0, result.err
    assert json.loads(result.out)["pullRequestUrl"] == "http://gitea.test/ml/gitops/pulls/1"
    (pull,) = gitea.pulls
    assert (pull["head"]["ref"], pull["base"]["ref"], [label["name"] for label in pull["labels"]]) == (BRANCH, "main", ["gitops"])
    assert all(s.headers["authorization"] == f"token {TOKEN}" for s in gitea.recorder.seen)
    gitops_repo.git("checkout", "--quiet", "main")
    again = promote_pr(gitops_repo, "--label", "rollback")
    assert again.code == 0, again.err
    assert len(gitea.pulls) == 1 and [label["name"] for label in gitea.pulls[0]["labels"]] == ["gitops", "rollback"]


def test_gitea_label_that_does_not_exist_is_bad_input_before_anything(gitops_repo, gitea):
    head = gitops_repo.head()
    result = promote_pr(gitops_repo, "--label", "no-such-label")
    assert result.code == 2 and "no label 'no-such-label'" in result.err
    assert_nothing_left(gitops_repo, head, result)


def test_rollback_opens_a_pull_request(gitops_repo, gitea):
    earlier = f"quay.io/example/fraud-detector:1.3.0@{DIGEST_A}"  # a release to roll back to (never the placeholder init wrote)
    assert cli("promote", "fraud-detector", earlier, "--to", "datacenter", "--no-verify", "--push", cwd=gitops_repo.work).code == 0
    assert cli("promote", "fraud-detector", IMAGE, "--to", "datacenter", "--no-verify", "--push", cwd=gitops_repo.work).code == 0
    branch = "rollback/fraud-detector-datacenter"
    env = {"FORGE_TOKEN": TOKEN}
    result = cli(
        "rollback", "fraud-detector", "--site", "datacenter", "--branch", branch, "--open-pr", "--no-verify", "-o", "json", cwd=gitops_repo.work, env=env
    )
    assert result.code == 0, result.err
    assert json.loads(result.out)["pullRequestUrl"] == "http://gitea.test/ml/gitops/pulls/1"
    assert gitea.pulls[0]["title"].startswith("Roll back fraud-detector 1.3.0") and git(gitops_repo.remote, "rev-parse", branch).strip()
    assert "Rolls back **fraud-detector**" in gitea.pulls[0]["body"]
    dry = cli(
        "rollback", "fraud-detector", "--site", "datacenter", "--branch", "other", "--open-pr", "--dry-run", cwd=gitops_repo.work, env={"FORGE_TOKEN": "x"}
    )
    assert dry.code == 5 and "token was refused" in dry.err  # a dry run asks the forge as the real run would


# ------------------------------------------------------------------ GitHub (Prism over GitHub's published OpenAPI description)


@pytest.fixture(scope="module")
def github_server(tmp_path_factory):
    if github_tools() is None:
        reason = "Prism and GitHub's OpenAPI description are not installed in .tools/github-contract (scripts/bootstrap.sh --with-registry)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    server = GitHubContract(tmp_path_factory.mktemp("github"), TOKEN)
    yield server
    server.close()


@pytest.fixture
def github(gitops_repo, github_server):
    github_server.recorder.seen.clear()
    github_server.recorder.fail.clear()
    github_server.empty_lists = False
    use_forge(gitops_repo, "github", github_server.url, "octocat/Hello-World", labels="gitops")
    return github_server


def test_github_pull_request_created_with_requests_valid_against_the_description(gitops_repo, github):
    github.empty_lists = True  # no pull request open for the branch yet
    result = promote_pr(gitops_repo)
    assert result.code == 0, result.err
    assert json.loads(result.out)["pullRequestUrl"] == "https://github.com/octocat/Hello-World/pull/1347"  # the description's example
    calls = [(s.method, s.path.split("?")[0]) for s in github.recorder.seen]
    assert calls == [
        ("GET", "/repos/octocat/Hello-World"),
        ("GET", "/repos/octocat/Hello-World/pulls"),
        ("POST", "/repos/octocat/Hello-World/pulls"),
        ("POST", "/repos/octocat/Hello-World/issues/1347/labels"),
    ]
    assert [s.violations for s in github.recorder.seen] == [[], [], [], []]
    created = github.recorder.seen[2].body
    assert (created["head"], created["base"], created["title"]) == (BRANCH, "main", "Promote fraud-detector 1.4.0 to datacenter")
    assert "head=octocat%3Apromote%2Ffraud-detector-1.4.0" in github.recorder.seen[1].path
    assert github.recorder.seen[3].body == {"labels": ["gitops"]}


def test_github_open_pull_request_is_updated(gitops_repo, github):
    result = promote_pr(gitops_repo)  # the description's example lists one open pull request
    assert result.code == 0, result.err
    assert [s.method for s in github.recorder.seen] == ["GET", "GET", "PATCH", "POST"]
    assert github.recorder.seen[2].path == "/repos/octocat/Hello-World/pulls/1347" and github.recorder.seen[2].violations == []
    assert set(github.recorder.seen[2].body) == {"title", "body"}


def test_a_request_outside_the_description_is_caught_by_the_contract(github):
    """The contract check itself can fail: a pull request without head and base violates the description."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        github.url + "/repos/octocat/Hello-World/pulls",
        data=b'{"title": "x"}',
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 422
    said = " ".join(v["message"] for v in github.recorder.seen[-1].violations)
    assert "required property 'head'" in said and "required property 'base'" in said


@pytest.mark.parametrize(
    ("code", "where", "words"),
    [
        (401, None, "the token was refused"),
        (404, ("GET", "/repos/octocat/Hello-World"), "no repository octocat/Hello-World"),
        (422, ("POST", "/repos/octocat/Hello-World/pulls"), "the forge refused the request"),
    ],
)
def test_github_errors_are_one_line_exit_5_nothing_pushed(gitops_repo, github, code, where, words):
    github.empty_lists = True
    if where:
        github.recorder.fail[where] = code
    head = gitops_repo.head()
    result = promote_pr(gitops_repo, token="wrong" if code == 401 else TOKEN)
    assert result.code == 5, result.err
    assert f": {code} {words}" in result.err and len(result.err.strip().splitlines()) == 1
    assert_nothing_left(gitops_repo, head, result)
