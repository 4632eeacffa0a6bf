"""A dry run exits as the real run would: promote, rollback and update, state by state
(add-site, remove-site, release-hold and push: ``test_dry_run_parity_fleet.py``).

Each case builds a fresh repository (the example, its models in a fresh namespace of a real
registry on loopback, pushed to its bare remote), runs the command with ``--dry-run``, checks
that nothing changed (work tree, index, refs of the clone, every byte of the bare remote), then
runs it for real on that same state: the same exit code, and the real run did what it says
(a failure changed nothing either; a success committed and pushed).

The one documented difference: a dry run never talks to the git remote (it judges the local
checkout and pushes nothing), so a push the remote refuses (a hook, a protected branch) is
exit 5 for the real run alone; the dry run of it exits 0.

Real git (a bare remote and a clone), the real kustomize and a real registry on loopback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from testing.cli import cli
from testing.repos import GitOpsRepo, git, make_gitops_repo, point_models_at, registry_namespace, tree_snapshot

D8, D9 = "sha256:" + "8" * 64, "sha256:" + "9" * 64  # digests no registry holds
OFFLINE = "127.0.0.1:9"  # nothing listens there: the registry is down
FD = "fraud-detector"
DC = "overlays/datacenter/kustomization.yaml"

# The platform's InferenceService CRD admits released modelcars only (a semver tag and a digest):
# a release candidate renders, then fails its schema, exit 4 after the edit.
RELEASED_ONLY_CRD = json.dumps(
    {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "inferenceservices.serving.kserve.io"},
        "spec": {
            "group": "serving.kserve.io",
            "names": {"kind": "InferenceService", "plural": "inferenceservices"},
            "scope": "Namespaced",
            "versions": [{"name": "v1beta1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {"$ref": "#/uri"}}}],
        },
    }
)


def _open(**properties) -> dict:
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": properties}


_URI = {"type": "string", "pattern": "^oci://.*:[0-9]+[.][0-9]+[.][0-9]+@sha256:[0-9a-f]{64}$"}
RELEASED_ONLY_CRD = RELEASED_ONLY_CRD.replace('{"$ref": "#/uri"}', json.dumps(_open(spec=_open(predictor=_open(model=_open(storageUri=_URI))))))


@dataclass
class World:
    """One case's repository, whose models live in ``host/ns/`` of the loopback registry."""

    repo: GitOpsRepo
    host: str
    ns: str
    pusher: object

    def image(self, tag: str, model: str = FD) -> str:
        """Push a build of ``model`` tagged ``tag``; its full reference."""
        digest, _ = self.pusher.image(f"{self.ns}/{model}", tag)
        return f"{self.host}/{self.ns}/{model}:{tag}@{digest}"

    def ref(self, tag: str, digest: str = "", model: str = FD) -> str:
        return f"{self.host}/{self.ns}/{model}:{tag}" + (f"@{digest}" if digest else "")

    def promote(self, image: str, to: str = "datacenter", *extra: str) -> None:
        result = cli("promote", FD, image, "--to", to, "--push", *extra, cwd=self.repo.work)
        assert result.code == 0, result.err

    def commit(self, files: dict[str, str], message: str) -> None:
        for relative, text in files.items():
            path = self.repo.work / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        self.repo.git("add", "-A")
        self.repo.git("commit", "-qm", message)
        self.repo.git("push", "-q", "origin", "HEAD:main")

    def edit_config(self, old: str, new: str) -> None:
        text = self.repo.read("gitops-mlops.yaml")
        assert old in text
        self.commit({"gitops-mlops.yaml": text.replace(old, new)}, "config")

    def registry_down(self) -> None:
        """The models' registry moves to a host nobody answers on."""
        files = {}
        for path in [self.repo.work / "gitops-mlops.yaml", *(self.repo.work / "overlays").rglob("kustomization.yaml")]:
            files[str(path.relative_to(self.repo.work))] = path.read_text().replace(self.host, OFFLINE)
        self.commit(files, "the registry moved")
        self.host = OFFLINE

    def released_only(self) -> None:
        self.commit({"crds/inferenceservice.yaml": RELEASED_ONLY_CRD}, "the platform's CRDs")
        self.edit_config("holds: []\n", "holds: []\nschemas:\n  crds: [crds/]\n")

    def no_identity(self) -> None:
        Path(os.environ["GIT_CONFIG_GLOBAL"]).write_text("[init]\n\tdefaultBranch = main\n")

    def dirty_config(self) -> None:
        with (self.repo.work / "gitops-mlops.yaml").open("a") as config:
            config.write("# an edit nobody committed\n")


