"""promote --release: the members of a release in one validated commit; refusals change nothing."""

from __future__ import annotations

import json

import pytest

from gitops_mlops.change.intents import PromoteRequest, Publish
from gitops_mlops.core.errors import InputError, PolicyError
from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.promote.promotion import promote
from gitops_mlops.promote.releases import ReleaseRequest, promote_release
from testing.cli import cli
from testing.paths import DIGEST_A, DIGEST_B, DIGEST_C
from testing.repos import git, tree_snapshot

FD = "quay.io/example/fraud-detector"
OVMS = "quay.io/example/openvino-model-server"
DF = "quay.io/example/demand-forecast"
RELEASE = "releases:\n  - name: fraud\n    members: [fraud-detector, openvino-model-server]\n"


def with_release(repo, extra: str = RELEASE, requires: str = "") -> None:
    """The example repository with a release of fraud-detector and its runtime (and ``requires`` on the runtime)."""
    path = repo.work / "gitops-mlops.yaml"
    text = path.read_text() + extra
    if requires:
        text = text.replace(
            "    repository: quay.io/example/openvino-model-server  # where the pipeline pushes its builds\n",
            "    repository: quay.io/example/openvino-model-server\n" + requires,
        )
    path.write_text(text)
    git(repo.work, "commit", "-qam", "a release")
    git(repo.work, "push", "-q", "origin", "main")


def both(to=("datacenter",), fd="1.5.0", ovms="2.0.0", **kw) -> ReleaseRequest:
    digests = (DIGEST_B, DIGEST_C) if (fd, ovms) == ("1.5.0", "2.0.0") else (DIGEST_A, DIGEST_A)
    return ReleaseRequest("fraud", (("fraud-detector", f"{FD}:{fd}@{digests[0]}"), ("openvino-model-server", f"{OVMS}:{ovms}@{digests[1]}")), tuple(to), **kw)


def images_at(repo, site: str) -> dict[str, str]:
    """What the site renders for each release member (from the real kustomize)."""
    from gitops_mlops.config.load import load_config
    from gitops_mlops.config.sites import discover_sites
    from gitops_mlops.promote.combination import combinations

    config = load_config(repo.work)
    found = combinations(
        repo.work, config, ("fraud-detector", "openvino-model-server", "demand-forecast"), tuple(s for s in discover_sites(repo.work, config) if s.name == site)
    )
    return {model: member.image for model, member in found[site].items()}


def test_a_release_is_promoted_in_one_commit_naming_the_release_and_each_image(gitops_repo):
    with_release(gitops_repo)
    before = gitops_repo.head()
    result = promote_release(gitops_repo.work, both(), Publish(push=True))
    assert result.changed == ("datacenter",) and result.pushed
    assert gitops_repo.git("rev-parse", "HEAD~1").strip() == before and gitops_repo.remote_head() == result.commit
    assert gitops_repo.git("diff", "--name-only", "HEAD~1").split() == ["overlays/datacenter/kustomization.yaml"]
    now = images_at(gitops_repo, "datacenter")
    assert now["fraud-detector"] == f"{FD}:1.5.0@{DIGEST_B}" and now["openvino-model-server"] == f"{OVMS}:2.0.0@{DIGEST_C}"
    assert now["demand-forecast"].startswith(f"{DF}:1.0.0@")  # not a member: untouched
    (commit,) = GitRepo(gitops_repo.work).log_trailers("HEAD", limit=1)
    records = trailers.read_all(commit)
    assert [(r.release, r.model, r.version, r.images) for r in records] == [
        ("fraud", "fraud-detector", "1.5.0", ((f"{FD}:1.5.0@{DIGEST_B}", ("datacenter",)),)),
        ("fraud", "openvino-model-server", "2.0.0", ((f"{OVMS}:2.0.0@{DIGEST_C}", ("datacenter",)),)),
    ]
    history = cli("history", "openvino-model-server", "-o", "json", cwd=gitops_repo.work)
    assert history.code == 0 and json.loads(history.out)[0]["version"] == "2.0.0"  # each member's history reads its block


