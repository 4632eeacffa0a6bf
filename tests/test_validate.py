"""validate: failures and a total (every site with --verbose); placeholder pins said plainly."""

from __future__ import annotations

import json

from conftest import DIGEST_B, cli, ship


def test_failures_and_a_total_and_every_site_with_verbose(gitops_repo):
    quiet = cli("validate", cwd=gitops_repo.work)
    assert quiet.code == 0 and quiet.out == "" and "5 sites valid" in quiet.err
    verbose = cli("validate", "--verbose", cwd=gitops_repo.work)
    assert verbose.out.splitlines() == ["ok    datacenter", "ok    cloud", "ok    edge/austin-01", "ok    edge/berlin-01", "ok    edge/singapore-01"]
    broken = gitops_repo.work / "overlays/cloud/kustomization.yaml"
    broken.write_text(broken.read_text().replace("resources:", "resources:\n  - ./missing.yaml"))
    failed = cli("validate", cwd=gitops_repo.work)
    assert failed.code == 4 and failed.out.startswith("FAIL  cloud:") and len(failed.out.splitlines()) == 1
    assert "1 of 5 sites failed validation" in failed.err


def test_placeholder_pins_are_reported_until_promoted(gitops_repo):
    result = cli("validate", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0
    reports = json.loads(result.out)
    assert all(sorted(r["placeholders"]) == ["demand-forecast", "fraud-detector", "openvino-model-server"] for r in reports)
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    result = cli("validate", cwd=gitops_repo.work)
    assert result.code == 0
    assert "note: fraud-detector at 4 site(s) (cloud, edge/austin-01, edge/berlin-01 and 1 more) still runs the placeholder digest" in result.err
    assert "note: demand-forecast at 5 site(s)" in result.err and "not yet promoted" in result.err
