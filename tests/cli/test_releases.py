"""The release options on the command line: promote/rollback --release, --member-only; refusals are one line, the documented exit code, nothing changed."""

from __future__ import annotations

import json

from testing.cli import cli
from testing.paths import DIGEST_A, DIGEST_B, DIGEST_C
from testing.repos import pin_at, tree_snapshot
from tests.promote.test_releases import FD, OVMS, with_release


def test_the_command_line(gitops_repo):
    with_release(gitops_repo)
    args = ("promote", "--release", "fraud", f"fraud-detector={FD}:1.5.0@{DIGEST_B}", f"openvino-model-server={OVMS}:2.0.0@{DIGEST_C}", "--to", "datacenter")
    snapshot = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    dry = cli(*args, "--dry-run", cwd=gitops_repo.work)
    assert dry.code == 0, dry.err
    assert "+        value: oci://quay.io/example/fraud-detector:1.5.0@" in dry.out and "+    newTag: 2.0.0" in dry.out
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == snapshot
    for bad, code, message in [
        ((*args[:3], f"fraud-detector={FD}:1.5.0@{DIGEST_B}", f"fraud-detector={FD}:1.5.0@{DIGEST_B}", *args[5:]), 2, "member 'fraud-detector' is named twice"),
        ((*args[:3], "fraud-detector", *args[5:]), 2, "MEMBER=IMAGE"),
        (("promote", "openvino-model-server", f"{OVMS}:2.0.0@{DIGEST_C}", "--to", "datacenter"), 3, "--member-only"),
        ((*args, "--member-only"), 2, "--member-only is for one model's promotion"),
        (("promote", "--release", "nope", *args[3:]), 2, "unknown release 'nope'"),
    ]:
        run = cli(*bad, cwd=gitops_repo.work)
        assert (run.code, len(run.err.strip().splitlines())) == (code, 1), run.err
        assert message in run.err
        assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == snapshot
    done = cli(*args, "-o", "json", cwd=gitops_repo.work)
    assert done.code == 0, done.err
    data = json.loads(done.out)
    assert (
        data["release"] == "fraud" and data["sites"] == ["datacenter"] and [m["model"] for m in data["members"]] == ["fraud-detector", "openvino-model-server"]
    )
    single = cli("promote", "openvino-model-server", f"{OVMS}:2.0.1@{DIGEST_A}", "--to", "datacenter", "--member-only", cwd=gitops_repo.work)
    assert single.code == 0, single.err


def test_a_release_takes_no_canary_or_wave_and_a_staged_stage_only_with_all_waves(gitops_repo):
    from tests.promote.test_wavegate import with_waves

    with_release(gitops_repo)
    with_waves(gitops_repo)
    member = f"fraud-detector={FD}:1.5.0@{DIGEST_B}"
    snapshot = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    for bad, code, message in [
        (("--to", "datacenter", "--canary", "10"), 2, "--canary is for one model's promotion, not with --release"),
        (("--to", "edge", "--wave", "next"), 2, "--wave is for one model's promotion, not with --release"),
        (("--to", "edge", "--force-order"), 3, "stage edge takes a digest in 3 waves"),
    ]:
        run = cli("promote", "--release", "fraud", member, *bad, cwd=gitops_repo.work)
        assert (run.code, len(run.err.strip().splitlines())) == (code, 1), run.err
        assert message in run.err
        assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == snapshot
    whole = cli("promote", "--release", "fraud", member, "--to", "edge", "--force-order", "--all-waves", cwd=gitops_repo.work)
    assert whole.code == 0, whole.err
    assert {pin_at(gitops_repo, site).digest for site in ("edge/austin-01", "edge/berlin-01", "edge/singapore-01")} == {DIGEST_B}
