"""URLs are redacted in every message: no user or password, no value of a query parameter named like a
credential; a configured URL that carries a user or password is refused when the config is read."""

from __future__ import annotations

import pytest

from gitops_mlops.core.httpclient import redact, redact_url
from testing.cli import cli
from testing.repos import tree_snapshot
from tests.loop.test_verify import acting_config


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://admin:PASS@argocd.example.com/api/webhook", "http://***@argocd.example.com/api/webhook"),
        ("https://tok@host:8443/x", "https://***@host:8443/x"),
        ("https://h/x?token=T&page=2&access_token=A", "https://h/x?token=***&page=2&access_token=***"),
        ("https://h/x?api_key=K&sig=S&X-Amz-Signature=Z&password=P&secret=Q", "https://h/x?api_key=***&sig=***&X-Amz-Signature=***&password=***&secret=***"),
        ("https://h/x?state=open&limit=50", "https://h/x?state=open&limit=50"),
        ("https://h/x#frag-with-token", "https://h/x#***"),
    ],
)
def test_a_url_is_shown_without_its_credentials(url, shown):
    assert redact_url(url) == shown


def test_every_url_in_a_message_is_redacted():
    text = "redirected to another origin (http://u:p@h:1/x?key=abc); first http://h/?q=1"
    assert redact(text) == "redirected to another origin (http://***@h:1/x?key=***); first http://h/?q=1"


WEBHOOK = "argocd:\n  webhook: {url}\n"
RETRAIN = "retrain:\n  url: {url}\n"
FORGE = "forge:\n  type: gitea\n  url: {url}\n  repository: ml/gitops\n"


@pytest.mark.parametrize(("block", "key"), [(WEBHOOK, "argocd.webhook"), (RETRAIN, "retrain.url"), (FORGE, "forge.url")])
def test_a_configured_url_with_a_user_and_password_is_refused_at_config_load(gitops_repo, block, key):
    path = gitops_repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text() + block.format(url="http://admin:PASS-in-config@127.0.0.1:9/hook"))
    gitops_repo.git("commit", "-qam", "credentials in a URL")
    before = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    result = cli("status", cwd=gitops_repo.work)
    assert result.code == 2 and "PASS-in-config" not in result.out + result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and key in lines[0] and "'http://***@127.0.0.1:9/hook' carries a user or password" in lines[0], result.err
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == before


def test_a_prometheus_address_with_a_user_and_password_is_refused_at_config_load(gitops_repo):
    acting_config(gitops_repo, "http://reader:PROM-PASS@127.0.0.1:9")
    result = cli("verify", "fraud-detector", "--site", "datacenter", cwd=gitops_repo.work)
    assert result.code == 2 and "PROM-PASS" not in result.err and "provider.prometheus.address 'http://***@127.0.0.1:9' carries a user" in result.err


def test_an_unreachable_webhook_with_a_token_in_its_query_is_shown_redacted(gitops_repo):
    path = gitops_repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text() + WEBHOOK.format(url="http://127.0.0.1:9/api/webhook?token=query-secret-1"))
    gitops_repo.git("commit", "-qam", "webhook")
    gitops_repo.git("push", "-q", "origin", "main")
    image = "quay.io/example/fraud-detector:1.4.0@sha256:" + "b" * 64
    result = cli("promote", "fraud-detector", image, "--to", "datacenter", "--push", "--no-verify", cwd=gitops_repo.work)
    assert result.code == 0 and "query-secret-1" not in result.err
    assert "webhook http://127.0.0.1:9/api/webhook?token=*** was not told (unreachable" in result.err


def test_an_unreachable_retrain_trigger_with_a_key_in_its_query_is_shown_without_it(gitops_repo, tmp_path):
    from tests.core.test_httpclient_redirects import FAILING, Peer

    prometheus = Peer(lambda *_: (200, {}, FAILING))
    try:
        acting_config(gitops_repo, prometheus.url, edge_action="none", url="http://127.0.0.1:9/hooks/retrain?key=trigger-key-2")
        result = cli("verify", "fraud-detector", "--site", "datacenter", "--act", cwd=gitops_repo.work, env={"RETRAIN_SECRET": "s3cret"})
    finally:
        prometheus.close()
    assert result.code == 7 and "retrain trigger http://127.0.0.1:9/hooks/retrain: unreachable" in result.err
    assert "trigger-key-2" not in result.out + result.err
