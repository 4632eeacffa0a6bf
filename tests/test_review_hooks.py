"""Checks where reviewers are: the pre-commit hook and the example GitHub Actions workflow, run as
their hosts would run them (pre-commit and GitHub do not run here: their commands are run directly)."""

from __future__ import annotations

import re
import shlex

import yaml

from testing.cli import cli
from testing.paths import PROJECT_ROOT


def test_the_pre_commit_hook_validates_the_sites_a_change_touches(gitops_repo):
    (hook,) = yaml.safe_load((PROJECT_ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "gitops-mlops-validate" and hook["pass_filenames"] is True and hook["language"] == "python"
    entry = shlex.split(hook["entry"])
    assert entry[0] == "gitops-mlops"
    files = ["overlays/edge/berlin-01/kustomization.yaml", "README.md", "base/demand-forecast/deployment.yaml"]
    staged = [f for f in files if re.search(hook["files"], f)]  # what pre-commit passes
    assert staged == ["overlays/edge/berlin-01/kustomization.yaml", "base/demand-forecast/deployment.yaml"]
    ok = cli(*entry[1:], "-v", staged[0], cwd=gitops_repo.work)
    assert ok.code == 0 and ok.out == "ok    edge/berlin-01\n"
    assert cli(*entry[1:], "README.md", cwd=gitops_repo.work).err == "no site reads the files given: nothing to validate\n"
    broken = gitops_repo.work / "overlays/edge/berlin-01/kustomization.yaml"
    broken.write_text(broken.read_text().replace("resources:", "resources:\n  - ./missing.yaml"))
    failed = cli(*entry[1:], *staged, cwd=gitops_repo.work)
    assert failed.code == 4 and failed.out.startswith("FAIL  edge/berlin-01:") and "5 sites" in failed.err  # the base change reaches every site


def test_the_github_workflow_runs_the_review_commands(gitops_repo):
    workflow = yaml.safe_load((PROJECT_ROOT / ".github/workflows/gitops-mlops-pr-check.yml").read_text())
    steps = workflow["jobs"]["check"]["steps"]
    runs = [s["run"] for s in steps if s.get("run", "").startswith("gitops-mlops")]
    assert runs == ["gitops-mlops validate", 'gitops-mlops diff --base "origin/$BASE_REF" --markdown > "$RUNNER_TEMP/comment.md"']
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert cli("validate", cwd=gitops_repo.work).code == 0
    diff = cli("diff", "--base", "origin/main", "--markdown", cwd=gitops_repo.work)
    assert diff.code == 0 and diff.out.startswith("### gitops-mlops: 0 site(s) change")
