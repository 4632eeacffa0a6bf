"""verify and watch as a user runs them: exit 0 when every check passed, 3 when one failed, 7 when
monitoring failed, 2 for bad usage; JSON on stdout. Monitoring is a loopback server speaking the
Prometheus API (the real Prometheus is queried in tests/loop/test_verify.py)."""

from __future__ import annotations

import json

import pytest

from testing.cli import cli
from tests.loop.test_prometheus import Api
from tests.loop.test_verify import with_checks


def vector(value: str) -> dict:
    return {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, value]}]}}


@pytest.fixture
def monitoring():
    made: list[Api] = []

    def make(*args, **kw) -> Api:
        made.append(Api(*args, **kw))
        return made[-1]

    yield make
    for api in made:
        api.server.close()


def test_a_passing_check_is_exit_0_and_reported_as_json(gitops_repo, monitoring):
    with_checks(gitops_repo, monitoring(body=vector("0.1")).address)
    result = cli("verify", "fraud-detector", "--site", "datacenter", "--no-record", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert (data["verdict"], data["sites"], data["recorded"]) == ("successful", ["datacenter"], None)
    assert "passed every check" in result.err


def test_a_failing_check_is_exit_3_naming_the_check_and_site(gitops_repo, monitoring):
    with_checks(gitops_repo, monitoring(body=vector("0.9")).address)
    result = cli("verify", "fraud-detector", "--site", "datacenter", "--no-record", cwd=gitops_repo.work)
    assert result.code == 3
    assert "SITE" in result.out and "latency failed at datacenter" in result.err


def test_monitoring_answering_an_error_is_exit_7(gitops_repo, monitoring):
    with_checks(gitops_repo, monitoring(503, b"down").address)
    result = cli("verify", "fraud-detector", "--site", "datacenter", "--no-record", cwd=gitops_repo.work)
    assert result.code == 7 and "HTTP 503" in result.err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("verify", "fraud-detector"), "name the sites with --site"),
        (("verify", "fraud-detector", "--site", "cloud", "--act", "--no-record"), "not with --no-record"),
    ],
)
def test_bad_usage_is_exit_2(gitops_repo, args, words):
    result = cli(*args, cwd=gitops_repo.work)
    assert result.code == 2 and words in result.err


def test_watch_runs_the_given_number_of_times_and_goes_on_after_an_error(gitops_repo, monitoring):
    api = monitoring(503, b"down")
    with_checks(gitops_repo, api.address)
    result = cli("watch", "fraud-detector", "--site", "datacenter", "--times", "2", "--interval", "1s", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    assert len(api.seen) == 2 and result.err.count("error:") == 2
