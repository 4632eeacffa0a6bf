"""update --release: per stage, the newest combination whose members' versions the stage allows and
that meets every requires:, promoted as the release; the real registry on loopback, real git and kustomize."""

from __future__ import annotations

import json

from gitops_mlops.change.intents import Publish
from gitops_mlops.config.load import parse_config
from gitops_mlops.core.semrange import parse_version
from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.promote.releaseupdate import newest_compatible, update_release
from testing.cli import cli
from testing.paths import PROJECT_ROOT
from testing.repos import tree_snapshot
from tests.promote.test_update import configure, push_tags

RELEASE = "releases:\n  - name: fraud\n    members: [fraud-detector, openvino-model-server]\n"
REQUIRES = '    requires:\n      fraud-detector: ">=1.5.0 <1.6.0"\n'


def with_release(repo, host: str) -> str:
    """The release, the runtime requiring fraud-detector 1.5.x, and models in the test registry."""
    return configure(repo, host, extra=RELEASE, runtime=REQUIRES)


def by_stage(updates) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {u.stage: (u.status, tuple(f"{m} {v}" for m, v, _ in u.members)) for u in updates}


def test_the_newest_compatible_combination_goes_to_the_first_stage_in_one_commit(gitops_repo, registry, pusher):
    ns = with_release(gitops_repo, registry.host)
    fd = push_tags(pusher, f"{ns}/fraud-detector", ["1.4.0", "1.5.0", "1.5.2", "1.6.0"])
    rt = push_tags(pusher, f"{ns}/openvino-model-server", ["1.1.0", "2.0.0"])
    head = gitops_repo.head()
    updates = update_release(gitops_repo.work, "fraud")
    combo = ("fraud-detector 1.5.2", "openvino-model-server 2.0.0")  # 1.6.0 is newer, but the runtime requires 1.5.x
    assert by_stage(updates) == {"edge": ("waiting", combo), "cloud": ("waiting", combo), "datacenter": ("updated", combo)}
    assert gitops_repo.git("rev-list", "--count", f"{head}..HEAD").strip() == "1"
    (commit,) = GitRepo(gitops_repo.work).log_trailers("HEAD", limit=1)
    assert [(r.release, r.model, r.images) for r in trailers.read_all(commit)] == [
        ("fraud", "fraud-detector", ((f"{registry.host}/{ns}/fraud-detector:1.5.2@{fd['1.5.2']}", ("datacenter",)),)),
        ("fraud", "openvino-model-server", ((f"{registry.host}/{ns}/openvino-model-server:2.0.0@{rt['2.0.0']}", ("datacenter",)),)),
    ]
    again = update_release(gitops_repo.work, "fraud")
    assert by_stage(again)["datacenter"][0] == "up-to-date" and by_stage(again)["cloud"][0] == "updated"


def test_no_compatible_combination_is_reported_and_changes_nothing(gitops_repo, registry, pusher):
    ns = with_release(gitops_repo, registry.host)
    push_tags(pusher, f"{ns}/fraud-detector", ["1.4.0", "1.6.0"])
    push_tags(pusher, f"{ns}/openvino-model-server", ["2.0.0"])
    snapshot = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    run = cli("update", "--release", "fraud", "-o", "json", cwd=gitops_repo.work)
    assert run.code == 0, run.err
    assert {u["status"] for u in json.loads(run.out)["updates"]} == {"no-match"}
    assert "no combination of them is compatible" in json.loads(run.out)["updates"][0]["note"]
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == snapshot
    dry = cli("update", "--release", "fruad", cwd=gitops_repo.work)
    assert dry.code == 2 and "unknown release 'fruad'" in dry.err and len(dry.err.strip().splitlines()) == 1
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == snapshot


def test_a_dry_run_writes_nothing(gitops_repo, registry, pusher):
    ns = with_release(gitops_repo, registry.host)
    push_tags(pusher, f"{ns}/fraud-detector", ["1.5.0"])
    push_tags(pusher, f"{ns}/openvino-model-server", ["2.0.0"])
    snapshot = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    updates = update_release(gitops_repo.work, "fraud", publish=Publish(dry_run=True))
    assert by_stage(updates)["datacenter"][0] == "would-update" and "+    newTag: 2.0.0" in updates[-1].diff
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == snapshot


def test_combinations_are_tried_newest_first_member_by_member():
    config = parse_config((PROJECT_ROOT / "gitops-mlops.yaml").read_text())  # fraud-app requires fraud-detector ">=1.0.0 <2.0.0"
    versions = lambda *tags: [(parse_version(t), t) for t in tags]  # noqa: E731
    picked = newest_compatible(config, {"fraud-detector": versions("2.1.0", "1.9.0"), "fraud-app": versions("3.0.0", "2.0.0")})
    assert {m: tag for m, (_, tag) in picked.items()} == {"fraud-detector": "1.9.0", "fraud-app": "3.0.0"}
    assert newest_compatible(config, {"fraud-detector": versions("2.1.0"), "fraud-app": versions("3.0.0")}) is None
    assert newest_compatible(config, {"fraud-detector": [], "fraud-app": versions("3.0.0")}) is None


def test_a_label_requirement_skips_to_the_next_combination_and_is_asked_only_of_combinations_the_config_admits():
    config = parse_config((PROJECT_ROOT / "gitops-mlops.yaml").read_text())
    versions = lambda *tags: [(parse_version(t), t) for t in tags]  # noqa: E731
    stated = {("fraud-app", "3.0.0"): (("fraud-detector", "<1.9.0"),), ("fraud-app", "2.0.0"): ()}
    asked = []
    labels = lambda model, tag: asked.append((model, tag)) or stated.get((model, tag), ())  # noqa: E731
    allowed = {"fraud-detector": versions("2.1.0", "1.9.0", "1.8.0"), "fraud-app": versions("3.0.0", "2.0.0")}
    picked = newest_compatible(config, allowed, labels)
    assert {m: tag for m, (_, tag) in picked.items()} == {"fraud-detector": "1.9.0", "fraud-app": "2.0.0"}
    assert ("fraud-detector", "2.1.0") not in asked  # 2.1.0 is ruled out by the config's requires: before any label is read
    assert newest_compatible(config, {"fraud-detector": versions("1.9.0"), "fraud-app": versions("3.0.0")}, labels) is None


def test_update_without_release_leaves_members_to_update_release(gitops_repo, registry, pusher):
    ns = with_release(gitops_repo, registry.host)
    push_tags(pusher, f"{ns}/fraud-detector", ["1.5.0"])
    push_tags(pusher, f"{ns}/openvino-model-server", ["2.0.0"])
    push_tags(pusher, f"{ns}/demand-forecast", ["1.0.0"])  # outside any release: up to date as before
    snapshot = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    run = cli("update", "-o", "json", cwd=gitops_repo.work)
    assert run.code == 0, run.err
    updates = json.loads(run.out)["updates"]
    members = {u["model"]: u for u in updates if u["status"] == "release"}
    assert sorted(members) == ["fraud-detector", "openvino-model-server"]
    assert members["fraud-detector"]["note"] == "member of release fraud: moved with its release by 'update --release fraud'"
    assert {u["status"] for u in updates if u["model"] == "demand-forecast"} == {"up-to-date"}
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == snapshot  # nothing moved alone
    table = cli("update", "--model", "fraud-detector", cwd=gitops_repo.work)
    assert table.code == 0 and "update --release fraud" in table.out and "0 promotions changed, 0 registry requests" in table.err
