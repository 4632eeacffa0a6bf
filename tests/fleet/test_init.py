"""``gitops-mlops init`` and the scaffold it writes: identical to the project's own example."""

from __future__ import annotations

import pytest

from gitops_mlops.config.load import parse_config
from gitops_mlops.config.scaffold import ScaffoldSpec, edge_site_names, render_layout
from gitops_mlops.core.errors import InputError
from testing.cli import cli
from testing.paths import PROJECT_ROOT
from testing.repos import git
from tests.config.test_scaffold import example_files


def test_init_writes_and_commits_the_example_byte_for_byte(tmp_path):
    result = cli("init", str(tmp_path / "repo"))
    assert result.code == 0, result.err
    assert example_files(tmp_path / "repo") == example_files(PROJECT_ROOT)
    assert git(tmp_path / "repo", "status", "--porcelain") == ""
    assert git(tmp_path / "repo", "rev-list", "--count", "HEAD").strip() == "1"


def test_init_with_models_and_generated_edge_sites(tmp_path):
    repo = tmp_path / "fleet"
    result = cli("init", str(repo), "--model", "churn=quay.io/acme/churn", "--edge-sites", "12", "--repo-url", "https://git.example.com/ml.git")
    assert result.code == 0, result.err
    config = parse_config((repo / "gitops-mlops.yaml").read_text())
    assert [m.name for m in config.models] == ["churn"] and config.repo_url == "https://git.example.com/ml.git"
    assert sorted(p.name for p in (repo / "overlays/edge").iterdir()) == list(edge_site_names(12))
    assert "https://git.example.com/ml.git" in (repo / "environments/edge-fleet.yaml").read_text()
    sites = cli("sites", "-o", "json", cwd=repo)
    assert sites.code == 0 and sites.out.count('"stage": "edge"') == 12
    assert cli("validate", "--site", "edge/site-0007", cwd=repo).code == 0


def test_init_writes_either_flavour_per_model_and_both_promote(tmp_path):
    repo = tmp_path / "mixed"
    models = ("--model", "churn=quay.io/acme/churn", "--model", "eta=quay.io/acme/eta", "--modelcar", "eta")
    result = cli("init", str(repo), *models, "--edge-sites", "2")
    assert result.code == 0, result.err
    config = parse_config((repo / "gitops-mlops.yaml").read_text())
    assert [(m.name, m.artifact) for m in config.models] == [("churn", "image"), ("eta", "modelcar"), ("openvino-model-server", "image")]
    assert (repo / "base/churn/deployment.yaml").is_file() and (repo / "base/eta/inferenceservice.yaml").is_file()
    assert cli("validate", cwd=repo).code == 0
    digest = "sha256:" + "e" * 64
    for model in ("churn", "eta", "openvino-model-server"):
        image = f"quay.io/acme/{model}:1.1.0@{digest}" if model != "openvino-model-server" else f"quay.io/example/openvino-model-server:1.1.0@{digest}"
        promoted = cli("promote", model, image, "--to", "datacenter", "--no-verify", cwd=repo)
        assert promoted.code == 0, promoted.err
    text = (repo / "overlays/datacenter/kustomization.yaml").read_text()
    assert f"value: oci://quay.io/acme/eta:1.1.0@{digest}\n" in text and text.count(f"digest: {digest}\n") == 2
    only_images = cli("init", str(tmp_path / "images"), "--model", "churn=quay.io/acme/churn")
    assert only_images.code == 0 and not (tmp_path / "images/base/openvino-model-server").exists()
    assert "InferenceService" not in (tmp_path / "images/overlays/cloud/kustomization.yaml").read_text()


def test_init_json(tmp_path):
    import json

    result = cli("init", str(tmp_path / "r"), "--edge-sites", "4", "-o", "json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["commit"] == git(tmp_path / "r", "rev-parse", "HEAD").strip() and data["remote"] is None
    assert data["sites"] == ["datacenter", "cloud", *(f"edge/site-000{i}" for i in range(1, 5))] and "gitops-mlops.yaml" in data["files"]


def test_init_named_edge_sites(tmp_path):
    result = cli("init", str(tmp_path / "r"), "--edge-site", "factory-1", "--edge-site", "store-9")
    assert result.code == 0 and sorted(p.name for p in (tmp_path / "r/overlays/edge").iterdir()) == ["factory-1", "store-9"]


def test_init_refuses_a_non_empty_directory_unless_forced(tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine\n")
    refused = cli("init", str(target))
    assert refused.code == 2 and "not empty" in refused.err and sorted(p.name for p in target.iterdir()) == ["notes.txt"]
    forced = cli("init", str(target), "--force")
    assert forced.code == 0 and (target / "notes.txt").read_text() == "mine\n" and (target / "gitops-mlops.yaml").is_file()


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--model", "Bad_Name=quay.io/a/b"], "model name"),
        (["--model", "ok=quay.io/a/B"], "invalid repository path"),
        (["--model", "no-equals-sign"], "NAME=REPOSITORY"),
        (["--edge-site", "../escape"], "edge site name"),
        (["--edge-site", "a", "--edge-site", "a"], "given twice"),
        (["--edge-site", "a", "--edge-sites", "3"], "not both"),
        (["--modelcar", "nope"], "--modelcar nope: not one of the models (fraud-detector, demand-forecast)"),
        (["--model", "openvino-model-server=quay.io/a/b", "--modelcar", "openvino-model-server"], "the name of the serving runtime"),
    ],
)
def test_init_bad_input_writes_nothing(tmp_path, args, needle):
    target = tmp_path / "new"
    result = cli("init", str(target), *args)
    assert result.code == 2 and needle in result.err and len(result.err.strip().splitlines()) == 1
    assert not target.exists()


