"""verify during a model canary, against a real Prometheus: a query naming ``{{args.digest}}`` reads the
series of the canary's build only (the new revision), not the previous revision's beside it."""

from __future__ import annotations

import json

import pytest

from testing.cli import cli
from testing.prometheus_server import running
from tests.promote.test_canary import FRAUD, A, B, canary_repo

# One site, two revisions serving at once: the previous build fails the check, the canary's passes.
SERIES = [
    ("model_error_ratio", {"site": "a", "model_digest": A}, [0.4]),
    ("model_error_ratio", {"site": "a", "model_digest": B}, [0.01]),
    ("model_error_ratio", {"site": "raw", "model_digest": A}, [0.4]),
]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    with running(tmp_path_factory.mktemp("prometheus"), SERIES) as server:
        yield server


def checked(tmp_path, address: str, query: str):
    repo = canary_repo(tmp_path)
    check = f"    checks:\n      - name: errors\n        provider: {{prometheus: {{address: '{address}'}}}}\n        query: '{query}'\n        successCondition: 'max(result) < 0.05'\n"
    path = repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text().replace("  - name: edge\n", "  - name: edge\n" + check, 1))
    repo.git("commit", "-qam", "an error-ratio check")
    assert cli("promote", "fraud", f"{FRAUD}:1.4.0@{B}", "--to", "edge/a", "--canary", "10", cwd=repo.work).code == 0
    return repo


def test_a_query_naming_the_digest_reads_the_canary_revision_only(tmp_path, prometheus):
    repo = checked(tmp_path, prometheus.address, 'model_error_ratio{site=~"{{args.site}}", model_digest="{{args.digest}}"}')
    result = cli("verify", "fraud", "--site", "edge", "--no-record", "-o", "json", cwd=repo.work)
    data = json.loads(result.out)
    sites = {s["site"]: s for s in data["results"]}
    assert sites["edge/a"]["digest"] == B and sites["edge/a"]["checks"][0]["values"] == [0.01] and sites["edge/a"]["verdict"] == "successful"
    assert sites["edge/raw"]["digest"] == A and sites["edge/raw"]["checks"][0]["values"] == [0.4] and sites["edge/raw"]["verdict"] == "failed"
    assert data["requests"] == 2 and result.code == 3  # one query per build; the previous build fails at edge/raw


def test_a_query_that_does_not_name_the_digest_mixes_both_revisions(tmp_path, prometheus):
    repo = checked(tmp_path, prometheus.address, 'model_error_ratio{site=~"{{args.site}}"}')
    result = cli("verify", "fraud", "--site", "edge/a", "--no-record", "-o", "json", cwd=repo.work)
    (site,) = json.loads(result.out)["results"]
    assert sorted(site["checks"][0]["values"]) == [0.01, 0.4] and site["verdict"] == "failed" and result.code == 3
