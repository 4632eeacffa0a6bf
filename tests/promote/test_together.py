"""Several promotions at once (what ``update`` runs): one commit each, validated together, published together."""

from __future__ import annotations

import pytest

from gitops_mlops.change.intents import PromoteRequest, Publish
from gitops_mlops.core.errors import RenderError
from gitops_mlops.promote.together import promote_together
from testing.paths import DIGEST_B, DIGEST_C
from testing.repos import FRAUD_REPO, tree_snapshot

OVMS = "quay.io/example/openvino-model-server"


def requests(digest_b: str = DIGEST_B) -> list[PromoteRequest]:
    return [
        PromoteRequest(model="fraud-detector", image=f"{FRAUD_REPO}:1.4.0@{digest_b}", selectors=("datacenter",)),
        PromoteRequest(model="openvino-model-server", image=f"{OVMS}:2025.1.0@{DIGEST_C}", selectors=("datacenter",)),
    ]


def test_each_promotion_is_its_own_commit_and_all_go_in_one_push(gitops_repo):
    start = gitops_repo.head()
    results = promote_together(gitops_repo.work, requests(), Publish(push=True))
    assert [r.model for r in results] == ["fraud-detector", "openvino-model-server"] and all(r.pushed for r in results)
    assert gitops_repo.git("rev-list", "--count", f"{start}..HEAD").strip() == "2"
    assert gitops_repo.remote_head() == gitops_repo.head() == results[-1].commit


def test_a_dry_run_changes_nothing_and_reports_both(gitops_repo):
    before = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    results = promote_together(gitops_repo.work, requests(), Publish(dry_run=True))
    assert [r.changed for r in results] == [("datacenter",), ("datacenter",)] and all(r.commit is None for r in results)
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == before


def test_a_failure_of_either_leaves_the_branch_where_it_was(gitops_repo):
    base = gitops_repo.work / "base" / "fraud-detector" / "kustomization.yaml"
    if not base.exists():
        pytest.skip("the example keeps fraud-detector's base elsewhere")
    start = gitops_repo.head()
    base.write_text(base.read_text() + "resources:\n  - missing.yaml\n")
    gitops_repo.git("commit", "-qam", "a base that no longer builds")
    broken = gitops_repo.head()
    with pytest.raises(RenderError):
        promote_together(gitops_repo.work, requests())
    assert gitops_repo.head() == broken != start
