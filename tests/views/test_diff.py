"""diff: rendered differences between two refs, per site, for pull-request review."""

from __future__ import annotations

import json

from gitops_mlops.views.diff import diff_refs
from gitops_mlops.views.diffreport import to_markdown
from testing.cli import cli
from testing.paths import DIGEST_B
from testing.repos import ship, tree_snapshot

REPO = "quay.io/example/fraud-detector"


def test_diff_renders_only_affected_sites_and_reads_each_models_images_from_the_renders(gitops_repo):
    base = gitops_repo.head()
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    snap = tree_snapshot(gitops_repo.work)
    report = diff_refs(gitops_repo.work, base=base)
    assert [s.site for s in report.sites] == ["cloud", "datacenter"]
    assert {(m.site, m.model, m.old_version, m.new_version, m.new_images) for m in report.models} == {
        ("cloud", "fraud-detector", "1.0.0", "1.4.0", (f"{REPO}:1.4.0@{DIGEST_B}",)),
        ("datacenter", "fraud-detector", "1.0.0", "1.4.0", (f"{REPO}:1.4.0@{DIGEST_B}",)),
    }
    assert f"+      storageUri: oci://{REPO}:1.4.0@{DIGEST_B}" in report.sites[0].diff  # fraud-detector is a modelcar
    assert tree_snapshot(gitops_repo.work) == snap  # the user's checkout is untouched
    assert gitops_repo.git("worktree", "list").count("\n") == 1


def test_a_base_change_affects_every_site_that_uses_it(gitops_repo):
    base = gitops_repo.head()
    deployment = gitops_repo.work / "base/demand-forecast/deployment.yaml"
    deployment.write_text(deployment.read_text().replace("containerPort: 8080", "containerPort: 8081"))
    gitops_repo.git("commit", "-qam", "new port")
    report = diff_refs(gitops_repo.work, base=base)
    assert len(report.sites) == 5 and report.models == ()  # no image changed


def _diff_both_ways(repo, base, monkeypatch):
    """The report with the base side in a forked worker and in this process; they must agree."""
    import gitops_mlops.views.diff as diff_module

    reports = []
    for threshold in (1, 10**9):
        monkeypatch.setattr(diff_module, "PARALLEL_SIDES_FROM", threshold)
        reports.append(diff_refs(repo.work, base=base))
    assert reports[0] == reports[1]
    return reports[0]


def test_diff_forked_and_in_process_agree_on_added_removed_and_broken_sites(gitops_repo, monkeypatch):
    work = gitops_repo.work
    broken = work / "overlays/edge/austin-01/kustomization.yaml"
    broken.write_text(broken.read_text().replace("resources:\n", "resources:\n  - missing.yaml\n", 1))
    gitops_repo.git("commit", "-qam", "austin-01 lists a file that is not there")
    base = gitops_repo.head()
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    gitops_repo.git("rm", "-rq", "overlays/edge/berlin-01")
    gitops_repo.git("checkout", "-q", base, "--", "overlays/edge/austin-01")
    (work / "overlays/edge/oslo-01").mkdir()
    (work / "overlays/edge/oslo-01/kustomization.yaml").write_text((work / "overlays/edge/singapore-01/kustomization.yaml").read_text())
    broken.write_text(broken.read_text().replace("  - missing.yaml\n", ""))
    gitops_repo.git("add", "-A")
    gitops_repo.git("commit", "-qm", "berlin-01 removed, oslo-01 added, austin-01 fixed")
    report = _diff_both_ways(gitops_repo, base, monkeypatch)
    by_site = {s.site: s.diff for s in report.sites}
    assert sorted(by_site) == ["datacenter", "edge/austin-01", "edge/berlin-01", "edge/oslo-01"]
    assert "render failed" in by_site["edge/austin-01"] and "missing.yaml" in by_site["edge/austin-01"]
    marks = {site: {line[0] for line in diff.splitlines()[3:]} for site, diff in by_site.items()}  # after the headers
    assert marks["edge/berlin-01"] == {"-"} and marks["edge/oslo-01"] == {"+"}


