"""The read commands (sites, models, validate, status, history, diff, render, holds) as a user runs
them: tables or JSON/YAML on stdout, messages on stderr, the documented exit codes."""

from __future__ import annotations

import json

import yaml

from testing.cli import cli
from testing.paths import DIGEST_B
from testing.repos import rendered_images, ship


def test_sites_lists_every_site_with_its_stage(gitops_repo):
    result = cli("sites", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert [(r["site"], r["stage"]) for r in rows][:2] == [("datacenter", "datacenter"), ("cloud", "cloud")]
    assert len(rows) == 5


def test_models_as_yaml(gitops_repo):
    result = cli("models", "-o", "yaml", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    assert {m["model"] for m in yaml.safe_load(result.out)} == {"fraud-detector", "demand-forecast", "openvino-model-server"}


def test_validate_passes_on_the_example_and_fails_with_exit_4_on_a_broken_overlay(gitops_repo):
    assert cli("validate", cwd=gitops_repo.work).code == 0
    (gitops_repo.work / "overlays/cloud/kustomization.yaml").write_text("resources:\n  - ../../base/nowhere\n")
    result = cli("validate", cwd=gitops_repo.work)
    assert result.code == 4 and result.out.startswith("FAIL  cloud: ") and "1 of 5 sites failed validation" in result.err


def test_status_table_and_a_filter(gitops_repo):
    result = cli("status", "--model", "fraud-detector", "--site", "edge", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    lines = result.out.strip().splitlines()
    assert lines[0].split()[:3] == ["MODEL", "SITE", "STAGE"] and len(lines) == 1 + 3
    assert all(line.split()[:2] == ["fraud-detector", f"edge/{name}"] for line, name in zip(lines[1:], ("austin-01", "berlin-01", "singapore-01"), strict=True))


def test_history_reads_the_trailers(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    result = cli("history", "fraud-detector", "--site", "datacenter", "-n", "1", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    (entry,) = json.loads(result.out)
    assert entry["action"] == "promote" and entry["version"] == "1.4.0"


def test_diff_exit_code_says_whether_renders_changed(gitops_repo):
    base = gitops_repo.head()
    assert cli("diff", "--base", base, "--head", "HEAD", "--exit-code", cwd=gitops_repo.work).code == 0
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    changed = cli("diff", "--base", base, "--head", "HEAD", "--exit-code", "-o", "json", cwd=gitops_repo.work)
    assert changed.code == 1 and [s["site"] for s in json.loads(changed.out)] == ["datacenter"]


def test_render_prints_what_kustomize_builds(gitops_repo):
    result = cli("render", "edge/austin-01", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    images = [line.split("image:", 1)[1].strip() for line in result.out.splitlines() if line.strip().removeprefix("- ").startswith("image:")]
    assert images == rendered_images(gitops_repo, "overlays/edge/austin-01")


def test_holds_lists_none_then_the_one_a_rollback_leaves(gitops_repo):
    assert json.loads(cli("holds", "-o", "json", cwd=gitops_repo.work).out) == []
    ship(gitops_repo, "1.3.0", "sha256:" + "c" * 64, "datacenter")
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    assert cli("rollback", "fraud-detector", "--site", "datacenter", cwd=gitops_repo.work).code == 0
    (hold,) = json.loads(cli("holds", "--model", "fraud-detector", "-o", "json", cwd=gitops_repo.work).out)
    assert (hold["site"], hold["digest"]) == ("datacenter", DIGEST_B)


def test_an_unknown_model_is_one_line_and_exit_2(gitops_repo):
    result = cli("history", "fraud-detecter", cwd=gitops_repo.work)
    assert result.code == 2 and result.out == ""
    assert len(result.err.strip().splitlines()) == 1 and "fraud-detector" in result.err
