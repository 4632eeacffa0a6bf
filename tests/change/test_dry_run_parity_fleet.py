"""A dry run exits as the real run would: add-site, remove-site, release-hold and push, state by state.

The same machinery as ``test_dry_run_parity.py`` (promote, rollback, update): a fresh repository
per case, the dry run first (nothing may change: work tree, index, refs, the bare remote), then
the real run on that same state, with the same exit code. A dry run never talks to the git
remote, so a push the remote refuses is exit 5 for the real run alone; ``push --dry-run`` judges
HEAD against the remote's branch as last fetched.

Real git (a bare remote and a clone), the real kustomize and a real registry on loopback.
"""

from __future__ import annotations

import pytest

from testing.cli import cli
from tests.change.test_dry_run_parity import DC, FD, Case, World, cases_of, committed, held, make_world, no_commit, push_refused, run_case

BERLIN = "overlays/edge/berlin-01/kustomization.yaml"


@pytest.fixture
def world(tmp_path, registry, pusher, monkeypatch) -> World:
    return make_world(tmp_path, registry, pusher, monkeypatch)


# ---------------------------------------------------------------- add-site


def add_args(name: str = "edge/paris-01", like: str = "edge/berlin-01") -> tuple[str, ...]:
    return ("add-site", name, "--like", like, "--push")


def site_added(world: World, before: dict) -> None:
    committed(world, before, "add-site", "+++ b/overlays/edge/paris-01/kustomization.yaml", "+# Edge site paris-01")
    assert world.repo.read("overlays/edge/paris-01/kustomization.yaml") == world.repo.read(BERLIN).replace("berlin-01", "paris-01", 1)


def like_broken(world: World) -> tuple[str, ...]:
    """berlin-01 no longer renders (a resource it lists is gone): a copy of it would not either."""
    text = world.repo.read(BERLIN)
    world.commit({BERLIN: text.replace("resources:\n", "resources:\n  - gone.yaml\n", 1)}, "berlin-01 lists a file that is not there")
    return add_args()


ADD_SITE = [
    Case("success", 0, lambda w: add_args(), site_added),
    Case("like-unknown", 2, lambda w: add_args(like="edge/nowhere"), says="--like 'edge/nowhere': no such site"),
    Case("exists", 2, lambda w: add_args(name="edge/austin-01"), says="site 'edge/austin-01' already exists"),
    Case("bad-name", 2, lambda w: add_args(name="edge/pa ris"), says="is not usable"),
    Case("like-does-not-render", 4, like_broken, says="gone.yaml"),
    Case("no-identity", 2, lambda w: (w.no_identity(), add_args())[1], says="no git identity"),
    Case("push-refused", 5, lambda w: (push_refused(w), add_args())[1], dry_code=0, says="refused by the remote: remote: protected branch"),
]


@cases_of(ADD_SITE)
def test_add_site_dry_run_exits_as_the_real_run(world, case):
    run_case(world, case, shows="+++ b/overlays/edge/paris-01/kustomization.yaml")


# ---------------------------------------------------------------- remove-site


def remove_args(name: str = "edge/berlin-01", *extra: str) -> tuple[str, ...]:
    return ("remove-site", name, "--push", *extra)


def site_removed(world: World, before: dict) -> None:
    committed(world, before, "remove-site", f"--- a/{BERLIN}")
    assert not (world.repo.work / "overlays/edge/berlin-01").exists()


def last_removed(world: World, before: dict) -> None:
    committed(world, before, "remove-site", f"--- a/{DC}", "--- a/environments/datacenter.yaml", "Stage datacenter has no site left (--force).")


def hold_removed(world: World, before: dict) -> None:
    last_removed(world, before)
    assert "holds: []" in world.repo.read("gitops-mlops.yaml")


