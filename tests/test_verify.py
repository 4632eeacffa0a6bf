"""verify: checks against a real Prometheus on loopback (data backfilled with promtool), verdicts recorded in Git."""

from __future__ import annotations

import json

import pytest
from conftest import DIGEST_B, cli, git, ship
from prometheus_server import PrometheusServer

from gitops_mlops.config import load_config
from gitops_mlops.gitrepo import GitRepo
from gitops_mlops.verifications import BRANCH, read

NAN = float("nan")
SERIES = [
    ("model_p99_latency_seconds", {"model": "fraud-detector", "site": "datacenter"}, [0.2, 0.12]),
    ("model_p99_latency_seconds", {"model": "fraud-detector", "site": "cloud"}, [0.1]),
    ("model_p99_latency_seconds", {"model": "fraud-detector", "site": "berlin-01"}, [0.5]),
    ("model_p99_latency_seconds", {"model": "fraud-detector", "site": "singapore-01"}, [NAN]),
    ("model_p99_latency_seconds", {"model": "fraud-detector", "site": "singapore-01", "pod": "b"}, [0.1]),
    ("model_p99_latency_seconds", {"model": "other", "site": "austin-01"}, [0.1]),  # austin-01 has no fraud-detector series
]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    try:
        server = PrometheusServer(tmp_path_factory.mktemp("prometheus")).start(SERIES)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


def with_checks(repo, address: str, condition: str = "max(result) < 0.25", query: str = "", extra: str = "", push: bool = False) -> None:
    """A latency check at every stage, committed (and pushed)."""
    query = query or 'model_p99_latency_seconds{model="{{args.model}}", site=~"{{args.site}}"}'
    check = (
        "    checks:\n"
        "      - name: latency\n"
        f"        provider: {{prometheus: {{address: '{address}'}}}}\n"
        f"        query: '{query}'\n"
        f"        successCondition: '{condition}'\n"
        f"{extra}"
    )
    path = repo.work / "gitops-mlops.yaml"
    text = path.read_text()
    for stage in ("datacenter", "cloud", "edge"):
        text = text.replace(f"  - name: {stage}\n", f"  - name: {stage}\n{check}", 1)
    path.write_text(text)
    repo.git("commit", "-qam", "checks")
    if push:
        repo.git("push", "-q", "origin", "main")


def test_a_passing_site_is_verified_recorded_and_pushed(gitops_repo, prometheus):
    with_checks(gitops_repo, prometheus.address, push=True)
    head = gitops_repo.head()
    result = cli("verify", "fraud-detector", "--site", "datacenter", "--push", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["verdict"] == "successful" and data["requests"] == 1 and data["pushed"] is True
    (site,) = data["sites"]
    assert site["site"] == "datacenter" and site["version"] == "1.0.0" and site["checks"][0]["values"] == [0.12]
    assert gitops_repo.head() == head == gitops_repo.remote_head() and gitops_repo.git("status", "--porcelain") == ""  # main untouched
    assert git(gitops_repo.remote, "rev-parse", f"refs/heads/{BRANCH}").strip() == data["recorded"]
    fresh = gitops_repo.clone("fresh")
    (record,) = read(GitRepo(fresh.work), load_config(fresh.work), "fraud-detector")
    assert (record.site, record.verdict, record.version) == ("datacenter", "successful", "1.0.0") and record.digest.startswith("sha256:")


def test_one_query_per_check_and_stage_and_each_verdict(gitops_repo, prometheus):
    with_checks(gitops_repo, prometheus.address)
    result = cli("verify", "fraud-detector", "--site", "edge", "--site", "cloud", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 3, result.err
    data = json.loads(result.out)
    assert data["requests"] == 2  # cloud, and the three edge sites in one query
    verdicts = {s["site"]: (s["verdict"], sorted(s["checks"][0]["values"], key=str)) for s in data["sites"]}
    assert verdicts == {
        "cloud": ("successful", [0.1]),
        "edge/berlin-01": ("failed", [0.5]),
        "edge/austin-01": ("inconclusive", []),  # no series for it
        "edge/singapore-01": ("failed", [0.1, "NaN"]),  # several series; the max of a NaN is NaN, which compares false
    }
    assert "3 of 4 site(s) did not pass" in result.err


def test_the_table_names_site_check_verdict_values_and_why(gitops_repo, prometheus):
    with_checks(gitops_repo, prometheus.address)
    result = cli("verify", "fraud-detector", "--site", "edge/austin-01", "--site", "edge/berlin-01", "--no-record", cwd=gitops_repo.work)
    assert result.code == 3
    lines = {line.split()[0]: line.split() for line in result.out.splitlines()[1:]}
    assert lines["edge/berlin-01"][4:7] == ["latency", "failed", "0.5"]
    assert lines["edge/austin-01"][4:6] == ["latency", "inconclusive"] and "no series with site=<site>" in result.out
    assert git(gitops_repo.work, "branch", "--list", BRANCH).strip() == ""  # --no-record


def test_monitoring_down_or_a_bad_query_is_exit_7_and_records_nothing(gitops_repo, prometheus):
    from registry_server import free_port

    with_checks(gitops_repo, f"http://127.0.0.1:{free_port()}")
    down = cli("verify", "fraud-detector", "--site", "datacenter", cwd=gitops_repo.work)
    assert down.code == 7 and "unreachable" in down.err and len([x for x in down.err.splitlines() if x.startswith("error")]) == 1
    gitops_repo.git("reset", "-q", "--hard", "HEAD~1")
    with_checks(gitops_repo, prometheus.address, query="model_p99_latency_seconds{site=")
    bad = cli("verify", "fraud-detector", "--site", "datacenter", cwd=gitops_repo.work)
    assert bad.code == 7 and "bad_data" in bad.err and "parse error" in bad.err
    assert git(gitops_repo.work, "branch", "--list", BRANCH).strip() == ""


def test_verify_reads_the_digest_the_site_renders(gitops_repo, prometheus):
    with_checks(
        gitops_repo, prometheus.address, query='model_p99_latency_seconds{site=~"{{args.site}}"} * 0 + {{args.version}}'.replace("{{args.version}}", "1")
    )
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    result = cli("verify", "fraud-detector", "--site", "datacenter", "-o", "json", cwd=gitops_repo.work)
    data = json.loads(result.out)
    assert data["sites"][0]["digest"] == DIGEST_B and data["sites"][0]["version"] == "1.4.0"


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ("        intervall: 1m\n", "unknown key 'intervall'"),
        ("        failureCondition: 'result[0] >'\n", "failureCondition: condition 'result[0] >' does not parse"),
        ("        action: page\n", "action 'page' is not one of none, rollback, retrain"),
        ("        interval: soon\n", "duration 'soon' is not like 30s"),
    ],
)
def test_bad_check_config_is_one_line_exit_2(gitops_repo, prometheus, extra, needle):
    with_checks(gitops_repo, prometheus.address, extra=extra)
    result = cli("verify", "fraud-detector", "--site", "datacenter", cwd=gitops_repo.work)
    assert result.code == 2 and needle in result.err and len(result.err.strip().splitlines()) == 1


