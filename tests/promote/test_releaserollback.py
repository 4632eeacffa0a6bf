"""rollback --release: every member back in one commit, the combination held; refusals change nothing."""

from __future__ import annotations

import json

from gitops_mlops.change.intents import PromoteRequest, Publish
from gitops_mlops.core.errors import InputError, PolicyError
from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.promote.promotion import promote
from gitops_mlops.promote.releaserollback import ReleaseRollbackRequest, rollback_release
from gitops_mlops.promote.releases import ReleaseRequest, promote_release
from testing.cli import cli
from testing.paths import DIGEST_A, DIGEST_B, DIGEST_C
from tests.promote.test_releases import DF, FD, OVMS, both, images_at, refused, with_release


def test_a_release_rollback_returns_every_member_in_one_commit_and_holds_the_combination(gitops_repo):
    with_release(gitops_repo)
    first = ReleaseRequest("fraud", (("fraud-detector", f"{FD}:1.4.0@{DIGEST_A}"), ("openvino-model-server", f"{OVMS}:1.9.0@{DIGEST_A}")), ("datacenter",))
    promote_release(gitops_repo.work, first)
    promote_release(gitops_repo.work, ReleaseRequest(**{**first.__dict__, "selectors": ("cloud",)}))
    before = images_at(gitops_repo, "cloud")
    assert before["openvino-model-server"] == f"{OVMS}:1.9.0@{DIGEST_A}"
    promote_release(gitops_repo.work, both())
    promote_release(gitops_repo.work, both(to=("cloud",)), Publish(push=True))
    from gitops_mlops.config.load import load_config

    head = gitops_repo.head()
    result = rollback_release(gitops_repo.work, ReleaseRollbackRequest("fraud", ("cloud",), reason="p99 latency"), Publish(push=True))
    assert result.changed == ("cloud",) and result.pushed
    assert gitops_repo.git("rev-parse", "HEAD~1").strip() == head  # one commit
    assert images_at(gitops_repo, "cloud") == before
    assert images_at(gitops_repo, "datacenter")["openvino-model-server"] == f"{OVMS}:2.0.0@{DIGEST_C}"  # not selected: untouched
    holds = {(h.model, h.site, h.digest) for h in load_config(gitops_repo.work).holds}
    assert holds == {("fraud-detector", "cloud", DIGEST_B), ("openvino-model-server", "cloud", DIGEST_C)}
    records = trailers.read_all(GitRepo(gitops_repo.work).log_trailers("HEAD", limit=1)[0])
    assert [(r.action, r.release, r.model, r.reason) for r in records] == [
        ("rollback", "fraud", "fraud-detector", "p99 latency"),
        ("rollback", "fraud", "openvino-model-server", "p99 latency"),
    ]
    again = cli("rollback", "--release", "fraud", "--site", "cloud", "-o", "json", cwd=gitops_repo.work)
    assert again.code == 0 and json.loads(again.out)["commit"] is None and gitops_repo.head() == result.commit  # already undone: nothing to do
    held = refused(gitops_repo, lambda: promote_release(gitops_repo.work, both(to=("cloud",))), PolicyError, r"hold")
    assert "cloud" in str(held)


def test_a_release_rollback_refusals_change_nothing(gitops_repo):
    with_release(gitops_repo)

    refused(gitops_repo, lambda: rollback_release(gitops_repo.work, ReleaseRollbackRequest("fraud", ("cloud",))), InputError, r"never promoted together")
    promote_release(gitops_repo.work, both(fd="1.4.0", ovms="1.9.0"))
    promote_release(gitops_repo.work, both())
    alone = PromoteRequest("openvino-model-server", f"{OVMS}:2.0.1@sha256:{'d' * 64}", ("datacenter",), member_only=True)
    promote(gitops_repo.work, alone)  # the runtime moved alone after the release
    refused(
        gitops_repo,
        lambda: rollback_release(gitops_repo.work, ReleaseRollbackRequest("fraud", ("datacenter",))),
        PolicyError,
        r"openvino-model-server changed at datacenter after",
    )
    run = cli("rollback", "--release", "fraud", "--site", "datacenter", "--to", "1.0.0", cwd=gitops_repo.work)
    assert run.code == 2 and "--to is for one model's rollback" in run.err


def test_a_commit_naming_the_release_moves_only_its_members_back(gitops_repo):
    """A commit message anyone can write says ``Release: fraud`` over a model outside the release: that model
    is not rolled back as the release's, and the release's own promotion is found behind it."""
    with_release(gitops_repo)
    promote_release(gitops_repo.work, both(fd="1.4.0", ovms="1.9.0"))
    before = images_at(gitops_repo, "datacenter")
    promote_release(gitops_repo.work, both())
    promote(gitops_repo.work, PromoteRequest("demand-forecast", f"{DF}:2.0.0@{DIGEST_C}", ("datacenter",)))
    forged = f"by hand\n\nRelease: fraud\nModel: demand-forecast\nModel-Version: 2.0.0\nImage: {DF}:2.0.0@{DIGEST_C}\nSites: datacenter\nAction: promote\n"
    gitops_repo.git("commit", "-q", "--allow-empty", "-m", forged)
    result = rollback_release(gitops_repo.work, ReleaseRollbackRequest("fraud", ("datacenter",)))
    assert [m.model for m in result.members] == ["fraud-detector", "openvino-model-server"]
    after = images_at(gitops_repo, "datacenter")
    assert after["demand-forecast"] == f"{DF}:2.0.0@{DIGEST_C}"
    assert after["fraud-detector"] == before["fraud-detector"] and after["openvino-model-server"] == before["openvino-model-server"]
