"""verify --release: every member of a release verified at the sites, one report; a real Prometheus on
loopback (data backfilled with promtool), real git and kustomize, verdicts recorded in Git."""

from __future__ import annotations

import json

import pytest

from gitops_mlops.config.load import load_config
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.gitstore.verifications import BRANCH, read
from gitops_mlops.loop.releaseverify import verify_release
from gitops_mlops.loop.verify import Run
from testing.cli import cli
from testing.prometheus_server import running
from testing.repos import git, make_gitops_repo, tree_snapshot
from tests.loop.test_verify import with_checks

MEMBERS = ("fraud-detector", "openvino-model-server", "fraud-app")
SERIES = [
    *(("model_p99_latency_seconds", {"model": m, "site": "datacenter"}, [0.1]) for m in MEMBERS),
    ("model_p99_latency_seconds", {"model": "fraud-detector", "site": "cloud"}, [0.1]),
    ("model_p99_latency_seconds", {"model": "openvino-model-server", "site": "cloud"}, [0.1]),
    ("model_p99_latency_seconds", {"model": "fraud-app", "site": "cloud"}, [0.9]),  # the application is slow at cloud
]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    with running(tmp_path_factory.mktemp("prometheus"), SERIES) as server:
        yield server


@pytest.fixture
def release_repo(tmp_path):
    return make_gitops_repo(tmp_path, releases=True)  # the example as init writes it: release fraud of three members


def test_every_member_is_verified_in_one_report_and_recorded(release_repo, prometheus):
    with_checks(release_repo, prometheus.address)
    run = cli("verify", "--release", "fraud", "--site", "datacenter", "-o", "json", cwd=release_repo.work)
    assert run.code == 0, run.err
    report = json.loads(run.out)
    assert report["release"] == "fraud" and report["verdict"] == "successful" and report["requests"] == 3
    assert [(m["model"], m["verdict"], [r["site"] for r in m["results"]]) for m in report["members"]] == [(m, "successful", ["datacenter"]) for m in MEMBERS]
    assert "release fraud verified: fraud-detector, openvino-model-server, fraud-app passed every check (3 queries)" in run.err
    git_repo, config = GitRepo(release_repo.work), load_config(release_repo.work)
    assert [[(v.site, v.verdict) for v in read(git_repo, config, m)] for m in MEMBERS] == [[("datacenter", "successful")]] * 3


def test_a_member_failing_at_a_site_is_exit_3_naming_member_and_site(release_repo, prometheus):
    with_checks(release_repo, prometheus.address)
    run = cli("verify", "--release", "fraud", "--site", "cloud", cwd=release_repo.work)
    assert run.code == 3
    assert run.err.strip().splitlines()[-1] == "error: release fraud: 1 member site did not pass: fraud-app at cloud"
    assert "fraud-app" in run.out and "failed" in run.out  # the table names the member, site and verdict
    report = verify_release(release_repo.work, "fraud", ("cloud",), Run(record=False))
    assert [(m.model, m.verdict) for m in report.members] == [
        ("fraud-detector", "successful"),
        ("openvino-model-server", "successful"),
        ("fraud-app", "failed"),
    ]


def test_monitoring_down_is_exit_7_and_records_nothing(release_repo):
    from testing.registry_server import free_port

    with_checks(release_repo, f"http://127.0.0.1:{free_port()}")
    run = cli("verify", "--release", "fraud", "--site", "datacenter", cwd=release_repo.work)
    assert run.code == 7 and "unreachable" in run.err and len(run.err.strip().splitlines()) == 1
    assert git(release_repo.work, "branch", "--list", BRANCH).strip() == ""


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--release", "fruad"), "unknown release 'fruad'"),
        (("fraud-detector", "--release", "fraud"), "MODEL is for one model's verification, not with --release"),
        (("--release", "fraud", "--act"), "--act is for one model's verification, not with --release"),
        ((), "verify needs MODEL, or --release NAME"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(release_repo, prometheus, args, needle):
    with_checks(release_repo, prometheus.address)
    snapshot = tree_snapshot(release_repo.work, release_repo.remote)
    run = cli("verify", *args, "--site", "datacenter", cwd=release_repo.work)
    assert run.code == 2 and needle in run.err and len(run.err.strip().splitlines()) == 1, run.err
    assert tree_snapshot(release_repo.work, release_repo.remote) == snapshot


def test_a_stage_without_checks_is_exit_2_before_any_query(release_repo):
    snapshot = tree_snapshot(release_repo.work, release_repo.remote)
    run = cli("verify", "--release", "fraud", "--site", "datacenter", cwd=release_repo.work)
    assert run.code == 2 and "model fraud-detector: no checks configured for stage datacenter" in run.err
    assert tree_snapshot(release_repo.work, release_repo.remote) == snapshot