def test_diff_markdown_for_a_pull_request(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    gitops_repo.git("push", "-q", "origin", "HEAD:refs/heads/review")
    result = cli("diff", "--markdown", "--base", "origin/main", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    assert "| fraud-detector | 1.0.0 → 1.4.0 |" in result.out and "| 1: datacenter |" in result.out
    assert "<details><summary>datacenter</summary>" in result.out and "```diff" in result.out


def test_diff_default_base_is_the_merge_base_with_the_remote(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    report = diff_refs(gitops_repo.work)  # origin/main has not moved: base = origin/main
    assert [s.site for s in report.sites] == ["datacenter"]
    assert "datacenter" in to_markdown(report)


def test_diff_unknown_ref_is_bad_input(gitops_repo):
    result = cli("diff", "--base", "no-such-ref", cwd=gitops_repo.work)
    assert result.code == 2 and "unknown git ref 'no-such-ref'" in result.err


def test_json_gives_per_site_changes_and_exit_code_says_whether_anything_differs(gitops_repo):
    base = gitops_repo.head()
    same = cli("diff", "--base", base, "--exit-code", "-o", "json", cwd=gitops_repo.work)
    assert same.code == 0 and json.loads(same.out) == []
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    result = cli("diff", "--base", base, "--exit-code", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 1, result.err
    sites = json.loads(result.out)
    assert [s["site"] for s in sites] == ["cloud", "datacenter"] and [s["stage"] for s in sites] == ["cloud", "datacenter"]
    old_digest = sites[0]["models"][0]["from"]["digest"]
    assert old_digest.startswith("sha256:") and old_digest != DIGEST_B
    assert sites[0]["models"] == [
        {
            "model": "fraud-detector",
            "from": {"version": "1.0.0", "digest": old_digest, "image": f"{REPO}:1.0.0@{old_digest}", "images": [f"{REPO}:1.0.0@{old_digest}"]},
            "to": {"version": "1.4.0", "digest": DIGEST_B, "image": f"{REPO}:1.4.0@{DIGEST_B}", "images": [f"{REPO}:1.4.0@{DIGEST_B}"]},
        }
    ]
    assert sites[0]["diff"].startswith("--- base/cloud\n+++ head/cloud\n")
    assert cli("diff", "--base", base, cwd=gitops_repo.work).code == 0  # without --exit-code a difference is not a failure


def test_identical_changes_are_shown_once_with_their_sites(gitops_repo):
    base = gitops_repo.head()
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud", "edge")
    text = cli("diff", "--base", base, cwd=gitops_repo.work).out
    # only the storageUri line changes, with the same context at every edge site: one diff for three sites
    assert "# the same change at 3 sites: edge/austin-01, edge/berlin-01, edge/singapore-01" in text
    assert text.count("+++ head/") == 3 and "+++ head/cloud" in text and "+++ head/datacenter" in text
    assert "# fraud-detector 1.0.0 -> 1.4.0" in text and "(5 sites: cloud, datacenter, edge/austin-01 and 2 more)" in text
    markdown = cli("diff", "--base", base, "--markdown", cwd=gitops_repo.work).out
    assert markdown.count("<details>") == 3 and "<summary>3 sites: edge/austin-01, edge/berlin-01, edge/singapore-01</summary>" in markdown
    assert "| fraud-detector | 1.0.0 → 1.4.0 |" in markdown and "| 5: cloud, datacenter, edge/austin-01 and 2 more |" in markdown


def test_diff_reads_renders_from_the_repository_cache_and_renders_nothing_twice(gitops_repo, tmp_path, monkeypatch):
    from gitops_mlops.render.kustomize import Kustomize

    monkeypatch.delenv("GITOPS_MLOPS_RENDER_CACHE", raising=False)  # the repository's own cache, as a user has it
    log, script = tmp_path / "runs.log", tmp_path / "counted-kustomize"
    script.write_text(f'#!/bin/sh\necho run >> {log}\nexec {" ".join(Kustomize.find().command)} "$@"\n')
    script.chmod(0o755)
    log.write_text("")
    monkeypatch.setenv("GITOPS_MLOPS_KUSTOMIZE", str(script))
    base = gitops_repo.head()
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")  # renders both refs' sites on the way
    runs = log.read_text().count("run")
    first = diff_refs(gitops_repo.work, base=base)
    assert log.read_text().count("run") == runs and [s.site for s in first.sites] == ["cloud", "datacenter"]
    deployment = gitops_repo.work / "base/demand-forecast/deployment.yaml"
    deployment.write_text(deployment.read_text().replace("containerPort: 8080", "containerPort: 8081"))
    gitops_repo.git("commit", "-qam", "new port")  # not a pin change: kustomize renders the new inputs, once
    second = diff_refs(gitops_repo.work, base=base)
    assert len(second.sites) == 5 and log.read_text().count("run") > runs
    runs = log.read_text().count("run")
    assert diff_refs(gitops_repo.work, base=base) == second and log.read_text().count("run") == runs
