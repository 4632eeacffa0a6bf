"""What a failed check does, given a verification report: roll the failed sites back once (only where
the newest record is the promotion of the failing digest), and send one signed retraining trigger per
(check, digest), never twice. The report is built here; verify produces it in test_verify.py."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from gitops_mlops.core.errors import InputError, MonitoringError
from gitops_mlops.loop.act import act
from gitops_mlops.loop.verify import CheckResult, SiteResult, VerifyReport
from testing.loopback_http import LoopbackServer, QuietHandler
from testing.paths import DIGEST_A, DIGEST_B
from testing.repos import pin_at, ship, tree_snapshot

SECRET = "hook-secret-31"


def failed(action: str, check: str = "latency") -> CheckResult:
    return CheckResult(check, "failed", (0.5,), "max(result) < 0.25", ("failed",), action=action)


def report(action: str, *sites: str, digest: str = DIGEST_B) -> VerifyReport:
    return VerifyReport("fraud-detector", tuple(SiteResult(s, s.split("/")[0], digest, "1.4.0", "ml", (failed(action),)) for s in sites), requests=1)


class Listener:
    """A retraining trigger's listener on loopback: answers ``status``; records (headers, body)."""

    def __init__(self, status: int = 202) -> None:
        self.status, self.seen = status, []
        listener = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                listener.seen.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(listener.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = LoopbackServer(Handler)
        self.url = f"http://{self.server.host}/hooks/retrain"


@pytest.fixture
def listener():
    made = Listener()
    yield made
    made.server.close()


def with_retrain(repo, url: str) -> None:
    path = repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text() + f"retrain:\n  url: {url}\n  secretEnv: RETRAIN_SECRET\n")
    repo.git("commit", "-qam", "retrain")


def test_a_failed_rollback_check_rolls_the_site_back_and_holds_the_digest(gitops_repo):
    ship(gitops_repo, "1.3.0", DIGEST_A, "datacenter", "cloud", "edge")
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud", "edge")
    acted = act(gitops_repo.work, report("rollback", "edge/berlin-01", "edge/austin-01"))
    assert sorted(acted.rolled_back) == ["edge/austin-01", "edge/berlin-01"] and acted.commit == gitops_repo.head()
    assert pin_at(gitops_repo, "edge/berlin-01").digest == DIGEST_A and pin_at(gitops_repo, "edge/singapore-01").digest == DIGEST_B
    message = gitops_repo.git("log", "-1", "--format=%B")
    assert "check latency failed at edge/berlin-01 (and 1 more sites)" in message
    assert DIGEST_B in gitops_repo.read("gitops-mlops.yaml").split("holds:", 1)[1]


def test_a_site_is_rolled_back_at_most_once_per_failing_digest(gitops_repo):
    ship(gitops_repo, "1.3.0", DIGEST_A, "datacenter", "cloud", "edge")
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud", "edge")
    act(gitops_repo.work, report("rollback", "edge/berlin-01"))
    head = gitops_repo.head()
    again = act(gitops_repo.work, report("rollback", "edge/berlin-01"))
    assert again.rolled_back == () and again.commit is None and gitops_repo.head() == head
    assert again.not_rolled_back == (f"edge/berlin-01: {DIGEST_B[:19]} is not what its latest promotion brought; not rolled back",)


def test_a_passing_or_non_acting_report_changes_nothing(gitops_repo):
    before = tree_snapshot(gitops_repo.work)
    acted = act(gitops_repo.work, report("none", "datacenter"))
    assert (acted.rolled_back, acted.commit, acted.triggered) == ((), None, ())
    assert tree_snapshot(gitops_repo.work) == before


def test_a_retrain_check_sends_one_signed_trigger_and_never_the_same_twice(gitops_repo, listener, monkeypatch):
    monkeypatch.setenv("RETRAIN_SECRET", SECRET)
    with_retrain(gitops_repo, listener.url)
    acted = act(gitops_repo.work, report("retrain", "edge/berlin-01", "edge/austin-01"))
    assert len(acted.triggered) == 1 and acted.rolled_back == ()
    ((headers, body),) = listener.seen
    payload = json.loads(body)
    assert (payload["model"], payload["digest"], payload["sites"], payload["check"]) == (
        "fraud-detector",
        DIGEST_B,
        ["edge/austin-01", "edge/berlin-01"],
        "latency",
    )
    assert headers["x-hub-signature-256"] == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["idempotency-key"] == payload["idempotencyKey"] == acted.triggered[0]
    again = act(gitops_repo.work, report("retrain", "edge/berlin-01", "edge/austin-01"))
    assert again.triggered == () and again.already_triggered == acted.triggered and len(listener.seen) == 1


def test_a_retrain_check_without_a_url_is_bad_input(gitops_repo):
    with pytest.raises(InputError, match="needs retrain.url in the config"):
        act(gitops_repo.work, report("retrain", "datacenter"))


def test_a_refused_trigger_is_a_monitoring_error_not_retried(gitops_repo, monkeypatch):
    monkeypatch.setenv("RETRAIN_SECRET", SECRET)
    refusing = Listener(status=403)
    try:
        with_retrain(gitops_repo, refusing.url)
        with pytest.raises(MonitoringError, match=r"retrain trigger http://127.0.0.1:\d+/hooks/retrain: HTTP 403 \(after 1 attempt\(s\)\)"):
            act(gitops_repo.work, report("retrain", "datacenter"), sleep=lambda s: None)
        assert len(refusing.seen) == 1
    finally:
        refusing.server.close()


def test_a_trigger_failing_on_the_server_is_retried_then_fails(gitops_repo, monkeypatch):
    monkeypatch.setenv("RETRAIN_SECRET", SECRET)
    failing = Listener(status=503)
    slept: list[float] = []
    try:
        with_retrain(gitops_repo, failing.url)
        with pytest.raises(MonitoringError, match=r"HTTP 503 \(after 3 attempt\(s\)\)"):
            act(gitops_repo.work, report("retrain", "datacenter"), sleep=slept.append)
        assert len(failing.seen) == 3 and slept == [0.5, 1.0]
    finally:
        failing.server.close()


def test_the_secret_variable_must_be_set(gitops_repo, listener, monkeypatch):
    monkeypatch.delenv("RETRAIN_SECRET", raising=False)
    with_retrain(gitops_repo, listener.url)
    with pytest.raises(InputError, match="secretEnv names RETRAIN_SECRET, which is not set"):
        act(gitops_repo.work, report("retrain", "datacenter"))
    assert listener.seen == []
