"""Render truth on repositories laid out as real ones are: what a site runs is what kustomize
renders for it, never only what its own kustomization says.

Each layout is a fixture repository built here (a bare remote and a clone), and each test
asserts what a user expects: the exit code, the rendered images afterwards (by the real
kustomize), and nothing written, committed or pushed on every refusal.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import zlib
from pathlib import Path

import pytest

from gitops_mlops.render.kustomize import Kustomize
from testing.cli import cli
from testing.repos import GitOpsRepo, make_gitops_repo, make_repo_from, rendered_images, tree_snapshot

REPO = "quay.io/acme/fraud-detector"
DF_REPO = "quay.io/acme/demand-forecast"
D0, D1, D2 = ("sha256:" + c * 64 for c in "012")


def deployment(name: str, image: str, extra: str = "") -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: server
          image: {image}
{extra}"""


def config(sites: str = "", models: str = "", stages: tuple[str, ...] = ("dev", "prod")) -> str:
    models = models or f"  - name: fraud-detector\n    image: fraud-detector\n    repository: {REPO}\n"
    text = "models:\n" + models + "stages:\n" + "".join(f"  - name: {s}\n" for s in stages)
    return text + (f"sites:\n{sites}" if sites else "") + "policy:\n  allowedRegistries: [quay.io]\n"


def pin(name: str = "fraud-detector", new_name: str = REPO, tag: str | None = "1.0.0", digest: str = D0) -> str:
    lines = [f"  - name: {name}", f"    newName: {new_name}"] + ([f"    newTag: {tag}"] if tag else []) + [f"    digest: {digest}"]
    return "images:\n" + "\n".join(lines) + "\n"


BASE = {"base/kustomization.yaml": "resources:\n  - deployment.yaml\n", "base/deployment.yaml": deployment("fraud-detector", "fraud-detector")}


def promote(repo: GitOpsRepo, *args: str, digest: str = D1, version: str = "1.1.0"):
    return cli("promote", "fraud-detector", f"{REPO}:{version}@{digest}", *args, cwd=repo.work)


def unchanged(repo: GitOpsRepo):
    """A snapshot of the clone's files, HEAD and the remote, to compare after a refusal."""
    files = {k: v for k, v in tree_snapshot(repo.work).items() if "/.git/" not in k}
    return files, repo.head(), repo.remote_head()


def refused(repo: GitOpsRepo, before, result, code: int, needle: str) -> None:
    assert result.code == code, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.err
    assert unchanged(repo) == before


# ---------------------------------------------------------------- prod builds on dev's folder

STACKED = {
    **BASE,
    "gitops-mlops.yaml": config("  - name: dev\n    path: envs/dev\n  - name: prod\n    path: envs/prod\n"),
    "envs/dev/kustomization.yaml": "resources:\n  - ../../base\n" + pin(),
    "envs/prod/kustomization.yaml": "resources:\n  - ../dev\nnamePrefix: prod-\n",
}


def test_a_promotion_that_would_also_change_an_unselected_site_is_refused(tmp_path):
    repo = make_repo_from(tmp_path, STACKED)
    before = unchanged(repo)
    refused(repo, before, promote(repo, "--to", "dev", "--push"), 3, "would also change prod through envs/dev/")


def test_selecting_the_site_that_builds_on_it_too_is_the_way_on(tmp_path):
    repo = make_repo_from(tmp_path, STACKED)
    result = promote(repo, "--to", "dev", "--to", "prod", "--push")
    assert result.code == 0, result.err
    assert rendered_images(repo, "envs/dev") == rendered_images(repo, "envs/prod") == [f"{REPO}:1.1.0@{D1}"]
    assert repo.remote_head() == repo.head() and repo.git("rev-list", "--count", "HEAD").strip() == "2"
    # prod now pins the name the image arrives with, so dev can move alone next time
    assert f"- name: {REPO}" in repo.read("envs/prod/kustomization.yaml")
    again = cli("promote", "fraud-detector", f"{REPO}:1.2.0@{D2}", "--to", "dev", cwd=repo.work)
    assert again.code == 0, again.err
    assert rendered_images(repo, "envs/dev") == [f"{REPO}:1.2.0@{D2}"] and rendered_images(repo, "envs/prod") == [f"{REPO}:1.1.0@{D1}"]


