"""The commit message's trailers: what the writer writes, the reader reads back, for every action."""

from __future__ import annotations

import pytest

from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo
from testing.paths import DIGEST_B, DIGEST_C
from testing.repos import git

CASES = [
    trailers.Record(
        "promote",
        "fraud-detector",
        "1.4.0",
        ((f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}", ("edge/a", "edge/b")),),
        subject="promote fraud-detector 1.4.0 to 2 sites",
    ),
    trailers.Record(
        "promote",
        "fraud-detector",
        "1.4.0",
        ((f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}", ("prod",)),),
        forced=True,
        subject="promote fraud-detector 1.4.0 to prod",
        body="ticket OPS-1",
    ),
    trailers.Record(
        "promote",
        "fraud-detector",
        "1.5.0",
        ((f"quay.io/example/fraud-detector:1.5.0@{DIGEST_B}", ("dev",)),),
        subject="promote fraud-detector 1.5.0 to dev",
        registered_model="Fraud Detector",
        model_version_id="42",
    ),
    trailers.Record(
        "rollback",
        "demand-forecast",
        "1.0.0, 1.1.0",
        ((f"quay.io/example/demand-forecast:1.0.0@{DIGEST_B}", ("edge/a",)), (f"quay.io/example/demand-forecast:1.1.0@{DIGEST_C}", ("edge/b", "edge/c"))),
        subject="rollback demand-forecast 1.0.0, 1.1.0 to 3 sites",
    ),
]


@pytest.mark.parametrize("record", CASES, ids=["promote", "forced-with-body", "from-the-model-registry", "rollback-two-digests"])
def test_what_is_written_is_read_back_from_a_real_commit(tmp_path, record):
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "f").write_text("x\n")
    git(tmp_path, "add", "f")
    repo = GitRepo(tmp_path)
    repo.run("commit", "-q", "-F", "-", stdin=trailers.write(record))
    (commit,) = repo.log_trailers("HEAD", limit=1)
    read = trailers.read(commit)
    assert read == trailers.Record(
        record.action,
        record.model,
        record.version,
        record.images,
        record.forced,
        record.subject,
        registered_model=record.registered_model,
        model_version_id=record.model_version_id,
    )
    assert read.sites == tuple(site for _, sites in record.images for site in sites)


def test_a_commit_without_the_trailers_is_no_record(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "f").write_text("x\n")
    git(tmp_path, "add", "f")
    git(tmp_path, "commit", "-q", "-m", "by hand\n\nModel: fraud-detector\nAction: promote\n")  # no Image/Sites
    (commit,) = GitRepo(tmp_path).log_trailers("HEAD", limit=1)
    assert trailers.read(commit) is None


def test_a_hold_release_is_written_but_is_not_a_promotion_record():
    text = trailers.write(trailers.Record("release-hold", "fraud-detector", "", (("", ("edge/a",)),), subject="release 1 hold(s) on fraud-detector"))
    assert text.endswith("Model: fraud-detector\nSites: edge/a\nAction: release-hold\n")


def test_a_release_commit_is_read_back_as_one_record_per_member(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "f").write_text("x\n")
    git(tmp_path, "add", "f")
    sites = tuple(f"edge/site-{n:03d}" for n in range(12))  # folded onto continuation lines
    members = [
        trailers.Record("promote", "fraud-detector", "1.5.0", ((f"quay.io/example/fraud-detector:1.5.0@{DIGEST_B}", sites),), forced=True, subject="s"),
        trailers.Record("promote", "openvino-model-server", "2025.1.0", ((f"quay.io/example/ovms:2025.1.0@{DIGEST_C}", sites[:1]),), subject="s"),
    ]
    text = trailers.write_release("fraud", members)
    assert text.startswith("s\n\nRelease: fraud\nModel: fraud-detector\nModel-Version: 1.5.0\n")
    repo = GitRepo(tmp_path)
    repo.run("commit", "-q", "-F", "-", stdin=text)
    (commit,) = repo.log_trailers("HEAD", limit=1)
    expected = [trailers.Record(m.action, m.model, m.version, m.images, True, "s", release="fraud") for m in members]
    assert trailers.read_all(commit) == expected
    assert trailers.read(commit) == expected[0]  # a reader of one model's records sees the first member
    assert trailers.read(commit, "openvino-model-server") == expected[1]
    assert trailers.read(commit, "churn") is None