@pytest.fixture
def world(tmp_path, registry, pusher, monkeypatch) -> World:
    return make_world(tmp_path, registry, pusher, monkeypatch)


def make_world(tmp_path, registry, pusher, monkeypatch) -> World:
    monkeypatch.delenv("GITOPS_MLOPS_NO_VERIFY", raising=False)  # every digest is checked in the registry
    repo = make_gitops_repo(tmp_path)
    point_models_at(repo, registry.host, registry_namespace())
    repo.git("push", "-q", "origin", "main")
    ns = repo.read("gitops-mlops.yaml").split(f"{registry.host}/", 1)[1].split("/", 1)[0]
    return World(repo, registry.host, ns, pusher)


def snapshot(repo: GitOpsRepo) -> dict:
    """What a dry run must leave as it was: the work tree, the index, the clone's refs, the remote."""
    return {
        "files": {k: v for k, v in tree_snapshot(repo.work).items() if "/.git/" not in k},
        "status": repo.git("status", "--porcelain", "--untracked-files=all"),
        "index": repo.git("ls-files", "--stage"),
        "head": (repo.head(), repo.git("symbolic-ref", "-q", "HEAD")),
        "refs": repo.git("for-each-ref", "--format=%(refname) %(objectname)"),
        "remote refs": git(repo.remote, "for-each-ref", "--format=%(refname) %(objectname)"),
        "remote": tree_snapshot(repo.remote),
    }


def committed(world: World, before: dict, action: str, *fragments: str) -> None:
    """The real run made one commit of ``action`` holding ``fragments``, and pushed it."""
    repo = world.repo
    assert repo.head() == repo.remote_head() != before["head"][0]
    assert repo.git("log", "-1", "--format=%(trailers:key=Action,valueonly)").strip() == action
    assert repo.git("status", "--porcelain") == ""
    shown = repo.git("show", "HEAD")
    assert all(fragment in shown for fragment in fragments), shown


def no_commit(world: World, before: dict) -> None:
    assert world.repo.head() == before["head"][0] == world.repo.remote_head()
    assert snapshot(world.repo)["files"] == before["files"]


@dataclass(frozen=True)
class Case:
    name: str
    code: int
    setup: Callable[[World], tuple[str, ...]]  # prepares the state; the command's arguments
    then: Callable[[World, dict], None] | None = None  # what the real run did, when it succeeds
    says: str = ""  # what a failure says: the cause is the one the case sets up
    dry_code: int | None = None  # where a dry run differs by design (the git remote): its exit code

    def __str__(self) -> str:
        return self.name


def run_case(world: World, case: Case, shows: str = f"+++ b/{DC}") -> None:
    """``shows``: what a dry run's diff holds where it differs from the real run by design (the git remote)."""
    args = case.setup(world)
    before = snapshot(world.repo)
    dry = cli(*args, "--dry-run", cwd=world.repo.work)
    assert snapshot(world.repo) == before, "the dry run changed something"
    real = cli(*args, cwd=world.repo.work)
    assert (dry.code, real.code) == (case.code if case.dry_code is None else case.dry_code, case.code), (dry.err, real.err)
    if case.code:
        assert case.says and case.says in real.err, real.err
        assert snapshot(world.repo) == before, "a failed run changed something"
        if case.dry_code is None:
            assert dry.err.splitlines()[-1] == real.err.splitlines()[-1]
        else:  # the dry run went through every step before the push
            assert "nothing written" in dry.err and shows in dry.out
        return
    assert "nothing written" in dry.err and "Traceback" not in dry.err + real.err
    assert case.then is not None, "a success must say what the real run did"
    case.then(world, before)
    was = dict(line.split() for line in before["remote refs"].splitlines())["refs/heads/main"]
    shown, landed = changed_lines(dry.out), changed_lines(git(world.repo.remote, "diff", was, "main"))
    assert shown <= landed and bool(shown) == bool(landed), (dry.out, landed)  # the dry run showed what the real run published


def changed_lines(diff: str) -> set[str]:
    """The lines a diff adds or removes."""
    return {line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))}


def cases_of(cases: list[Case]):
    return pytest.mark.parametrize("case", cases, ids=str)


# ---------------------------------------------------------------- promote


def promote_args(image: str, to: str = "datacenter", *extra: str) -> tuple[str, ...]:
    return ("promote", FD, image, "--to", to, "--push", *extra)