# ---------------------------------------------------------------- the gate reads renders

IN_BASE = {
    "base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
    "base/deployment.yaml": deployment("fraud-detector", f"{REPO}:1.0.0@{D0}"),
    "gitops-mlops.yaml": config(),
    "overlays/dev/kustomization.yaml": "resources:\n  - ../../base\n",
    "overlays/prod/kustomization.yaml": "resources:\n  - ../../base\n",
}


def test_the_stage_gate_reads_renders_where_the_earlier_stage_has_no_pin(tmp_path):
    repo = make_repo_from(tmp_path, IN_BASE)
    before = unchanged(repo)
    refused(repo, before, promote(repo, "--to", "prod"), 3, "not yet: dev")
    assert promote(repo, "--to", "dev").code == 0
    result = promote(repo, "--to", "prod")
    assert result.code == 0, result.err
    assert rendered_images(repo, "overlays/prod") == [f"{REPO}:1.1.0@{D1}"]


def test_status_reads_renders_and_says_where_an_unpinned_image_is_set(tmp_path):
    repo = make_repo_from(tmp_path, IN_BASE)
    result = cli("status", "-o", "json", cwd=repo.work)
    assert result.code == 0, result.err
    rows = {r["site"]: r for r in json.loads(result.out)}
    assert rows["dev"] | {"drift": False} == {
        "site": "dev",
        "stage": "dev",
        "model": "fraud-detector",
        "version": "1.0.0",
        "digest": D0,
        "image": f"{REPO}:1.0.0@{D0}",
        "pinned": False,
        "source": "Deployment/fraud-detector (base/deployment.yaml)",
        "drift": False,
        "behind": False,
        "hold": [],
        "verification": None,
        "mirrored": None,
        "placeholder": False,
        "registeredModel": None,
        "modelVersion": None,
        "wave": None,
    }
    promote(repo, "--to", "dev")
    rows = {r["site"]: r for r in json.loads(cli("status", "-o", "json", cwd=repo.work).out)}
    assert (rows["dev"]["pinned"], rows["dev"]["source"], rows["dev"]["digest"]) == (True, "pin", D1)
    assert rows["prod"]["behind"] is True


# ---------------------------------------------------------------- a wrapper over an overlay that renamed the image

WRAPPED = {
    **BASE,
    "gitops-mlops.yaml": config(),
    "overlays/dev/kustomization.yaml": "resources:\n  - ../../base\n" + pin(),
    # prod wraps dev; its own pin of the placeholder never applies: the image arrives renamed
    "overlays/prod/kustomization.yaml": "resources:\n  - ../dev-wrapped\n" + pin(tag="0.9.0", digest=D2),
    "overlays/dev-wrapped/kustomization.yaml": "resources:\n  - ../../base\n" + pin(),
}


def test_a_wrapper_is_pinned_with_the_name_the_image_arrives_with(tmp_path):
    repo = make_repo_from(
        tmp_path, {**WRAPPED, "gitops-mlops.yaml": config("  - name: dev\n    path: overlays/dev\n  - name: prod\n    path: overlays/prod\n")}
    )
    status = {r["site"]: r for r in json.loads(cli("status", "-o", "json", cwd=repo.work).out)}
    assert status["prod"]["digest"] == D0 and status["prod"]["source"] != "pin"  # the pin of 0.9.0 is not what runs
    assert promote(repo, "--to", "dev").code == 0
    result = promote(repo, "--to", "prod")
    assert result.code == 0, result.err
    assert rendered_images(repo, "overlays/prod") == [f"{REPO}:1.1.0@{D1}"]
    assert rendered_images(repo, "overlays/dev-wrapped") == [f"{REPO}:1.0.0@{D0}"]


# ---------------------------------------------------------------- where no pin can reach

HELM = {
    **BASE,
    "gitops-mlops.yaml": config(),
    "overlays/dev/kustomization.yaml": "resources:\n  - ../../base\n" + pin(),
    "overlays/prod/kustomization.yaml": "resources:\n  - helmrelease.yaml\n",
    "overlays/prod/helmrelease.yaml": (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: fraud-detector\nspec:\n"
        f"  chart:\n    spec:\n      chart: model-server\n  values:\n    image:\n      repository: {REPO}\n      tag: 1.0.0\n"
    ),
}