def test_scaffold_spec_validation():
    with pytest.raises(InputError, match="at least one model"):
        render_layout(ScaffoldSpec(models=()))
    # config, a modelcar's 2 base files, an image model's 5, the runtime's 2, the application's 4, 2 + 1000 overlays, 9 environments
    assert len(render_layout(ScaffoldSpec(edge_sites=edge_site_names(1000)))) == 1 + 2 + 5 + 2 + 4 + 2 + 1000 + 9


def test_init_refuses_to_nest_inside_another_repository_unless_forced(tmp_path):
    outer = tmp_path / "outer"
    outer.mkdir()
    git(outer, "init", "-q")
    refused = cli("init", str(outer / "gitops"))
    assert refused.code == 2 and "inside the git repository" in refused.err and "--force" in refused.err
    assert not (outer / "gitops").exists() and len(refused.err.strip().splitlines()) == 1
    forced = cli("init", str(outer / "gitops"), "--force")
    assert forced.code == 0 and (outer / "gitops/.git").is_dir()


def test_repo_url_is_added_as_the_remote(tmp_path):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    result = cli("init", str(tmp_path / "r"), "--repo-url", f"file://{remote}")
    assert result.code == 0, result.err
    assert git(tmp_path / "r", "remote", "get-url", "origin").strip() == f"file://{remote}"
    assert "remote origin" in result.err and "placeholders" in result.err
    pushed = cli("push", cwd=tmp_path / "r")  # the first push of the new repository: nothing the remote has
    assert pushed.code == 0, pushed.err
    assert git(remote, "rev-parse", "main").strip() == git(tmp_path / "r", "rev-parse", "HEAD").strip()


def test_a_repo_url_that_is_not_one_writes_nothing(tmp_path):
    result = cli("init", str(tmp_path / "r"), "--repo-url", "not a url")
    assert result.code == 2 and "'not a url'" in result.err and not (tmp_path / "r").exists()


def test_init_without_a_git_identity_is_refused_before_anything_is_written(tmp_path):
    env = {"GIT_CONFIG_GLOBAL": str(tmp_path / "empty-gitconfig"), "EMAIL": ""}
    (tmp_path / "empty-gitconfig").write_text("")
    result = cli("init", str(tmp_path / "r"), env=env)
    assert result.code == 2 and "no git identity" in result.err and "--author" in result.err
    assert not (tmp_path / "r").exists()
    authored = cli("init", str(tmp_path / "r"), "--author", "Ada Lovelace <ada@example.com>", env=env)
    assert authored.code == 0, authored.err
    assert git(tmp_path / "r", "log", "-1", "--format=%an <%ae> / %cn <%ce>").strip() == "Ada Lovelace <ada@example.com> / Ada Lovelace <ada@example.com>"


@pytest.mark.parametrize("form", ["path", "file", "relative"])
def test_a_new_remote_works_the_first_time_in_every_local_form(tmp_path, form):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "--initial-branch=main", str(remote))
    url = {"path": str(remote), "file": f"file://{remote}", "relative": "../remote.git"}[form]
    work = tmp_path / "r"
    made = cli("init", str(work), "--model", "fraud=quay.io/acme/fraud", "--edge-sites", "1", "--repo-url", url)
    assert made.code == 0, made.err
    check = cli("check", cwd=work)  # the remote has no main yet: check says so, with the command that fixes it
    assert check.code == 2 and "remote 'origin' has no branch 'main' yet: publish this repository's commits with 'gitops-mlops push'" in check.out
    before = git(work, "rev-parse", "HEAD")
    image = "quay.io/acme/fraud:1.1.0@sha256:" + "a" * 64
    refused = cli("promote", "fraud", image, "--to", "datacenter", "--push", "--no-verify", cwd=work)
    assert refused.code == 5 and "has no branch main yet: publish this repository's commits with 'gitops-mlops push'" in refused.err
    assert git(work, "rev-parse", "HEAD") == before and git(work, "status", "--porcelain") == ""
    (work / "gitops-mlops.yaml").write_text((work / "gitops-mlops.yaml").read_text() + "# a line by hand before the first push\n")
    git(work, "commit", "-qam", "by hand")
    pushed = cli("push", cwd=work)  # the fix the lines above name: the first push publishes HEAD as it is, hand commits too
    assert pushed.code == 0 and "pushed 2 commits to main" in pushed.err, pushed.err
    assert cli("check", cwd=work).code == 0
    assert cli("promote", "fraud", image, "--to", "datacenter", "--push", "--no-verify", cwd=work).code == 0
    assert git(remote, "rev-parse", "main") == git(work, "rev-parse", "HEAD")


@pytest.mark.parametrize("url", ["https://git.example.com/ml.git", "ssh://git@git.example.com/ml.git", "git@git.example.com:ml/fleet.git", "/srv/git/ml.git"])
def test_init_takes_every_usual_form_of_repository_url(tmp_path, url):
    result = cli("init", str(tmp_path / "r"), "--repo-url", url)
    assert result.code == 0, result.err
    assert parse_config((tmp_path / "r/gitops-mlops.yaml").read_text()).repo_url == url


def test_a_commit_that_fails_leaves_no_file_of_the_layout(tmp_path):
    target = tmp_path / "hooked"
    git(tmp_path, "init", "-q", str(target))
    (target / "notes.txt").write_text("mine\n")
    hook = target / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'refused by policy' >&2\nexit 1\n")
    hook.chmod(0o755)
    result = cli("init", str(target), "--force")
    assert result.code == 5 and "refused by policy" in result.err
    assert sorted(p.name for p in target.iterdir()) == [".git", "notes.txt"]  # every file and folder it wrote is gone
    assert not (target / ".git" / "gitops-mlops-journal.json").exists()