def promoted(world: World, before: dict) -> None:
    committed(world, before, "promote", f"+        value: oci://{world.ref('1.5.0')}")


def remote_moved(world: World) -> tuple[str, ...]:
    other = world.repo.clone("other")
    (other.work / "README.md").write_text("another pipeline was here\n")
    other.git("add", "README.md")
    other.git("commit", "-qm", "another pipeline's commit")
    other.git("push", "-q", "origin", "main")
    return promote_args(world.image("1.5.0"))


def landed_on_the_moved_remote(world: World, before: dict) -> None:
    committed(world, before, "promote", "oci://")
    assert world.repo.read("README.md") == "another pipeline was here\n"


def push_refused(world: World) -> tuple[str, ...]:
    hook = world.repo.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch: pushes refused' >&2\nexit 1\n")
    hook.chmod(0o755)
    return promote_args(world.image("1.5.0"))


def held(world: World) -> tuple[str, ...]:
    old, new = world.image("1.4.0"), world.image("1.5.0")
    world.promote(old)
    world.promote(new)
    assert cli("rollback", FD, "--site", "datacenter", "--push", cwd=world.repo.work).code == 0
    return promote_args(new)


PROMOTE = [
    Case("success", 0, lambda w: promote_args(w.image("1.5.0")), promoted),
    Case("tag-resolved", 0, lambda w: (w.image("1.5.0"), promote_args(w.ref("1.5.0")))[1], promoted),
    Case("digest-unknown", 6, lambda w: promote_args(w.ref("1.5.0", D9)), says="not found in the registry"),
    Case("tag-unknown", 6, lambda w: promote_args(w.ref("7.7.7")), says="tag 7.7.7: not found in the registry"),
    Case("registry-down", 6, lambda w: (w.registry_down(), promote_args(w.ref("1.5.0", D9)))[1], says=f"cannot reach {OFFLINE}"),
    Case(
        "invalid-after-edit",
        4,
        lambda w: (w.released_only(), promote_args(w.image("1.5.0-rc.1")))[1],
        says="validation failed, nothing changed: site datacenter: InferenceService/fraud-detector",
    ),
    Case("stage-gate", 3, lambda w: promote_args(w.image("1.5.0"), "cloud"), says="stage order: cloud needs"),
    Case("downgrade", 3, lambda w: (w.promote(w.image("1.5.0")), promote_args(w.image("1.4.0")))[1], says="downgrade refused"),
    Case("hold", 3, held, says="is on hold at datacenter"),
    Case("malformed-image", 2, lambda w: promote_args(w.ref("1.5.0", "sha256:0123")), says="digest must be sha256:"),
    Case("unknown-site", 2, lambda w: promote_args(w.image("1.5.0"), "nowhere"), says="'nowhere' matches no site"),
    Case("no-identity", 2, lambda w: (w.no_identity(), promote_args(w.image("1.5.0")))[1], says="no git identity"),
    Case("up-to-date", 0, lambda w: (w.promote(w.image("1.5.0")), promote_args(w.ref("1.5.0")))[1], no_commit),
    Case(
        "dirty-config",
        5,
        lambda w: (w.dirty_config(), promote_args(w.image("1.5.0")))[1],
        says="uncommitted changes under the paths to change: gitops-mlops.yaml",
    ),
    Case("remote-moved", 0, remote_moved, landed_on_the_moved_remote),
    Case(
        "push-refused", 5, push_refused, dry_code=0, says="refused by the remote: remote: protected branch"
    ),  # a dry run does not push: see the module's docstring
]


@cases_of(PROMOTE)
def test_promote_dry_run_exits_as_the_real_run(world, case):
    run_case(world, case)


# ---------------------------------------------------------------- rollback


def rollback_args(*extra: str) -> tuple[str, ...]:
    return ("rollback", FD, "--site", "datacenter", "--push", *extra)


def history(world: World, old: str, new: str, *extra: str) -> None:
    """datacenter ran ``old``, then ``new``."""
    world.promote(old, "datacenter", *extra)
    world.promote(new, "datacenter", *extra)


def rolled_back(world: World, before: dict) -> None:
    committed(world, before, "rollback", f"+        value: oci://{world.ref('1.4.0')}", "holds:")
    assert "- model: fraud-detector" in world.repo.read("gitops-mlops.yaml")


def rolled_back_already(world: World) -> tuple[str, ...]:
    history(world, world.image("1.4.0"), world.image("1.5.0"))
    assert cli(*rollback_args(), cwd=world.repo.work).code == 0
    return rollback_args()