def test_an_image_set_in_a_helm_release_is_exit_4_naming_site_and_file(tmp_path):
    repo = make_repo_from(tmp_path, HELM)
    assert promote(repo, "--to", "dev", "--push").code == 0
    before = unchanged(repo)
    refused(
        repo,
        before,
        promote(repo, "--to", "prod", "--push"),
        4,
        "site prod: fraud-detector's image is set in HelmRelease/fraud-detector (overlays/prod/helmrelease.yaml)",
    )


def test_a_site_that_does_not_run_the_model_is_exit_4(tmp_path):
    repo = make_repo_from(tmp_path, {**HELM, "overlays/prod/helmrelease.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: empty\n"})
    assert promote(repo, "--to", "dev").code == 0
    before = unchanged(repo)
    refused(repo, before, promote(repo, "--to", "prod"), 4, "site prod: no workload in its render runs fraud-detector")


# ---------------------------------------------------------------- images that are not the tool's business


def test_other_images_pinned_by_tag_never_block_a_promotion(tmp_path):
    sidecar = "        - name: cache\n          image: redis\n"
    files = {
        **BASE,
        "base/deployment.yaml": deployment("fraud-detector", "fraud-detector", sidecar),
        "gitops-mlops.yaml": config(),
        "overlays/dev/kustomization.yaml": "resources:\n  - ../../base\n" + pin() + '  - name: redis\n    newTag: "7.2"\n',
        "overlays/prod/kustomization.yaml": "resources:\n  - ../../base\n" + pin(),
    }
    repo = make_repo_from(tmp_path, files)
    assert cli("validate", cwd=repo.work).code == 0
    result = promote(repo, "--to", "dev")
    assert result.code == 0, result.err
    assert rendered_images(repo, "overlays/dev") == [f"{REPO}:1.1.0@{D1}", "redis:7.2"]


def test_a_problem_of_another_model_does_not_block_but_validate_reports_it(tmp_path):
    models = f"  - name: fraud-detector\n    repository: {REPO}\n  - name: demand-forecast\n    repository: {DF_REPO}\n"
    files = {
        "base/kustomization.yaml": "resources:\n  - fd.yaml\n  - df.yaml\n",
        "base/fd.yaml": deployment("fraud-detector", "fraud-detector"),
        "base/df.yaml": deployment("demand-forecast", f"{DF_REPO}:2.0.0"),  # by tag only
        "gitops-mlops.yaml": config(models=models),
        "overlays/dev/kustomization.yaml": "resources:\n  - ../../base\n" + pin(),
        "overlays/prod/kustomization.yaml": "resources:\n  - ../../base\n" + pin(),
    }
    repo = make_repo_from(tmp_path, files)
    result = cli("validate", cwd=repo.work)
    assert result.code == 4 and "model demand-forecast image 'quay.io/acme/demand-forecast:2.0.0' is not pinned by a sha256 digest" in result.out
    assert promote(repo, "--to", "dev").code == 0


# ---------------------------------------------------------------- adoption by config alone


