"""Promotion published: pushed to the remote (from its tip, again when it moved, refused by a hook) or as a pull-request branch."""

from __future__ import annotations

import sys

import pytest

from gitops_mlops.change.intents import PromoteRequest as Request
from gitops_mlops.change.intents import Publish
from gitops_mlops.core.errors import GitError
from gitops_mlops.pins.kustomization import parse
from testing.paths import DIGEST_B, DIGEST_C
from testing.repos import git
from tests.promote.test_promotion import pin, promote, request


def test_push_lands_on_the_remote(gitops_repo):
    result = promote(gitops_repo.work, request(push=True))
    assert result.pushed and gitops_repo.remote_head() == result.commit


def test_push_starts_from_the_remote_tip(gitops_repo):
    other = gitops_repo.clone("other")
    promote(
        other.work, Request(model="demand-forecast", image=f"quay.io/example/demand-forecast:2.0.0@{DIGEST_C}", selectors=("datacenter",)), Publish(push=True)
    )
    result = promote(gitops_repo.work, request(push=True))  # the local checkout is behind: fetched first
    assert result.pushed and result.attempts == 1
    git(other.work, "pull", "--quiet")
    assert pin(other, "datacenter").digest == DIGEST_B
    dfp = parse(other.read("overlays/datacenter/kustomization.yaml"), "x").pin("demand-forecast")
    assert dfp.digest == DIGEST_C  # nobody's update is lost


def test_push_rejected_mid_flight_is_reapplied_on_the_new_tip(gitops_repo):
    """A competing pipeline pushes between our fetch and our push (a pre-push hook makes the race certain)."""
    other = gitops_repo.clone("other")
    marker = gitops_repo.work.parent / "raced"
    hook = gitops_repo.work / ".git" / "hooks" / "pre-push"
    hook.write_text(
        "#!/bin/sh\n"
        f"[ -e {marker} ] && exit 0\ntouch {marker}\n"
        f"cd {other.work} && unset GIT_DIR GIT_INDEX_FILE GIT_WORK_TREE && "
        f"{sys.executable} -m gitops_mlops promote demand-forecast quay.io/example/demand-forecast:2.0.0@{DIGEST_C} --to datacenter --push >/dev/null 2>&1\n"
    )
    hook.chmod(0o755)
    result = promote(gitops_repo.work, request(push=True))
    assert marker.exists() and result.pushed and result.attempts == 2
    assert git(gitops_repo.remote, "rev-list", "--count", "main").strip() == "3"  # init + theirs + ours: linear
    git(other.work, "pull", "--quiet")
    assert pin(other, "datacenter").digest == DIGEST_B
    assert parse(other.read("overlays/datacenter/kustomization.yaml"), "x").pin("demand-forecast").digest == DIGEST_C


def test_push_from_detached_head(gitops_repo):
    gitops_repo.git("checkout", "--quiet", "--detach", "HEAD")
    result = promote(gitops_repo.work, request(push=True))
    assert result.pushed and gitops_repo.remote_head() == result.commit


def test_push_refused_by_a_server_hook_exits_at_once(gitops_repo):
    hook = gitops_repo.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected: promotions need review' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = gitops_repo.remote_head()
    with pytest.raises(GitError, match="refused by the remote") as caught:
        promote(gitops_repo.work, request(push=True))
    assert "PushRejected" not in type(caught.value).__name__
    assert gitops_repo.remote_head() == before


def test_pull_request_branch_is_pushed_with_a_review_body(gitops_repo):
    result = promote(gitops_repo.work, request(push=True, branch="promote/fraud-detector-1.4.0"))
    assert result.branch == "promote/fraud-detector-1.4.0" and result.pushed
    assert gitops_repo.remote_head("promote/fraud-detector-1.4.0") == result.commit
    assert gitops_repo.remote_head() != result.commit  # main untouched
    assert "datacenter" in result.pr_body and "gitops-mlops diff" in result.pr_body
    assert "1.0.0 → 1.4.0" in result.pr_body
