"""The command line's contracts: exit codes, JSON on stdout, one-line errors on stderr, nothing changed on error."""

from __future__ import annotations

import json

import pytest

from testing.cli import cli
from testing.paths import DIGEST_A, DIGEST_B
from testing.repos import ship, tree_snapshot

REPO = "quay.io/example/fraud-detector"


def test_version_prints():
    result = cli("--version")
    assert result.code == 0 and result.out.startswith("gitops-mlops ")


def test_sites_json(gitops_repo):
    result = cli("sites", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    sites = json.loads(result.out)
    assert {"site": "datacenter", "path": "overlays/datacenter", "stage": "datacenter"} in sites
    assert [s["stage"] for s in sites] == sorted((s["stage"] for s in sites), key=["datacenter", "cloud", "edge"].index)
    assert {s["site"] for s in sites if s["stage"] == "edge"} == {"edge/berlin-01", "edge/austin-01", "edge/singapore-01"}


def test_models_json(gitops_repo):
    result = cli("models", "--output", "json", "--repo", str(gitops_repo.work))
    assert result.code == 0, result.err
    models = json.loads(result.out)
    assert models[0] == {
        "model": "fraud-detector",
        "artifact": "modelcar",
        "imageName": "fraud-detector",
        "pin": "InferenceService/fraud-detector",
        "repository": REPO,
        "sites": None,  # everywhere
    }
    assert [(m["model"], m["artifact"], m["pin"]) for m in models[1:]] == [
        ("demand-forecast", "image", "demand-forecast"),
        ("openvino-model-server", "image", "openvino-model-server"),
    ]
    table = cli("models", "--repo", str(gitops_repo.work)).out.splitlines()
    assert table[0].split() == ["MODEL", "ARTIFACT", "PIN", "REPOSITORY"] and table[1].split()[:3] == [
        "fraud-detector",
        "modelcar",
        "InferenceService/fraud-detector",
    ]


def test_validate_json_all_ok(gitops_repo):
    result = cli("validate", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    reports = json.loads(result.out)
    assert len(reports) == 5 and all(r["ok"] and r["errors"] == [] for r in reports)


def test_validate_names_site_file_and_cause(gitops_repo):
    path = gitops_repo.work / "overlays/edge/berlin-01/kustomization.yaml"
    path.write_text(path.read_text().replace("digest: sha256:", "digest: sha256:XYZ", 1))
    result = cli("validate", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 4
    bad = [r for r in json.loads(result.out) if not r["ok"]]
    assert [r["site"] for r in bad] == ["edge/berlin-01"]
    assert "overlays/edge/berlin-01/kustomization.yaml:" in bad[0]["errors"][0] and "malformed digest" in bad[0]["errors"][0]


def test_validate_site_selector(gitops_repo):
    result = cli("validate", "--site", "edge", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0 and len(json.loads(result.out)) == 3


def test_promote_json(gitops_repo):
    result = cli("promote", "fraud-detector", f"{REPO}:1.4.0@{DIGEST_B}", "--to", "datacenter", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert set(data) == {
        "action",
        "model",
        "version",
        "image",
        "digest",
        "sites",
        "unchanged",
        "notRunning",
        "commit",
        "pushed",
        "branch",
        "pullRequestUrl",
        "changes",
        "wave",
        "dryRun",
    }
    assert data["sites"] == ["datacenter"] and data["digest"] == DIGEST_B and data["version"] == "1.4.0"
    assert data["commit"] == gitops_repo.head() and data["pushed"] is False
    old = "sha256:797dfd0fa18401432d9bf02e749e3d3f211a89488d1451715c609dd2970767c2"
    assert data["changes"] == [
        {
            "site": "datacenter",
            "stage": "datacenter",
            "from": {"version": "1.0.0", "digest": old, "image": f"{REPO}:1.0.0@{old}"},
            "to": {"version": "1.4.0", "digest": DIGEST_B, "image": f"{REPO}:1.4.0@{DIGEST_B}"},
        }
    ]


def test_a_promotion_to_many_sites_prints_one_line_per_stage_and_change(gitops_repo):
    for stage in ("datacenter", "cloud"):
        assert cli("promote", "fraud-detector", f"{REPO}:1.4.0@{DIGEST_B}", "--to", stage, cwd=gitops_repo.work).code == 0
    result = cli("promote", "fraud-detector", f"{REPO}:1.4.0@{DIGEST_B}", "--to", "edge", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    assert result.out == "edge: 1.0.0 sha256:797dfd0fa184 -> 1.4.0 sha256:bbbbbbbbbbbb  3 sites: edge/austin-01, edge/berlin-01, edge/singapore-01\n"


def test_already_up_to_date_exits_zero(gitops_repo):
    args = ("promote", "fraud-detector", f"{REPO}:1.4.0@{DIGEST_B}", "--to", "datacenter")
    assert cli(*args, cwd=gitops_repo.work).code == 0
    again = cli(*args, cwd=gitops_repo.work)
    assert again.code == 0 and "already up to date" in again.err


BAD_INPUT = [
    ("unknown model", ["promote", "nope", f"{REPO}:1.4.0@{DIGEST_B}", "--to", "datacenter"], "unknown model 'nope'"),
    ("selector matches nothing", ["promote", "fraud-detector", f"{REPO}:1.4.0@{DIGEST_B}", "--to", "mars"], "matches no site"),
    ("selector escapes", ["promote", "fraud-detector", f"{REPO}:1.4.0@{DIGEST_B}", "--to", "../etc"], "site selector"),
    ("short digest", ["promote", "fraud-detector", f"{REPO}:1.4.0@sha256:abc", "--to", "datacenter"], "64 lowercase hex"),
    ("long digest", ["promote", "fraud-detector", f"{REPO}:1.4.0@sha256:{'a' * 65}", "--to", "datacenter"], "64 lowercase hex"),
    ("upper-case digest", ["promote", "fraud-detector", f"{REPO}:1.4.0@sha256:{'A' * 64}", "--to", "datacenter"], "64 lowercase hex"),
    ("sha512", ["promote", "fraud-detector", f"{REPO}:1.4.0@sha512:{'a' * 128}", "--to", "datacenter"], "sha256"),
    ("bad tag", ["promote", "fraud-detector", f"{REPO}:-bad@{DIGEST_B}", "--to", "datacenter"], "invalid tag"),
    ("no tag, no digest", ["promote", "fraud-detector", REPO, "--to", "datacenter", "--version", "1.4.0"], "no digest"),
    ("port is not a tag", ["promote", "fraud-detector", f"localhost:5000/fraud-detector@{DIGEST_B}", "--to", "datacenter"], "no tag"),
    ("invalid version", ["promote", "fraud-detector", f"{REPO}@{DIGEST_B}", "--to", "datacenter", "--version", "1.4"], "not a semantic version"),
    ("sidecar is not the model", ["promote", "fraud-detector-sidecar", f"{REPO}-sidecar:1.0.0@{DIGEST_B}", "--to", "datacenter"], "unknown model"),
]


@pytest.mark.parametrize("args,needle", [pytest.param(a, n, id=i) for i, a, n in BAD_INPUT])
def test_bad_input_exits_2_with_one_line_and_changes_nothing(gitops_repo, args, needle):
    snap = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    result = cli(*args, "--push", cwd=gitops_repo.work)
    assert result.code == 2, result.err
    assert len(result.err.strip().splitlines()) == 1 and needle in result.err
    assert result.out == ""
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == snap


def test_policy_refusal_exits_3(gitops_repo):
    result = cli("promote", "fraud-detector", f"{REPO}:1.4.0@{DIGEST_B}", "--to", "edge", cwd=gitops_repo.work)
    assert result.code == 3 and "stage order" in result.err


def test_missing_config_is_bad_input(tmp_path):
    result = cli("sites", cwd=tmp_path)
    assert result.code == 2 and "gitops-mlops.yaml: not found" in result.err


def test_malformed_config_names_the_line(gitops_repo):
    config = gitops_repo.work / "gitops-mlops.yaml"
    config.write_text(config.read_text() + "models: [\n")
    result = cli("sites", cwd=gitops_repo.work)
    assert result.code == 2 and "gitops-mlops.yaml:" in result.err


def test_usage_error_exits_2(gitops_repo):
    result = cli("promote", "fraud-detector", cwd=gitops_repo.work)
    assert result.code == 2


def test_kustomize_missing_is_reported_with_how_to_install(gitops_repo):
    result = cli("validate", cwd=gitops_repo.work, env={"PATH": "/nonexistent", "GITOPS_MLOPS_KUSTOMIZE": ""})
    assert result.code == 4 and "kustomize not found" in result.err and "install" in result.err


def test_validate_shards_together_are_one_run(tmp_path):
    from gitops_mlops.config.scaffold import edge_site_names
    from testing.repos import make_gitops_repo

    repo = make_gitops_repo(tmp_path, edge_sites=edge_site_names(12))
    whole = json.loads(cli("validate", "-o", "json", cwd=repo.work).out)
    parts = []
    for k in range(1, 5):
        result = cli("validate", "--shard", f"{k}/4", "-o", "json", cwd=repo.work)
        assert result.code == 0, result.err
        parts.append(json.loads(result.out))
    assert all(parts) and sorted(r["site"] for part in parts for r in part) == sorted(r["site"] for r in whole)
    assert sorted((r["site"], r["ok"]) for part in parts for r in part) == sorted((r["site"], r["ok"]) for r in whole)
    for bad in ("0/4", "5/4", "a/b", "2"):
        result = cli("validate", "--shard", bad, cwd=repo.work)
        assert result.code == 2 and "--shard" in result.err and len(result.err.strip().splitlines()) == 1


def test_the_repository_is_found_upward_from_a_subfolder(gitops_repo):
    result = cli("sites", "-o", "json", cwd=gitops_repo.work / "overlays" / "edge")
    assert result.code == 0 and "edge/berlin-01" in result.out, result.err


def test_version_names_python_git_and_the_kustomize_in_use():
    result = cli("--version")
    lines = result.out.splitlines()
    assert result.code == 0 and lines[0].startswith("gitops-mlops ") and lines[1].startswith("python ") and lines[2].startswith("git version")
    assert lines[3].startswith("kustomize v") and "kustomize" in lines[3].split("(", 1)[1]


def test_release_hold_takes_a_digest_prefix(gitops_repo):
    ship(gitops_repo, "1.3.0", DIGEST_A, "datacenter")  # a release to roll back to (never the placeholder init wrote)
    for tag, digest in (("1.4.0", DIGEST_B), ("1.5.0", "sha256:" + "b" * 12 + "c" * 52)):
        assert cli("promote", "fraud-detector", f"{REPO}:{tag}@{digest}", "--to", "datacenter", cwd=gitops_repo.work).code == 0
        assert cli("rollback", "fraud-detector", "--site", "datacenter", cwd=gitops_repo.work).code == 0
    ambiguous = cli("release-hold", "fraud-detector", "--site", "datacenter", "--digest", "sha256:" + "b" * 12, cwd=gitops_repo.work)
    assert ambiguous.code == 2 and "matches 2 held digests" in ambiguous.err
    bad = cli("release-hold", "fraud-detector", "--site", "datacenter", "--digest", "sha256:bbbb", cwd=gitops_repo.work)
    assert bad.code == 2 and "12 to 64 hex" in bad.err
    released = cli("release-hold", "fraud-detector", "--site", "datacenter", "--digest", "sha256:" + "b" * 13, cwd=gitops_repo.work)
    assert released.code == 0 and "released 1 hold on" in released.err, released.err
    holds = gitops_repo.read("gitops-mlops.yaml").split("holds:")[1]
    assert DIGEST_B not in holds and "b" * 12 + "c" * 52 in holds  # the one the prefix names, and only it


@pytest.mark.parametrize(
    "args",
    [
        ("models", "-o", "json"),  # success, JSON on stdout
        ("promote", "fraud-detector"),  # Typer's usage error: exit 2
        ("status", "--model", "no-such-model"),  # the tool's own error: one line, exit 2
        ("render", "datacenter"),  # kustomize runs
        ("--version",),
    ],
)
def test_the_in_process_runner_answers_as_a_new_interpreter_does(gitops_repo, args):
    """The tests run the command line in their own process; what they see must be what a shell sees."""
    from testing.cli import cli_subprocess

    inside, outside = cli(*args, cwd=gitops_repo.work), cli_subprocess(*args, cwd=gitops_repo.work)
    assert (inside.code, inside.out, inside.err) == (outside.code, outside.out, outside.err)