REMOVE_SITE = [
    Case("success", 0, lambda w: remove_args(), site_removed),
    Case("last-of-its-stage", 3, lambda w: remove_args("datacenter"), says="site 'datacenter' is the last site of stage 'datacenter'"),
    Case("last-forced", 0, lambda w: remove_args("datacenter", "--force"), last_removed),
    Case("with-its-hold", 0, lambda w: (held(w), remove_args("datacenter", "--force"))[1], hold_removed),
    Case("unknown", 2, lambda w: remove_args("edge/nowhere"), says="site 'edge/nowhere' does not exist"),
    Case("no-identity", 2, lambda w: (w.no_identity(), remove_args())[1], says="no git identity"),
    Case("dirty-config", 5, lambda w: (w.dirty_config(), remove_args())[1], says="uncommitted changes under the paths to change: gitops-mlops.yaml"),
]


@cases_of(REMOVE_SITE)
def test_remove_site_dry_run_exits_as_the_real_run(world, case):
    run_case(world, case)


# ---------------------------------------------------------------- release-hold


def release_args(*extra: str) -> tuple[str, ...]:
    return ("release-hold", FD, "--site", "datacenter", "--push", *extra)


def released(world: World, before: dict) -> None:
    committed(world, before, "release-hold", "-  - model: fraud-detector", "+holds: []")
    assert "holds: []" in world.repo.read("gitops-mlops.yaml")


RELEASE_HOLD = [
    Case("success", 0, lambda w: (held(w), release_args())[1], released),
    Case("by-digest", 0, lambda w: (held(w), release_args("--digest", w.repo.read("gitops-mlops.yaml").split("digest: ", 1)[1][:19]))[1], released),
    Case("nothing-held", 0, lambda w: release_args(), no_commit),
    Case("bad-digest", 2, lambda w: (held(w), release_args("--digest", "sha256:0123"))[1], says="not a sha256 digest"),
    Case("unknown-model", 2, lambda w: ("release-hold", "nope", "--site", "datacenter", "--push"), says="unknown model 'nope'"),
    Case("no-identity", 2, lambda w: (held(w), w.no_identity(), release_args())[2], says="no git identity"),
    Case("dirty-config", 5, lambda w: (held(w), w.dirty_config(), release_args())[2], says="uncommitted changes under the paths to change: gitops-mlops.yaml"),
]


@cases_of(RELEASE_HOLD)
def test_release_hold_dry_run_exits_as_the_real_run(world, case):
    run_case(world, case)


# ---------------------------------------------------------------- push


def promoted_locally(world: World) -> tuple[str, ...]:
    result = cli("promote", FD, world.image("1.5.0"), "--to", "datacenter", cwd=world.repo.work)
    assert result.code == 0, result.err
    return ("push",)


def pushed(world: World, before: dict) -> None:
    """The local promotion went to the remote as it was: the checkout's HEAD did not move."""
    repo = world.repo
    assert repo.remote_head() == repo.head() == before["head"][0] and repo.git("status", "--porcelain") == ""
    assert repo.git("log", "-1", "--format=%(trailers:key=Action,valueonly)").strip() == "promote"


def by_hand(world: World) -> tuple[str, ...]:
    promoted_locally(world)
    (world.repo.work / "NOTES.md").write_text("a note\n")
    world.repo.git("add", "NOTES.md")
    world.repo.git("commit", "-qm", "a commit made by hand")
    return ("push",)


PUSH = [
    Case("success", 0, promoted_locally, pushed),
    Case("nothing-to-push", 0, lambda w: ("push",), no_commit),
    Case("hand-made-commit", 5, by_hand, says="that origin/main does not and gitops-mlops did not make"),
    Case("unknown-remote", 5, lambda w: (promoted_locally(w), ("push", "--remote", "nope"))[1], says="no git remote named 'nope'"),
    Case("no-identity", 2, lambda w: (promoted_locally(w), w.no_identity(), ("push",))[2], says="no git identity"),
    Case("push-refused", 5, lambda w: (promoted_locally(w), push_refused(w), ("push",))[2], dry_code=0, says="refused by the remote: remote: protected branch"),
]


@cases_of(PUSH)
def test_push_dry_run_exits_as_the_real_run(world, case):
    run_case(world, case)
