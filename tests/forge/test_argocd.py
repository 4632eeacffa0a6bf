"""Argo CD is told at once: after a push, a signed GitHub push event reaches its webhook (a loopback
listener that checks the event as Argo CD reads it: a contract test, since Argo CD does not run here)."""

from __future__ import annotations

import hashlib
import hmac
import json

from testing.cli import cli
from testing.loopback_http import LoopbackServer, QuietHandler
from testing.paths import DIGEST_B

SECRET = "argo-webhook-secret"


class ArgoWebhook:
    def __init__(self) -> None:
        self.events: list[tuple[dict, dict, bool]] = []
        events = self.events

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                signed = hmac.compare_digest(
                    self.headers.get("X-Hub-Signature-256", ""), "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                )
                signed &= hmac.compare_digest(self.headers.get("X-Hub-Signature", ""), "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest())
                events.append(({k.lower(): v for k, v in self.headers.items()}, json.loads(body), signed))
                self.send_response(200)
                self.end_headers()

        self.loopback = LoopbackServer(Handler)
        self.url = f"http://{self.loopback.host}/api/webhook"

    def close(self) -> None:
        self.loopback.close()


def configure(repo, url: str) -> None:
    path = repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text() + f"argocd:\n  webhook: {url}\n  secretEnv: ARGOCD_WEBHOOK_SECRET\n")
    repo.git("commit", "-qam", "tell Argo CD")
    repo.git("push", "-q", "origin", "main")


def test_a_push_sends_argo_cd_a_signed_github_push_event(gitops_repo):
    hook = ArgoWebhook()
    try:
        configure(gitops_repo, hook.url)
        image = f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}"
        result = cli(
            "promote", "fraud-detector", image, "--to", "datacenter", "--push", "--no-verify", cwd=gitops_repo.work, env={"ARGOCD_WEBHOOK_SECRET": SECRET}
        )
        assert result.code == 0, result.err
        ((headers, event, signed),) = hook.events
        assert signed and headers["x-github-event"] == "push"  # HTTP header names are case-insensitive
        assert event["ref"] == "refs/heads/main" and event["after"] == gitops_repo.remote_head()
        assert event["repository"]["html_url"] == "https://github.com/example/gitops-mlops"
        assert [c["modified"] for c in event["commits"]] == [["overlays/datacenter/kustomization.yaml"]]
        local = cli("promote", "fraud-detector", image, "--to", "cloud", "--no-verify", cwd=gitops_repo.work, env={"ARGOCD_WEBHOOK_SECRET": SECRET})
        assert local.code == 0 and len(hook.events) == 1  # nothing pushed: nothing to tell
    finally:
        hook.close()


def test_a_webhook_that_fails_is_a_warning_after_a_push_that_landed(gitops_repo):
    hook = ArgoWebhook()
    url = hook.url
    hook.close()  # nobody listens
    configure(gitops_repo, url)
    result = cli(
        "promote",
        "fraud-detector",
        f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}",
        "--to",
        "datacenter",
        "--push",
        "--no-verify",
        cwd=gitops_repo.work,
        env={"ARGOCD_WEBHOOK_SECRET": SECRET},
    )
    assert result.code == 0 and f"warning: pushed, but Argo CD's webhook {url} was not told (unreachable" in result.err
    assert "Action: promote" in gitops_repo.git("log", "-1", "--format=%B", "origin/main")