def test_members_not_named_keep_what_they_run(gitops_repo):
    with_release(gitops_repo)
    request = ReleaseRequest("fraud", (("fraud-detector", f"{FD}:1.5.0@{DIGEST_B}"),), ("datacenter",))
    result = promote_release(gitops_repo.work, request)
    assert [r.model for r in result.members] == ["fraud-detector"]
    assert images_at(gitops_repo, "datacenter")["openvino-model-server"].startswith(f"{OVMS}:1.0.0@")
    assert promote_release(gitops_repo.work, request).commit is None  # again: already up to date, no commit


def refused(repo, run, error, match):
    snapshot = tree_snapshot(repo.work, repo.remote)
    with pytest.raises(error, match=match) as caught:
        run()
    assert "\n" not in str(caught.value)
    assert tree_snapshot(repo.work, repo.remote) == snapshot
    return caught.value


def test_a_member_alone_is_refused_naming_the_release_and_member_only(gitops_repo):
    with_release(gitops_repo)
    alone = PromoteRequest("openvino-model-server", f"{OVMS}:2.0.0@{DIGEST_C}", ("datacenter",))
    refused(gitops_repo, lambda: promote(gitops_repo.work, alone), PolicyError, r"member of release 'fraud' .*--member-only")
    assert promote(gitops_repo.work, PromoteRequest(**{**alone.__dict__, "member_only": True})).changed == ("datacenter",)
    outside = PromoteRequest("demand-forecast", f"{DF}:1.1.0@{DIGEST_C}", ("datacenter",), member_only=True)
    result = promote(gitops_repo.work, outside)  # outside any release: --member-only changes nothing about it
    assert result.changed == ("datacenter",)
    assert trailers.read(GitRepo(gitops_repo.work).log_trailers("HEAD", limit=1)[0]).release == ""


@pytest.mark.parametrize(
    ("members", "match"),
    [
        ((("demand-forecast", f"{DF}:1.1.0@{DIGEST_B}"),), r"model 'demand-forecast' is not a member of release 'fraud'"),
        ((("fraud-detectr", f"{FD}:1.5.0@{DIGEST_B}"),), r"unknown model 'fraud-detectr'"),
        ((("fraud-detector", f"{OVMS}:1.5.0@{DIGEST_B}"),), r"is not model fraud-detector's repository"),
    ],
)
def test_bad_members_change_nothing(gitops_repo, members, match):
    with_release(gitops_repo)
    error = PolicyError if "repository" in match else InputError
    refused(gitops_repo, lambda: promote_release(gitops_repo.work, ReleaseRequest("fraud", members, ("datacenter",))), error, match)


def test_the_gate_reads_combinations(gitops_repo):
    with_release(gitops_repo)
    promote_release(gitops_repo.work, both(), Publish(push=True))  # datacenter runs (1.5.0, 2.0.0)
    one = ReleaseRequest("fraud", (("fraud-detector", f"{FD}:1.5.0@{DIGEST_B}"),), ("cloud",))
    refused(
        gitops_repo,
        lambda: promote_release(gitops_repo.work, one),
        PolicyError,
        r"release fraud: cloud would run openvino-model-server sha256:.* name openvino-model-server=IMAGE too",
    )
    runtime_only = ReleaseRequest("fraud", (("openvino-model-server", f"{OVMS}:2.0.0@{DIGEST_C}"),), ("cloud",))
    refused(
        gitops_repo,
        lambda: promote_release(gitops_repo.work, runtime_only),
        PolicyError,
        r"stage order: cloud needs every site .* fraud-detector|release fraud: cloud would run fraud-detector",
    )
    assert promote_release(gitops_repo.work, both(to=("cloud",))).changed == ("cloud",)  # the same combination: taken
    other = ReleaseRequest("fraud", (("fraud-detector", f"{FD}:1.6.0@{DIGEST_A}"), ("openvino-model-server", f"{OVMS}:2.0.0@{DIGEST_C}")), ("edge",))
    refused(gitops_repo, lambda: promote_release(gitops_repo.work, other), PolicyError, r"stage order")
    assert promote_release(gitops_repo.work, ReleaseRequest(**{**other.__dict__, "force_order": True})).commit


