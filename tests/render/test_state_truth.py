"""Render truth on repositories laid out as real ones are: what a site runs is what kustomize
renders for it, never only what its own kustomization says.

Each layout is a fixture repository built here (a bare remote and a clone), and each test
asserts what a user expects: the exit code, the rendered images afterwards (by the real
kustomize), and nothing written, committed or pushed on every refusal.
"""

from __future__ import annotations

import json

import pytest

from testing.cli import cli
from testing.repos import GitOpsRepo, make_repo_from, rendered_images, tree_snapshot

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
        "traffic": None,
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