def test_site_paths_with_wildcards_and_to_stage(tmp_path):
    sites = '  - path: "clusters/*/overlays/prod"\n    name: "prod/{1}"\n    stage: prod\n  - path: "clusters/*/overlays/dev"\n    name: "dev/{1}"\n    stage: dev\n'
    files = {**BASE, "gitops-mlops.yaml": config(sites)}
    for cluster in ("east", "west"):
        for env in ("dev", "prod"):
            files[f"clusters/{cluster}/overlays/{env}/kustomization.yaml"] = "resources:\n  - ../../../../base\n" + pin()
    files["clusters/docs/README.md"] = "no overlays here\n"
    repo = make_repo_from(tmp_path, files)
    listed = json.loads(cli("sites", "-o", "json", cwd=repo.work).out)
    assert [(s["site"], s["path"], s["stage"]) for s in listed] == [
        ("dev/east", "clusters/east/overlays/dev", "dev"),
        ("dev/west", "clusters/west/overlays/dev", "dev"),
        ("prod/east", "clusters/east/overlays/prod", "prod"),
        ("prod/west", "clusters/west/overlays/prod", "prod"),
    ]
    result = promote(repo, "--to", "dev", "-o", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["sites"] == ["dev/east", "dev/west"]
    assert rendered_images(repo, "clusters/west/overlays/dev") == [f"{REPO}:1.1.0@{D1}"]


def test_two_models_share_one_placeholder_at_sites_that_do_not_overlap(tmp_path):
    models = (
        f"  - name: fraud-detector\n    image: model-server\n    repository: {REPO}\n    sites: [dev/a, prod/a]\n"
        f"  - name: demand-forecast\n    image: model-server\n    repository: {DF_REPO}\n    sites: [dev/b, prod/b]\n"
    )
    files = {
        "base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
        "base/deployment.yaml": deployment("model", "model-server"),
        "gitops-mlops.yaml": config(models=models),
    }
    for env in ("dev", "prod"):
        files[f"overlays/{env}/a/kustomization.yaml"] = "resources:\n  - ../../../base\n" + pin("model-server")
        files[f"overlays/{env}/b/kustomization.yaml"] = "resources:\n  - ../../../base\n" + pin("model-server", DF_REPO)
    repo = make_repo_from(tmp_path, files)
    rows = {(r["model"], r["site"]) for r in json.loads(cli("status", "-o", "json", cwd=repo.work).out)}
    assert rows == {("fraud-detector", "dev/a"), ("fraud-detector", "prod/a"), ("demand-forecast", "dev/b"), ("demand-forecast", "prod/b")}
    assert promote(repo, "--to", "dev/a").code == 0
    assert rendered_images(repo, "overlays/dev/a") == [f"{REPO}:1.1.0@{D1}"] and rendered_images(repo, "overlays/dev/b") == [f"{DF_REPO}:1.0.0@{D0}"]
    before = unchanged(repo)
    refused(repo, before, promote(repo, "--to", "dev/b"), 4, "site dev/b: no workload in its render runs fraud-detector")


def test_overlapping_sites_of_a_shared_placeholder_are_a_config_error(tmp_path):
    models = (
        f"  - name: fraud-detector\n    image: model-server\n    repository: {REPO}\n    sites: [dev]\n"
        f"  - name: demand-forecast\n    image: model-server\n    repository: {DF_REPO}\n    sites: [dev, prod]\n"
    )
    files = {
        **BASE,
        "gitops-mlops.yaml": config(models=models),
        "overlays/dev/kustomization.yaml": "resources:\n  - ../../base\n",
        "overlays/prod/kustomization.yaml": "resources:\n  - ../../base\n",
    }
    repo = make_repo_from(tmp_path, files)
    result = cli("status", cwd=repo.work)
    assert result.code == 2 and "both list site dev" in result.err


@pytest.mark.parametrize(
    "files, needle",
    [
        (
            {**BASE, "gitops-mlops.yaml": config(), "overlays/staging/kustomization.yaml": "resources:\n  - ../../base\n"},
            "site staging: stage 'staging' is not one of the stages",
        ),
        ({**BASE, "gitops-mlops.yaml": config()}, "no sites: no overlays/**/kustomization.yaml found"),
        (
            {**BASE, "gitops-mlops.yaml": config("  - path: 'apps/*/prod'\n    stage: prod\n")},
            "no sites: the sites: entries of gitops-mlops.yaml match no directory",
        ),
    ],
    ids=["stage-typo", "no-sites", "pattern-matches-nothing"],
)
def test_a_config_that_would_switch_the_gate_off_is_exit_2(tmp_path, files, needle):
    repo = make_repo_from(tmp_path, files)
    for command in (("validate",), ("status",), ("promote", "fraud-detector", f"{REPO}:1.1.0@{D1}", "--to", "dev")):
        result = cli(*command, cwd=repo.work)
        assert result.code == 2 and needle in result.err, (command, result.err)


# ---------------------------------------------------------------- rollback reads renders at earlier commits


def test_rollback_of_a_digest_only_pin_stays_digest_only_and_a_retry_does_nothing(tmp_path):
    files = {
        **BASE,
        "gitops-mlops.yaml": config(),
        "overlays/dev/kustomization.yaml": "resources:\n  - ../../base\n" + pin(tag=None),
        "overlays/prod/kustomization.yaml": "resources:\n  - ../../base\n" + pin(tag=None),
    }
    repo = make_repo_from(tmp_path, files)
    original = repo.read("overlays/dev/kustomization.yaml")
    assert promote(repo, "--to", "dev", "--push").code == 0
    assert rendered_images(repo, "overlays/dev") == [f"{REPO}:1.1.0@{D1}"]
    result = cli("rollback", "fraud-detector", "--site", "dev", "--push", cwd=repo.work)
    assert result.code == 0, result.err
    assert repo.read("overlays/dev/kustomization.yaml") == original  # newTag gone again, byte for byte
    assert rendered_images(repo, "overlays/dev") == [f"{REPO}@{D0}"]
    assert f"digest: {D1}" in repo.read("gitops-mlops.yaml")  # the rolled-back digest is on hold
    head = repo.head()
    again = cli("rollback", "fraud-detector", "--site", "dev", "--push", cwd=repo.work)
    assert again.code == 0 and repo.head() == head == repo.remote_head(), again.err


def test_rollback_reaches_before_the_tool_and_removes_a_pin_the_promotion_added(tmp_path):
    repo = make_repo_from(tmp_path, {**IN_BASE, "base/deployment.yaml": deployment("fraud-detector", f"{REPO}:0.9.0@{D2}")})
    # changes by hand, before the tool was adopted
    (repo.work / "base/deployment.yaml").write_text(deployment("fraud-detector", f"{REPO}:1.0.0@{D0}"))
    repo.git("commit", "-qam", "bump by hand")
    assert promote(repo, "--to", "dev").code == 0  # adds a pin to dev
    assert "images:" in repo.read("overlays/dev/kustomization.yaml")
    result = cli("rollback", "fraud-detector", "--site", "dev", cwd=repo.work)
    assert result.code == 0, result.err
    assert repo.read("overlays/dev/kustomization.yaml") == "resources:\n  - ../../base\n"  # the pin the promotion added is gone
    assert rendered_images(repo, "overlays/dev") == [f"{REPO}:1.0.0@{D0}"]
    result = cli("rollback", "fraud-detector", "--site", "dev", "--to", "0.9.0", cwd=repo.work)
    assert result.code == 0, result.err
    assert rendered_images(repo, "overlays/dev") == [f"{REPO}:0.9.0@{D2}"]
    history = json.loads(cli("history", "fraud-detector", "-o", "json", cwd=repo.work).out)
    assert [e["action"] for e in history] == ["rollback", "rollback", "promote"]
    # one site's history comes from its renders: the change by hand and the first state are there too
    history = json.loads(cli("history", "fraud-detector", "--site", "dev", "-o", "json", cwd=repo.work).out)
    assert [(e["action"], e["version"]) for e in history] == [
        ("rollback", "0.9.0"),
        ("rollback", "1.0.0"),
        ("promote", "1.1.0"),
        ("change", "1.0.0"),
        ("change", "0.9.0"),
    ]


def test_rollback_to_what_already_runs_is_a_no_op(tmp_path):
    repo = make_repo_from(tmp_path, IN_BASE)
    head = repo.head()
    result = cli("rollback", "fraud-detector", "--site", "dev", "--to", "1.0.0", cwd=repo.work)
    assert result.code == 0 and repo.head() == head, result.err
    result = cli("rollback", "fraud-detector", "--site", "dev", "--to", D0[:19], cwd=repo.work)
    assert result.code == 0 and repo.head() == head, result.err


@pytest.mark.own_render_cache
def test_the_render_cache_lives_in_the_git_directory_and_is_keyed_by_content(tmp_path):
    repo = make_repo_from(tmp_path, IN_BASE)
    assert cli("status", cwd=repo.work).code == 0
    assert (repo.work / ".git/gitops-mlops/renders.sqlite").is_file()
    assert repo.git("status", "--porcelain") == ""
    (repo.work / "base/deployment.yaml").write_text(deployment("fraud-detector", f"{REPO}:1.0.1@{D2}"))
    rows = {r["site"]: r for r in json.loads(cli("status", "-o", "json", cwd=repo.work).out)}
    assert rows["dev"]["digest"] == D2  # a changed input is rendered again, never served stale


@pytest.mark.own_render_cache
@pytest.mark.parametrize("row", [b"not zlib at all", zlib.compress(b"kind: Forged\n")], ids=["not-zlib", "not-its-sha"])
def test_a_cache_row_that_is_not_what_was_stored_is_a_miss(tmp_path, row):
    repo = make_gitops_repo(tmp_path)
    first = cli("render", "datacenter", cwd=repo.work)
    assert first.code == 0 and "kind: Deployment" in first.out, first.err
    with sqlite3.connect(repo.work / ".git/gitops-mlops/renders.sqlite") as db:
        assert db.execute("UPDATE renders SET output = ? WHERE output IS NOT NULL", (row,)).rowcount > 0
    again = cli("render", "datacenter", cwd=repo.work)
    assert (again.code, again.out, again.err) == (0, first.out, "")  # rendered again, never served, never a traceback


def test_a_cache_directory_serves_every_repository_and_off_renders_afresh(tmp_path, monkeypatch):
    shared = tmp_path / "cache"
    monkeypatch.setenv("GITOPS_MLOPS_RENDER_CACHE", str(shared))
    log, script = tmp_path / "runs.log", tmp_path / "counted-kustomize"
    script.write_text(f'#!/bin/sh\necho run >> {log}\nexec {" ".join(Kustomize.find().command)} "$@"\n')
    script.chmod(0o755)
    env = {"GITOPS_MLOPS_KUSTOMIZE": str(script)}
    (tmp_path / "one").mkdir(), (tmp_path / "two").mkdir()
    one, two = make_repo_from(tmp_path / "one", IN_BASE), make_repo_from(tmp_path / "two", IN_BASE)
    assert cli("status", cwd=one.work, env=env).code == 0
    runs = log.read_text().count("run")
    assert runs > 0 and (shared / "renders.sqlite").is_file() and not (one.work / ".git/gitops-mlops").exists()
    assert cli("status", cwd=two.work, env=env).code == 0
    assert log.read_text().count("run") == runs  # the other repository's renders, found by content
    (two.work / "base/deployment.yaml").write_text(deployment("fraud-detector", f"{REPO}:1.0.1@{D2}"))
    rows = {r["site"]: r for r in json.loads(cli("status", "-o", "json", cwd=two.work, env=env).out)}
    assert rows["dev"]["digest"] == D2 and log.read_text().count("run") > runs
    runs = log.read_text().count("run")
    assert cli("status", cwd=one.work, env={**env, "GITOPS_MLOPS_RENDER_CACHE": "off"}).code == 0
    assert log.read_text().count("run") > runs


def test_status_of_a_repository_without_git_still_renders(tmp_path):
    from testing.repos import build_tree

    build_tree(tmp_path, IN_BASE)
    result = cli("status", "-o", "json", cwd=tmp_path)
    assert result.code == 0 and len(json.loads(result.out)) == 2, result.err
    assert not (Path(tmp_path) / ".git").exists()


def test_a_bad_kustomize_timeout_is_refused_even_when_the_cache_serves_every_site(tmp_path):
    repo = make_repo_from(tmp_path, IN_BASE)
    assert cli("status", cwd=repo.work).code == 0  # every render is cached now
    result = cli("status", cwd=repo.work, env={"GITOPS_MLOPS_KUSTOMIZE_TIMEOUT": "0"})
    assert result.code == 2 and "GITOPS_MLOPS_KUSTOMIZE_TIMEOUT" in result.err and result.err.count("\n") == 1, result.err


def test_a_symlink_inside_the_site_renders_as_kustomize_renders_it_in_the_repository(tmp_path):
    """The copy a pin-invariant render builds keeps symlinks as symlinks: one within the site's folder
    is read, as ``kustomize build`` of the repository reads it; none becomes a copy of its target."""
    repo = make_gitops_repo(tmp_path)
    site = repo.work / "overlays/datacenter"
    (site / "real.env").write_text("LEVEL=inside\n")
    (site / "linked.env").symlink_to("real.env")
    with open(site / "kustomization.yaml", "a") as handle:
        handle.write("configMapGenerator:\n  - name: linked\n    envs:\n      - linked.env\n")
    rendered = cli("render", "datacenter", cwd=repo.work)
    expected = subprocess.run([*Kustomize.find().command, str(site)], capture_output=True, text=True, check=True).stdout
    assert rendered.code == 0 and "LEVEL: inside" in rendered.out, rendered.err
    assert rendered.out.strip() == expected.strip()