def invalid_goal(world: World) -> tuple[str, ...]:
    history(world, world.image("1.4.0-rc.1"), world.image("1.5.0"))
    world.released_only()
    return rollback_args()


def offline_history(world: World) -> tuple[str, ...]:
    world.registry_down()
    history(world, world.ref("1.4.0", D8), world.ref("1.5.0", D9), "--no-verify")
    return rollback_args()


ROLLBACK = [
    Case("success", 0, lambda w: (history(w, w.image("1.4.0"), w.image("1.5.0")), rollback_args())[1], rolled_back),
    Case(
        "digest-gone",
        6,
        lambda w: (history(w, w.ref("1.4.0", D8), w.image("1.5.0"), "--no-verify"), rollback_args())[1],
        says=f"digest {D8}: not found in the registry",
    ),
    Case("registry-down", 6, offline_history, says=f"cannot reach {OFFLINE}"),
    Case("invalid-after-edit", 4, invalid_goal, says="validation failed, nothing changed: site datacenter: InferenceService/fraud-detector"),
    # no policy case: a rollback is held back by neither stage order nor holds (README)
    Case("never-ran", 2, lambda w: (history(w, w.image("1.4.0"), w.image("1.5.0")), rollback_args("--to", "9.9.9"))[1], says="9.9.9 never ran at datacenter"),
    Case("no-identity", 2, lambda w: (history(w, w.image("1.4.0"), w.image("1.5.0")), w.no_identity(), rollback_args())[2], says="no git identity"),
    Case("up-to-date", 0, rolled_back_already, no_commit),
    Case(
        "dirty-config",
        5,
        lambda w: (history(w, w.image("1.4.0"), w.image("1.5.0")), w.dirty_config(), rollback_args())[2],
        says="uncommitted changes under the paths to change: gitops-mlops.yaml",
    ),
]


@cases_of(ROLLBACK)
def test_rollback_dry_run_exits_as_the_real_run(world, case):
    run_case(world, case)


# ---------------------------------------------------------------- update


UPDATE = ("update", "--model", FD, "--push")


def updated(world: World, before: dict) -> None:
    committed(world, before, "promote", f"+        value: oci://{world.ref('1.5.0')}")


def several_updated(world: World, before: dict) -> None:
    log = world.repo.git("log", "--format=%(trailers:key=Model,valueonly)", f"{before['head'][0]}..HEAD").split()
    assert sorted(log) == ["demand-forecast", FD, "openvino-model-server"]
    committed(world, before, "promote")


def several(world: World) -> tuple[str, ...]:
    for model in (FD, "demand-forecast", "openvino-model-server"):
        world.image("1.5.0", model)
    return ("update", "--push")


def prerelease(world: World) -> tuple[str, ...]:
    world.released_only()
    world.edit_config("  - name: datacenter\n", "  - name: datacenter\n    prereleases: true\n")
    world.image("1.5.0-rc.1")
    return UPDATE


UPDATE_CASES = [
    Case("success", 0, lambda w: (w.image("1.5.0"), UPDATE)[1], updated),
    Case("several-models", 0, several, several_updated),
    Case("unknown-repository", 6, lambda w: UPDATE, says="tag list: unknown repository"),
    Case("registry-down", 6, lambda w: (w.registry_down(), UPDATE)[1], says=f"cannot reach {OFFLINE}"),
    Case("invalid-after-edit", 4, prerelease, says="validation failed, nothing changed: site datacenter: InferenceService/fraud-detector"),
    Case(
        "registry-not-allowed",
        3,
        lambda w: (w.image("1.5.0"), w.edit_config(f"    - {w.host}\n", "    - quay.io\n"), UPDATE)[2],
        says="not allowed by policy.allowedRegistries",
    ),
    Case("unknown-model", 2, lambda w: ("update", "--model", "nope", "--push"), says="unknown model 'nope'"),
    Case("no-identity", 2, lambda w: (w.image("1.5.0"), w.no_identity(), UPDATE)[2], says="no git identity"),
    Case("up-to-date", 0, lambda w: (w.image("1.0.0"), UPDATE)[1], no_commit),
    Case("dirty-config", 5, lambda w: (w.image("1.5.0"), w.dirty_config(), UPDATE)[2], says="uncommitted changes under the paths to change: gitops-mlops.yaml"),
]


@cases_of(UPDATE_CASES)
def test_update_dry_run_exits_as_the_real_run(world, case):
    run_case(world, case)
