"""One promotion's change on its own: planned, written, verified and committed with its trailers, or put back."""

from __future__ import annotations

from gitops_mlops.change.intents import PromoteRequest
from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.promote.apply import apply_promotion
from gitops_mlops.promote.plan import resolve_intent
from testing.paths import DIGEST_B
from testing.repos import FRAUD_REPO, tree_snapshot

IMAGE = f"{FRAUD_REPO}:1.4.0@{DIGEST_B}"


def request() -> PromoteRequest:
    return PromoteRequest(model="fraud-detector", image=IMAGE, selectors=("datacenter",))


def test_a_promotion_commits_its_pin_with_trailers(gitops_repo):
    work, git = gitops_repo.work, GitRepo(gitops_repo.work)
    result = apply_promotion(work, git, resolve_intent(work, request()), request())
    assert result.changed == ("datacenter",) and result.commit == gitops_repo.head()
    record = trailers.read(git.log_trailers(result.commit, limit=1)[0])
    assert (record.action, record.model, record.version) == ("promote", "fraud-detector", "1.4.0")
    assert DIGEST_B in gitops_repo.read("overlays/datacenter/kustomization.yaml")


def test_a_dry_run_verifies_and_puts_every_file_back(gitops_repo):
    work, git = gitops_repo.work, GitRepo(gitops_repo.work)
    before = tree_snapshot(work, gitops_repo.remote)
    result = apply_promotion(work, git, resolve_intent(work, request()), request(), dry_run=True)
    assert result.changed == ("datacenter",) and result.commit is None and DIGEST_B in result.diff
    after = tree_snapshot(work, gitops_repo.remote)
    after.pop("work/.git/gitops-mlops-journal.json", None)  # the caller's transaction closes its journal
    assert after == before


def test_nothing_to_change_is_a_result_without_a_commit(gitops_repo):
    work, git = gitops_repo.work, GitRepo(gitops_repo.work)
    apply_promotion(work, git, resolve_intent(work, request()), request())
    head = gitops_repo.head()
    again = apply_promotion(work, git, resolve_intent(work, request()), request())
    assert again.changed == () and again.commit is None and gitops_repo.head() == head
