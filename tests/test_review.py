"""Read side and undo: status, history, rendered diff, rollback and holds, on real repos."""

from __future__ import annotations

import pytest

from conftest import DIGEST_B, DIGEST_C, cli, tree_snapshot
from gitops_mlops.diff import diff_refs, to_markdown
from gitops_mlops.errors import InputError, PolicyError
from gitops_mlops.history import read_history
from gitops_mlops.kustomization import fast_pins, parse
from gitops_mlops.promotion import promote
from gitops_mlops.release import release_hold
from gitops_mlops.requests import PromoteRequest as Request, Publish, ReleaseHoldRequest, RollbackRequest
from gitops_mlops.rollback import rollback
from gitops_mlops.status import read_status

REPO = "quay.io/example/fraud-detector"


def ship(repo, tag, digest, *stages, push=False, **kw):
    for stage in stages:
        promote(repo.work, Request(model="fraud-detector", image=f"{REPO}:{tag}@{digest}", selectors=(stage,), **kw), Publish(push=push))


def pin_at(repo, site):
    path = f"overlays/{site}/kustomization.yaml"
    return parse(repo.read(path), path).pin("fraud-detector")


# ---------------------------------------------------------------- status


def test_status_lists_every_model_at_every_site(gitops_repo):
    rows = read_status(gitops_repo.work).rows
    assert len(rows) == 2 * 5
    assert {r.version for r in rows} == {"1.0.0"} and not any(r.drift or r.behind for r in rows)


