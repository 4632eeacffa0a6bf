"""What a promotion reports: its change per site in the shared JSON vocabulary, and a pull request's text."""

from __future__ import annotations

from gitops_mlops.promote.result import Result, change_json, pull_request_text, together_text
from testing.paths import DIGEST_B
from testing.repos import FRAUD_REPO, ship


def promoted(repo) -> Result:
    from gitops_mlops.change.intents import PromoteRequest
    from gitops_mlops.promote.promotion import promote

    request = PromoteRequest(model="fraud-detector", image=f"{FRAUD_REPO}:1.4.0@{DIGEST_B}", selectors=("cloud",))
    return promote(repo.work, request)


def test_a_change_says_what_the_site_rendered_before_and_now(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    (change,) = promoted(gitops_repo).changes
    shown = change_json(change)
    assert shown["site"] == "cloud" and shown["stage"] == "cloud"
    assert shown["to"] == {"version": "1.4.0", "digest": DIGEST_B, "image": f"{FRAUD_REPO}:1.4.0@{DIGEST_B}"}
    assert shown["from"]["digest"] != DIGEST_B


def test_a_pull_requests_title_and_body_name_the_model_the_sites_and_the_review_command(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    result = promoted(gitops_repo)
    title, body = pull_request_text(result, "main", "review/fd")
    assert title == "Promote fraud-detector 1.4.0 to cloud"
    assert "| cloud | " in body and "gitops-mlops diff --base main --head review/fd --markdown" in body
    assert together_text([result], "main", "review/fd") == (title, body)  # one promotion: the same text