def test_status_shows_the_verification_of_what_each_site_runs(gitops_repo, prometheus):
    with_checks(gitops_repo, prometheus.address, push=True)
    assert cli("verify", "fraud-detector", "--site", "datacenter", "--site", "edge/berlin-01", "--push", cwd=gitops_repo.work).code == 3
    fresh = gitops_repo.clone("fresh")
    rows = {r["site"]: r["verification"] for r in json.loads(cli("status", "--model", "fraud-detector", "-o", "json", cwd=fresh.work).out)}
    assert rows["datacenter"]["verdict"] == "successful" and rows["edge/berlin-01"]["verdict"] == "failed" and rows["cloud"] is None
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")  # a new digest: its verification is still to come
    rows = {r["site"]: r["verification"] for r in json.loads(cli("status", "--model", "fraud-detector", "-o", "json", cwd=gitops_repo.work).out)}
    assert rows["datacenter"] is None
    table = cli("status", "--model", "fraud-detector", cwd=gitops_repo.work).out
    assert "verify:failed" in next(line for line in table.splitlines() if "edge/berlin-01" in line)


def test_a_stage_that_requires_verified_builds_waits_for_the_stage_before(gitops_repo, prometheus):
    with_checks(gitops_repo, prometheus.address)
    path = gitops_repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text().replace("  - name: cloud\n", "  - name: cloud\n    requireVerified: true\n", 1))
    gitops_repo.git("commit", "-qam", "cloud requires verified builds")
    gitops_repo.git("push", "-q", "origin", "main")
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", push=True)
    head = gitops_repo.head()
    image = f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}"
    refused = cli("promote", "fraud-detector", image, "--to", "cloud", "--no-verify", cwd=gitops_repo.work)
    assert refused.code == 3 and "stage cloud requires verified builds" in refused.err and "at datacenter" in refused.err
    assert gitops_repo.head() == head
    assert cli("verify", "fraud-detector", "--site", "datacenter", "--push", cwd=gitops_repo.work).code == 0
    passed = cli("promote", "fraud-detector", image, "--to", "cloud", "--no-verify", cwd=gitops_repo.work)
    assert passed.code == 0, passed.err
    forced = cli(
        "promote", "demand-forecast", f"quay.io/example/demand-forecast:1.4.0@{DIGEST_B}", "--to", "cloud", "--force-order", "--no-verify", cwd=gitops_repo.work
    )
    assert forced.code == 0, forced.err
    assert "Forced: true" in gitops_repo.git("log", "-1", "--format=%B")  # the override is recorded