def test_status_marks_drift_and_lagging_stages(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud", "edge/berlin-01")
    rows = {(r.model, r.site): r for r in read_status(gitops_repo.work, models=("fraud-detector",)).rows}
    assert rows[("fraud-detector", "cloud")].version == "1.4.0" and not rows[("fraud-detector", "cloud")].behind
    assert rows[("fraud-detector", "edge/berlin-01")].drift and not rows[("fraud-detector", "edge/berlin-01")].behind
    assert rows[("fraud-detector", "edge/austin-01")].behind


def test_status_json(gitops_repo):
    result = cli("status", "--site", "edge", "-o", "json", cwd=gitops_repo.work)
    import json

    rows = json.loads(result.out)
    assert result.code == 0 and len(rows) == 6
    assert set(rows[0]) == {"site", "stage", "model", "version", "digest", "image", "pinned", "source", "drift", "behind", "hold"}


def test_fast_pin_reader_agrees_with_the_parser(gitops_repo):
    for path in gitops_repo.work.glob("overlays/**/kustomization.yaml"):
        text = path.read_text()
        fast = fast_pins(text)
        assert fast is not None, f"{path} should take the fast path"
        assert fast == parse(text, str(path)).pins


# ---------------------------------------------------------------- history


def test_history_reads_trailers_newest_first(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    entries = read_history(gitops_repo.work, "fraud-detector")
    assert [(e.action, e.sites, e.version, e.digest) for e in entries] == [
        ("promote", ("cloud",), "1.4.0", DIGEST_B),
        ("promote", ("datacenter",), "1.4.0", DIGEST_B),
    ]
    assert read_history(gitops_repo.work, "fraud-detector", selectors=("cloud",))[0].sites == ("cloud",)
    assert len(read_history(gitops_repo.work, "fraud-detector", limit=1)) == 1


def test_history_ignores_look_alike_free_text(gitops_repo):
    gitops_repo.git("commit", "--allow-empty", "-qm", "notes: Model: fraud-detector was discussed\n\nAction: promote is great")
    with pytest.raises(InputError, match="no promotion or rollback history"):
        read_history(gitops_repo.work, "fraud-detector")


def test_history_json_via_cli(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    import json

    result = cli("history", "fraud-detector", "-o", "json", cwd=gitops_repo.work)
    entry = json.loads(result.out)[0]
    assert set(entry) == {"commit", "date", "author", "action", "model", "version", "digest", "sites"}
    assert entry["author"] == "Test Pipeline" and entry["commit"] == gitops_repo.head()


def test_history_bad_input(gitops_repo):
    assert cli("history", "nope", cwd=gitops_repo.work).code == 2
    assert cli("history", "fraud-detector", cwd=gitops_repo.work).code == 2  # no history yet


# ---------------------------------------------------------------- diff


def test_diff_renders_only_affected_sites_and_summarises_pins(gitops_repo):
    base = gitops_repo.head()
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    snap = tree_snapshot(gitops_repo.work)
    report = diff_refs(gitops_repo.work, base=base)
    assert [s.site for s in report.sites] == ["cloud", "datacenter"]
    assert {(p.site, p.model, p.old_version, p.new_version, p.new_digest) for p in report.pins} == {
        ("cloud", "fraud-detector", "1.0.0", "1.4.0", DIGEST_B),
        ("datacenter", "fraud-detector", "1.0.0", "1.4.0", DIGEST_B),
    }
    assert f"+        image: {REPO}:1.4.0@{DIGEST_B}" in report.sites[0].diff or f"+      - image: {REPO}:1.4.0@{DIGEST_B}" in report.sites[0].diff
    assert tree_snapshot(gitops_repo.work) == snap  # the user's checkout is untouched
    assert gitops_repo.git("worktree", "list").count("\n") == 1


def test_a_base_change_affects_every_site_that_uses_it(gitops_repo):
    base = gitops_repo.head()
    deployment = gitops_repo.work / "base/demand-forecast/deployment.yaml"
    deployment.write_text(deployment.read_text().replace("containerPort: 8080", "containerPort: 8081"))
    gitops_repo.git("commit", "-qam", "new port")
    report = diff_refs(gitops_repo.work, base=base)
    assert len(report.sites) == 5 and report.pins == ()


def _diff_both_ways(repo, base, monkeypatch):
    """The report with the base side in a forked worker and in this process; they must agree."""
    import gitops_mlops.diff as diff_module

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
    assert "| datacenter | fraud-detector | 1.0.0 → 1.4.0 |" in result.out
    assert "<details><summary>datacenter</summary>" in result.out and "```diff" in result.out


def test_diff_default_base_is_the_merge_base_with_the_remote(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    report = diff_refs(gitops_repo.work)  # origin/main has not moved: base = origin/main
    assert [s.site for s in report.sites] == ["datacenter"]
    assert "datacenter" in to_markdown(report)


def test_diff_unknown_ref_is_bad_input(gitops_repo):
    result = cli("diff", "--base", "no-such-ref", cwd=gitops_repo.work)
    assert result.code == 2 and "unknown git ref 'no-such-ref'" in result.err


# ---------------------------------------------------------------- rollback and holds


def test_rollback_pins_the_previous_digest_and_holds_the_bad_one(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    result = rollback(gitops_repo.work, RollbackRequest(model="fraud-detector", selectors=("datacenter",)))
    assert result.changed == ("datacenter",)
    assert pin_at(gitops_repo, "datacenter").new_tag == "1.0.0"
    trailers = gitops_repo.git("log", "-1", "--format=%(trailers:only,unfold)")
    assert "Action: rollback" in trailers and "Sites: datacenter" in trailers
    config = gitops_repo.read("gitops-mlops.yaml")
    assert f"digest: {DIGEST_B}" in config and "site: datacenter" in config
    assert gitops_repo.git("show", "--name-only", "--format=", "HEAD").split() == ["gitops-mlops.yaml", "overlays/datacenter/kustomization.yaml"]
    with pytest.raises(PolicyError, match="on hold"):
        ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", force_hold=True)
    assert pin_at(gitops_repo, "datacenter").digest == DIGEST_B


def test_rollback_ignores_stage_order(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    rollback(gitops_repo.work, RollbackRequest(model="fraud-detector", selectors=("datacenter",)))
    assert pin_at(gitops_repo, "datacenter").new_tag == "1.0.0" and pin_at(gitops_repo, "cloud").new_tag == "1.4.0"


def test_rollback_to_a_named_version(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    ship(gitops_repo, "1.5.0", DIGEST_C, "datacenter")
    rollback(gitops_repo.work, RollbackRequest(model="fraud-detector", selectors=("datacenter",), to="1.4.0"))
    assert pin_at(gitops_repo, "datacenter").digest == DIGEST_B


def test_rollback_to_something_never_deployed_is_bad_input(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    snap = tree_snapshot(gitops_repo.work)
    result = cli("rollback", "fraud-detector", "--site", "datacenter", "--to", "9.9.9", cwd=gitops_repo.work)
    assert result.code == 2 and "never ran at datacenter" in result.err
    assert tree_snapshot(gitops_repo.work) == snap


def test_release_hold_lets_the_digest_through_again(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    rollback(gitops_repo.work, RollbackRequest(model="fraud-detector", selectors=("datacenter",)))
    result = release_hold(gitops_repo.work, ReleaseHoldRequest(model="fraud-detector", selectors=("datacenter",)))
    assert len(result.changed) == 1 and "holds: []" in gitops_repo.read("gitops-mlops.yaml")
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    assert pin_at(gitops_repo, "datacenter").digest == DIGEST_B


def test_rollback_cli_with_push(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", push=True)
    result = cli("rollback", "fraud-detector", "--site", "datacenter", "--push", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    import json

    data = json.loads(result.out)
    assert data["pushed"] and gitops_repo.remote_head() == data["commit"] and data["changed"] == ["datacenter"]