def test_an_incompatible_combination_is_refused_naming_the_site_and_the_pair(gitops_repo):
    with_release(gitops_repo, requires='    requires:\n      fraud-detector: ">=1.5.0 <2.0.0"\n')
    # datacenter runs fraud-detector 1.0.0: the runtime 2.0.0 alone would leave an incompatible pair
    request = ReleaseRequest("fraud", (("openvino-model-server", f"{OVMS}:2.0.0@{DIGEST_C}"),), ("datacenter",))
    refused(
        gitops_repo,
        lambda: promote_release(gitops_repo.work, request),
        PolicyError,
        r"incompatible at datacenter: openvino-model-server 2.0.0 requires fraud-detector '>=1.5.0 <2.0.0', and the site would run fraud-detector 1.0.0",
    )
    assert promote_release(gitops_repo.work, both()).changed == ("datacenter",)  # together: compatible
    back = PromoteRequest("fraud-detector", f"{FD}:1.4.0@{DIGEST_A}", ("datacenter",), member_only=True, allow_downgrade=True)
    refused(gitops_repo, lambda: promote(gitops_repo.work, back), PolicyError, r"incompatible at datacenter: .* fraud-detector 1.4.0$")  # one model too


def test_a_release_waits_for_the_stage_soak_as_a_promotion_does(gitops_repo, monkeypatch):
    """``stages[].soak``: the stage before must have run each member's digest that long; --force-order skips it."""
    with_release(gitops_repo)
    path = gitops_repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text().replace("  - name: cloud\n", "  - name: cloud\n    soak: 1h\n", 1))
    gitops_repo.git("commit", "-qam", "cloud soaks an hour")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-03-01T10:00:00Z")
    promote_release(gitops_repo.work, both())
    monkeypatch.setenv("GITOPS_MLOPS_NOW", "2026-03-01T10:30:00Z")
    refused(gitops_repo, lambda: promote_release(gitops_repo.work, both(to=("cloud",))), PolicyError, r"^stage cloud soak: datacenter has run .* 30m left")
    assert promote_release(gitops_repo.work, both(to=("cloud",), force_order=True)).commit
    monkeypatch.setenv("GITOPS_MLOPS_NOW", "2026-03-01T11:00:00Z")
    gitops_repo.git("reset", "-q", "--hard", "HEAD~1")
    assert promote_release(gitops_repo.work, both(to=("cloud",))).commit


def test_a_release_retried_after_a_competing_push_is_gated_on_the_new_tip(gitops_repo, monkeypatch):
    """The soak had passed at the first attempt; a commit pushed first made the stage soak three hours,
    so on its tip the retry is refused as a first attempt would be, and nothing is pushed."""
    import sys

    with_release(gitops_repo)
    path = gitops_repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text().replace("  - name: cloud\n", "  - name: cloud\n    soak: 1h\n", 1))
    gitops_repo.git("commit", "-qam", "cloud soaks an hour")
    gitops_repo.git("push", "-q", "origin", "main")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-03-01T10:00:00Z")
    promote_release(gitops_repo.work, both(), Publish(push=True))
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    monkeypatch.setenv("GITOPS_MLOPS_NOW", "2026-03-01T11:30:00Z")
    other = gitops_repo.clone("other")
    longer = "import pathlib; p = pathlib.Path('gitops-mlops.yaml'); p.write_text(p.read_text().replace('soak: 1h', 'soak: 3h'))"
    hook = gitops_repo.work / ".git" / "hooks" / "pre-push"
    hook.write_text(
        "#!/bin/sh\n"
        f"[ -e {other.work}/raced ] && exit 0\ntouch {other.work}/raced\n"
        f'cd {other.work} && unset GIT_DIR GIT_INDEX_FILE GIT_WORK_TREE && {sys.executable} -c "{longer}" && '
        "git commit -qam 'cloud soaks three hours' && git push -q origin main >/dev/null 2>&1\n"
    )
    hook.chmod(0o755)
    with pytest.raises(PolicyError, match=r"^stage cloud soak: datacenter has run .* 1h30m left"):
        promote_release(gitops_repo.work, both(to=("cloud",)), Publish(push=True))
    assert (other.work / "raced").exists() and gitops_repo.remote_head() == git(other.work, "rev-parse", "HEAD").strip()  # theirs, not ours on top
