"""Hostile git: the git state, remote and rendering, git in the middle of something, branch names that name the tool's own branches, what the tool reads back from Git, the config's remote and targetBranch.

Each case exits with its documented code and one line, and changes nothing (testing/hostile.py).
"""

from __future__ import annotations

import pytest

from testing.hostile import (
    DC,
    GENERATOR_MISSING_FILE,
    IMAGE,
    REPO,
    Case,
    append,
    detached_unpushed,
    only_git_on_path,
    promote,
    promoted,
    refusing_remote,
    remote_hook,
    replace_in,
    run,
    stale_index_lock,
    write_bytes,
)
from testing.hostile_git import (
    bisecting,
    cherry_picking,
    hand_written_verification,
    hydrated,
    merging,
    promoted_then_forged,
    rebase_stopped,
    reverting,
    upload_pack_remote,
)
from testing.paths import DIGEST_B, DIGEST_C

pytestmark = pytest.mark.slow  # hostile inputs through the real command line: outside the inner loop

CASES = [
    # git state, remote, rendering
    Case("dirty-tree", 5, "uncommitted changes", setup=append(DC, "# local edit\n"), commit=False),
    Case("stale-index-lock", 5, "index.lock exists", setup=stale_index_lock, commit=False),
    Case("detached-head-unpushed", 5, "HEAD has commit", setup=detached_unpushed, commit=False),
    Case("target-branch-malformed", 2, "not a valid branch name", promote(IMAGE, "datacenter", "fraud-detector", "--target-branch", "main..x")),
    Case("review-branch-malformed", 2, "not a valid branch name", promote(IMAGE, "datacenter", "fraud-detector", "--branch", "-x")),
    Case("remote-unknown", 5, "no git remote named", promote(IMAGE, "datacenter", "fraud-detector", "--remote", "nowhere")),
    # git in the middle of something: every writing command refuses (testing/hostile_git.py)
    Case("rebase-in-progress", 5, "a rebase is in progress", setup=rebase_stopped, commit=False),
    Case("merge-in-progress", 5, "a merge is in progress", setup=merging, commit=False),
    Case(
        "cherry-pick-in-progress-rollback",
        5,
        "a cherry-pick is in progress",
        ("rollback", "fraud-detector", "--site", "datacenter"),
        setup=lambda r: (promoted(r), cherry_picking(r))[0],
        commit=False,
    ),
    Case("revert-in-progress-add-site", 5, "a revert is in progress", ("add-site", "edge/lab-01", "--like", "edge/berlin-01"), setup=reverting, commit=False),
    Case("bisect-in-progress-remove-site", 5, "a bisect is in progress", ("remove-site", "edge/berlin-01"), setup=bisecting, commit=False),
    Case(
        "rebase-in-progress-release-hold",
        5,
        "a rebase is in progress",
        ("release-hold", "fraud-detector", "--site", "datacenter"),
        setup=rebase_stopped,
        commit=False,
    ),
    Case("merge-in-progress-update", 5, "a merge is in progress", ("update", "--model", "fraud-detector"), setup=merging, commit=False),
    Case(
        "merge-in-progress-dry-run",
        5,
        "a merge is in progress",
        promote(IMAGE, "datacenter", "fraud-detector", "--dry-run"),
        setup=merging,
        commit=False,
        extra=(),
    ),
    # branch names that name a ref or one of the tool's own branches
    Case("review-branch-full-ref", 2, "names a ref", promote(IMAGE, "datacenter", "fraud-detector", "--branch", "refs/heads/main")),
    Case("review-branch-head", 2, "names a ref", promote(IMAGE, "datacenter", "fraud-detector", "--branch", "HEAD")),
    Case("review-branch-fetch-head", 2, "names a ref", promote(IMAGE, "datacenter", "fraud-detector", "--branch", "FETCH_HEAD")),
    Case("target-branch-orig-head", 2, "names a ref", promote(IMAGE, "datacenter", "fraud-detector", "--target-branch", "ORIG_HEAD")),
    Case("target-branch-full-ref", 2, "names a ref", promote(IMAGE, "datacenter", "fraud-detector", "--target-branch", "refs/heads/main")),
    Case("review-branch-verifications", 2, "the tool's own branches", promote(IMAGE, "datacenter", "fraud-detector", "--branch", "gitops-mlops/verifications")),
    Case("review-branch-hydrated", 2, "the tool's own branches", promote(IMAGE, "datacenter", "fraud-detector", "--branch", "hydrated"), setup=hydrated),
    Case("target-branch-hydrated", 2, "the tool's own branches", ("push", "--target-branch", "hydrated"), setup=hydrated, extra=()),
    # what the tool reads back from Git: a hydrated branch forged by hand seeds no render
    Case(
        "hydrated-branch-forged",
        3,
        "stage order",
        promote(f"{REPO}:1.5.0@{DIGEST_C}", "cloud"),
        setup=promoted_then_forged(f"1.4.0@{DIGEST_B}", f"1.5.0@{DIGEST_C}"),
        commit=False,
    ),
    Case(
        "verification-written-by-hand",
        3,
        "requires verified builds",
        promote(IMAGE, "cloud"),
        setup=lambda r: hand_written_verification(r, DIGEST_B),
        commit=False,
    ),
    # the config's remote and targetBranch, checked as --remote and --target-branch are
    Case("config-remote-upload-pack", 2, "is not a remote name", setup=upload_pack_remote),
    Case("config-remote-url", 2, "is not a remote name", setup=replace_in("gitops-mlops.yaml", "remote: origin", "remote: https://evil.example/x.git")),
    Case("config-target-branch-dotdot", 2, "not a valid branch name", setup=replace_in("gitops-mlops.yaml", "targetBranch: main", "targetBranch: a..b")),
    Case("config-target-branch-full-ref", 2, "names a ref", setup=replace_in("gitops-mlops.yaml", "targetBranch: main", "targetBranch: refs/heads/main")),
    Case(
        "config-target-branch-verifications",
        2,
        "the tool's own branches",
        setup=replace_in("gitops-mlops.yaml", "targetBranch: main", "targetBranch: gitops-mlops/verifications"),
    ),
    Case("diff-base-malformed", 2, "unknown git ref", ("diff", "--base", "--output=/tmp/x"), extra=()),
    Case("review-branch-dotdot", 2, "not a valid branch name", promote(IMAGE, "datacenter", "fraud-detector", "--branch", "a..b")),
    Case(
        "rollback-to-malformed",
        2,
        "not a version or a sha256 digest",
        ("rollback", "fraud-detector", "--site", "datacenter", "--to", "sha256:zz"),
        setup=promoted,
        commit=False,
    ),
    Case(
        "push-refused-by-hook",
        5,
        "refused by the remote",
        setup=remote_hook("pre-receive", "#!/bin/sh\necho 'protected: promotions need review' >&2\nexit 1\n"),
        commit=False,
    ),
    Case("remote-refuses-authentication", 5, "Authentication failed", setup=refusing_remote, commit=False),
    Case("push-attempts-not-a-number", 2, "GITOPS_MLOPS_PUSH_ATTEMPTS", setup=lambda r: {"GITOPS_MLOPS_PUSH_ATTEMPTS": "twelve"}, commit=False),
    Case("kustomize-timeout-zero", 2, "GITOPS_MLOPS_KUSTOMIZE_TIMEOUT", setup=lambda r: {"GITOPS_MLOPS_KUSTOMIZE_TIMEOUT": "0"}, commit=False),
    Case("kustomize-missing", 4, "kustomize not found", setup=only_git_on_path, commit=False),
    Case("build-fails-after-edit", 4, "validation failed, nothing changed", setup=append(DC, GENERATOR_MISSING_FILE)),
    Case(
        "remote-base-refused", 4, "remote resource", setup=replace_in(DC, "resources:\n", "resources:\n  - https://github.com/example/models//base?ref=main\n")
    ),
    Case("helm-chart", 4, "validation failed", setup=append(DC, "helmCharts:\n  - name: x\n    repo: https://charts.example.com\n    version: 1.0.0\n")),
    Case(
        "exec-plugin",
        4,
        "plugin",
        setup=lambda r: (
            append(DC, "generators:\n  - gen.yaml\n")(r),
            write_bytes(
                "overlays/datacenter/gen.yaml",
                b"apiVersion: example.com/v1\nkind: Gen\nmetadata:\n  name: g\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: ./evil.sh\n",
            )(r),
        )[0],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_refused_with_one_line_and_changes_nothing(case, fresh, http_refusing):
    run(case, fresh, http_refusing)
