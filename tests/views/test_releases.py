"""history --release and status --release: a release's combinations, and what each site runs of it."""

from __future__ import annotations

import json

import pytest

from gitops_mlops.change.intents import PromoteRequest
from gitops_mlops.promote.promotion import promote
from gitops_mlops.promote.releaserollback import ReleaseRollbackRequest, rollback_release
from gitops_mlops.promote.releases import promote_release
from gitops_mlops.views.releases import release_history, release_status
from testing.cli import cli
from tests.promote.test_releases import OVMS, both, with_release


def test_history_lists_the_combinations_and_status_says_which_sites_run_one_promoted_together(gitops_repo):
    with_release(gitops_repo)
    promote_release(gitops_repo.work, both(fd="1.4.0", ovms="1.9.0"))
    promote_release(gitops_repo.work, both(fd="1.4.0", ovms="1.9.0", to=("cloud",)))
    promote_release(gitops_repo.work, both())
    promote_release(gitops_repo.work, both(to=("cloud",)))
    rollback_release(gitops_repo.work, ReleaseRollbackRequest("fraud", ("cloud",)))
    promote(gitops_repo.work, PromoteRequest("openvino-model-server", f"{OVMS}:2.0.1@sha256:{'d' * 64}", ("datacenter",), member_only=True))
    entries = release_history(gitops_repo.work, "fraud")
    assert [(e.action, [(r.model, r.version) for r in e.members], e.sites) for e in entries] == [
        ("rollback", [("fraud-detector", "1.4.0"), ("openvino-model-server", "1.9.0")], ("cloud",)),
        ("promote", [("fraud-detector", "1.5.0"), ("openvino-model-server", "2.0.0")], ("cloud",)),
        ("promote", [("fraud-detector", "1.5.0"), ("openvino-model-server", "2.0.0")], ("datacenter",)),
        ("promote", [("fraud-detector", "1.4.0"), ("openvino-model-server", "1.9.0")], ("cloud",)),
        ("promote", [("fraud-detector", "1.4.0"), ("openvino-model-server", "1.9.0")], ("datacenter",)),
    ]
    assert len(release_history(gitops_repo.work, "fraud", limit=2)) == 2
    rows = {r.site: r for r in release_status(gitops_repo.work, "fraud")}
    assert [m.version for m in rows["datacenter"].members] == ["1.5.0", "2.0.1"] and not rows["datacenter"].together  # the runtime moved alone
    assert [m.version for m in rows["cloud"].members] == ["1.4.0", "1.9.0"] and rows["cloud"].together and rows["cloud"].commit == entries[0].commit
    assert not rows["edge/berlin-01"].together  # never promoted as a release (the versions init wrote)
    table = cli("status", "--release", "fraud", "--site", "cloud", cwd=gitops_repo.work)
    assert table.code == 0 and table.out.split("\n")[0].split() == ["SITE", "STAGE", "FRAUD-DETECTOR", "OPENVINO-MODEL-SERVER", "TOGETHER"]
    assert table.out.split("\n")[1].split() == ["cloud", "cloud", "1.4.0", "1.9.0", "yes"]
    listed = cli("history", "--release", "fraud", "-o", "json", cwd=gitops_repo.work)
    assert listed.code == 0 and [e["action"] for e in json.loads(listed.out)] == ["rollback", "promote", "promote", "promote", "promote"]
    for args, message in [
        (("history", "--release", "nope"), "unknown release 'nope'"),
        (("history", "fraud-detector", "--release", "fraud"), "MODEL is for one model's history"),
        (("status", "--release", "fraud", "--summary"), "--summary is not for status --release"),
    ]:
        run = cli(*args, cwd=gitops_repo.work)
        assert run.code == 2 and message in run.err and len(run.err.strip().splitlines()) == 1


def test_on_the_example_a_release_moves_together_and_diff_groups_it(tmp_path):
    from gitops_mlops.change.intents import Publish
    from gitops_mlops.core.errors import PolicyError
    from gitops_mlops.promote.releaseresult import ReleaseRequest
    from gitops_mlops.views.diff import diff_refs
    from gitops_mlops.views.diffreport import model_lines, to_json
    from testing.paths import DIGEST_A, DIGEST_B, DIGEST_C
    from testing.repos import make_gitops_repo, tree_snapshot

    repo = make_gitops_repo(tmp_path, releases=True)  # the example as init writes it: fraud-app requires fraud-detector 1.x
    app = f"quay.io/example/fraud-app:1.1.0@{DIGEST_C}"
    snapshot = tree_snapshot(repo.work, repo.remote)
    too_new = ReleaseRequest(
        "fraud", (("fraud-detector", f"quay.io/example/fraud-detector:2.0.0@{DIGEST_A}"), ("fraud-app", app)), ("datacenter",), verify=False
    )
    with pytest.raises(PolicyError, match=r"^incompatible at datacenter: fraud-app 1.1.0 requires fraud-detector '>=1.0.0 <2.0.0', .* fraud-detector 2.0.0$"):
        promote_release(repo.work, too_new)
    assert tree_snapshot(repo.work, repo.remote) == snapshot
    base = repo.head()
    request = ReleaseRequest(
        "fraud", (("fraud-detector", f"quay.io/example/fraud-detector:1.5.0@{DIGEST_B}"), ("fraud-app", app)), ("datacenter",), verify=False
    )
    assert promote_release(repo.work, request, Publish(push=True)).changed == ("datacenter",)
    promote(repo.work, PromoteRequest("demand-forecast", f"quay.io/example/demand-forecast:1.1.0@{DIGEST_A}", ("datacenter",), verify=False))
    report = diff_refs(repo.work, base, "HEAD")
    lines = model_lines(report)
    assert [line.split(" ")[0:2] for line in lines] == [["fraud:", "fraud-detector"], ["fraud:", "fraud-app"], ["demand-forecast", "1.0.0"]]
    models = {m["model"]: m.get("release") for site in to_json(report) for m in site["models"]}
    assert models == {"fraud-detector": "fraud", "fraud-app": "fraud", "demand-forecast": None}
    rows = release_status(repo.work, "fraud", ("datacenter",))
    assert [(m.model, m.version) for m in rows[0].members] == [("fraud-detector", "1.5.0"), ("openvino-model-server", "1.0.0"), ("fraud-app", "1.1.0")]
    assert rows[0].together
