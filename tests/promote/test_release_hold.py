"""release-hold: the holds of a model at the selected sites lifted in one commit (only those of one
digest when given); a dry run, a bad selector or an ambiguous digest change nothing."""

from __future__ import annotations

import pytest

from gitops_mlops.change.intents import Publish, ReleaseHoldRequest
from gitops_mlops.core.errors import InputError
from gitops_mlops.promote.release_hold import full_digest, release_hold
from testing.paths import DIGEST_A, DIGEST_B
from testing.repos import tree_snapshot

AB = "sha256:" + "a" * 12 + "b" * 52  # shares its first 12 hex digits with DIGEST_A


def hold(model: str, site: str, digest: str) -> str:
    return f"  - model: {model}\n    site: {site}\n    digest: {digest}\n"


@pytest.fixture
def held(gitops_repo):
    path = gitops_repo.work / "gitops-mlops.yaml"
    holds = hold("fraud-detector", "edge/berlin-01", DIGEST_A) + hold("fraud-detector", "edge/berlin-01", DIGEST_B)
    holds += hold("fraud-detector", "cloud", DIGEST_B) + hold("demand-forecast", "edge/berlin-01", DIGEST_B)
    path.write_text(path.read_text().replace("holds: []\n", "holds:\n" + holds))
    gitops_repo.git("commit", "-qam", "holds")
    gitops_repo.git("push", "-q", "origin", "main")
    return gitops_repo


def holds_left(repo) -> str:
    return repo.read("gitops-mlops.yaml").split("holds:", 1)[1]


def test_full_digest_expands_a_prefix_and_refuses_ambiguity():
    assert full_digest(DIGEST_A[:19], {DIGEST_A, DIGEST_B}) == DIGEST_A
    assert full_digest(DIGEST_A, set()) == DIGEST_A  # not held: the caller finds nothing to release
    with pytest.raises(InputError, match=r"matches 2 held digests"):
        full_digest(DIGEST_A[:19], {DIGEST_A, AB})
    with pytest.raises(InputError, match="not a sha256 digest"):
        full_digest("sha256:abc", {DIGEST_A})


def test_the_models_holds_at_the_sites_go_in_one_commit_with_trailers(held):
    head = held.head()
    result = release_hold(held.work, ReleaseHoldRequest(model="fraud-detector", selectors=("edge",)))
    assert sorted(result.changed) == [f"edge/berlin-01@{DIGEST_A}", f"edge/berlin-01@{DIGEST_B}"]
    assert held.git("rev-parse", "HEAD~1").strip() == head and result.commit == held.head()
    assert "Action: release-hold" in held.git("log", "-1", "--format=%B")
    left = holds_left(held)
    assert "cloud" in left and "demand-forecast" in left and left.count("edge/berlin-01") == 1  # demand-forecast's stays


def test_only_the_given_digest_is_released(held):
    result = release_hold(held.work, ReleaseHoldRequest(model="fraud-detector", selectors=("edge/berlin-01",), digest=DIGEST_B[:19]))
    assert result.changed == (f"edge/berlin-01@{DIGEST_B}",)
    assert DIGEST_A in holds_left(held)


def test_nothing_held_there_is_no_commit(held):
    head = held.head()
    result = release_hold(held.work, ReleaseHoldRequest(model="fraud-detector", selectors=("datacenter",)))
    assert result.changed == () and result.commit is None and held.head() == head


def test_a_dry_run_shows_the_diff_and_changes_nothing(held):
    before = tree_snapshot(held.work, held.remote)
    result = release_hold(held.work, ReleaseHoldRequest(model="fraud-detector", selectors=("cloud",)), Publish(dry_run=True))
    assert result.diff.startswith("--- a/gitops-mlops.yaml") and "-  - model: fraud-detector" in result.diff
    assert tree_snapshot(held.work, held.remote) == before


def test_with_push_the_remote_has_the_release(held):
    release_hold(held.work, ReleaseHoldRequest(model="fraud-detector", selectors=("cloud",)), Publish(push=True))
    assert held.remote_head() == held.head()


@pytest.mark.parametrize(
    ("request_", "words"),
    [
        (ReleaseHoldRequest(model="fraud-detector", selectors=("nowhere",)), "nowhere"),
        (ReleaseHoldRequest(model="nobody", selectors=("cloud",)), "nobody"),
        (ReleaseHoldRequest(model="fraud-detector", selectors=("cloud",), digest="sha256:zz"), "not a sha256 digest"),
    ],
)
def test_bad_input_changes_nothing(held, request_, words):
    before = tree_snapshot(held.work, held.remote)
    with pytest.raises(InputError, match=words):
        release_hold(held.work, request_)
    assert tree_snapshot(held.work, held.remote) == before
