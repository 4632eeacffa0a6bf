"""A catalogue of hostile input: each case exits with its documented code and one line, and changes nothing.

Every case runs the real command line (``promote ... --push`` unless it says
otherwise) on a fresh clone and its bare remote, after the case's set-up has
been committed. Afterwards the clone and the remote must be byte-identical to
before: every file of the work tree, the index lock, refs, config and the
remote's objects. Only the clone's object store may gain unreachable objects
(an undone local commit), which nothing shows and ``git gc`` removes.

A NUL cannot travel in a command-line argument, so NUL cases come through the
config file (a site's name or path), which YAML can spell as ``"\0"``.
"""

from __future__ import annotations

import os
import shutil
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gitops_mlops.core.errors import InputError
from gitops_mlops.pins.kustomization import parse
from testing.cli import cli
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
from testing.repos import GitOpsRepo, git, make_gitops_repo, tree_snapshot

pytestmark = pytest.mark.slow  # dozens of hostile inputs through the real command line: outside the inner loop

REPO = "quay.io/example/fraud-detector"
IMAGE = f"{REPO}:1.4.0@{DIGEST_B}"
DC = "overlays/datacenter/kustomization.yaml"


@dataclass(frozen=True)
class Case:
    id: str
    code: int
    needle: str
    args: tuple[str, ...] = ()  # default: promote IMAGE to datacenter, pushed
    setup: Callable[[GitOpsRepo], dict | None] | None = None  # returns extra environment, if any
    commit: bool = True  # commit what set-up changed
    extra: tuple[str, ...] = field(default=("--push",))


def promote(image: str = IMAGE, to: str = "datacenter", model: str = "fraud-detector", *more: str) -> tuple[str, ...]:
    return ("promote", model, image, "--to", to, *more)


def append(path: str, text: str):
    def setup(repo: GitOpsRepo):
        with open(repo.work / path, "a", encoding="utf-8", newline="") as handle:
            handle.write(text)

    return setup


def replace_in(path: str, old: str, new: str):
    def setup(repo: GitOpsRepo):
        target = repo.work / path
        text = target.read_bytes().decode()
        assert old in text
        target.write_bytes(text.replace(old, new, 1).encode())

    return setup


def write_bytes(path: str, data: bytes):
    def setup(repo: GitOpsRepo):
        (repo.work / path).parent.mkdir(parents=True, exist_ok=True)
        (repo.work / path).write_bytes(data)

    return setup


def config_sites(path: str, name: str = "datacenter"):
    return append("gitops-mlops.yaml", f"sites:\n  - name: {name}\n    path: {path}\n    stage: datacenter\n")


def outside(repo: GitOpsRepo) -> Path:
    """A directory beside the clone, outside the repository, with a valid-looking kustomization."""
    out = repo.work.parent / "outside"
    out.mkdir(exist_ok=True)
    (out / "kustomization.yaml").write_text("resources: []\n")
    return out


def link(path: str, target: Callable[[GitOpsRepo], str] | str, replace: bool = False):
    def setup(repo: GitOpsRepo):
        where = repo.work / path
        if replace:
            where.unlink()
        os.symlink(target(repo) if callable(target) else target, where)

    return setup


def remote_hook(name: str, script: str):
    def setup(repo: GitOpsRepo):
        hook = repo.remote / "hooks" / name
        hook.write_text(script)
        hook.chmod(0o755)

    return setup


def only_git_on_path(repo: GitOpsRepo) -> dict:
    bin_dir = repo.work.parent / "bin-without-kustomize"
    bin_dir.mkdir()
    os.symlink(shutil.which("git"), bin_dir / "git")
    return {"PATH": str(bin_dir)}


def stale_index_lock(repo: GitOpsRepo):
    (repo.work / ".git" / "index.lock").write_bytes(b"")


def detached_unpushed(repo: GitOpsRepo):
    repo.git("checkout", "--quiet", "--detach")
    repo.git("commit", "--quiet", "--allow-empty", "-m", "local only")


def promoted(repo: GitOpsRepo):
    assert cli(*promote(), "--push", cwd=repo.work).code == 0


def refusing_remote(repo: GitOpsRepo, http_refusing: str) -> None:
    repo.git("remote", "set-url", "origin", http_refusing.replace("http://", "http://pipeline:wrong-password@") + "/gitops.git")


def checks_on_a_namespace(namespace: str):
    check = (
        "    checks:\n      - name: latency\n        provider: {prometheus: {address: 'http://127.0.0.1:9'}}\n"
        "        query: 'up{namespace=\"{{args.namespace}}\"}'\n        successCondition: 'min(result) >= 1'\n"
    )

    def setup(repo: GitOpsRepo):
        replace_in("gitops-mlops.yaml", "  - name: datacenter\n", "  - name: datacenter\n" + check)(repo)
        replace_in(DC, "namespace: ml-serving", f"namespace: '{namespace}'")(repo)

    return setup


def secret_outside(repo: GitOpsRepo) -> str:
    """A file beside the clone, outside the repository, whose content must never be rendered."""
    secret = repo.work.parent / "secret.env"
    secret.write_text("TOKEN=do-not-render-me\n")
    return str(secret)


def generator_reads(name: str, path: str = "overlays/datacenter"):
    """The site's kustomization gains a configMapGenerator reading ``name`` from its folder."""
    return append(f"{path}/kustomization.yaml", f"configMapGenerator:\n  - name: read\n    envs:\n      - {name}\n")


def fifo(path: str):
    def setup(repo: GitOpsRepo):
        os.mkfifo(repo.work / path)

    return setup


def both(*setups):
    def setup(repo: GitOpsRepo):
        for one in setups:
            one(repo)

    return setup


def silent_kustomize(repo: GitOpsRepo) -> dict:
    """A kustomize that succeeds and prints nothing."""
    script = repo.work.parent / "silent-kustomize"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    return {"GITOPS_MLOPS_KUSTOMIZE": str(script)}


def symlinked_kustomization(repo: GitOpsRepo):
    (repo.work / "overlays/datacenter/site.yaml").write_bytes((repo.work / DC).read_bytes())
    link(DC, "site.yaml", replace=True)(repo)


def check_with(line: str):
    """The datacenter stage gains a check with ``line`` among its fields (on line 24 of the config)."""
    check = (
        "  - name: datacenter\n    checks:\n      - name: latency\n        provider: {prometheus: {address: 'http://127.0.0.1:9'}}\n"
        f"        query: up\n        successCondition: result[0] > 0\n        {line}\n"
    )
    return replace_in("gitops-mlops.yaml", "  - name: datacenter\n", check)


RENDER_DC = ("render", "datacenter")
BOMB = "lol0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(f"lol{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]\n" for n in range(1, 10))
GENERATOR_MISSING_FILE = "configMapGenerator:\n  - name: settings\n    files:\n      - missing-file.properties\n"

CASES = [
    # site selectors and names
    Case("site-dotdot", 2, "site selector", promote(to="../etc")),
    Case("site-nested-dotdot", 2, "site selector", promote(to="edge/../../etc")),
    Case("site-absolute", 2, "site selector", promote(to="/etc/passwd")),
    Case("site-url-encoded-dots", 2, "site selector", promote(to="%2e%2e/%2e%2e/etc")),
    Case("site-newline", 2, "site selector", promote(to="datacenter\nedge")),
    Case("site-leading-dash", 2, "site selector", promote(to="-datacenter")),
    Case("site-unknown", 2, "matches no site", promote(to="mars")),
    Case("model-dotdot", 2, "unknown model", promote(model="../fraud-detector")),
    Case("model-absolute", 2, "unknown model", promote(model="/etc/passwd")),
    Case("model-newline", 2, "unknown model", promote(model="fraud-detector\nx")),
    Case("model-leading-dash", 2, "unknown model", ("promote", "--to", "datacenter", "--push", "--", "-fraud-detector", IMAGE), extra=()),
    Case("config-site-path-dotdot", 2, "leaves the repository", setup=config_sites("../../outside")),
    Case("config-site-path-absolute", 2, "must be a path relative", setup=config_sites("/etc")),
    Case("config-site-path-url-encoded", 2, "is not a directory", setup=config_sites("overlays/%2e%2e/%2e%2e/etc")),
    Case("config-site-path-nul", 2, "NUL", setup=config_sites('"overlays/data\\0center"')),
    Case("config-site-name-nul", 2, "is not usable", setup=config_sites("overlays/datacenter", name='"data\\0center"')),
    Case("config-site-name-dotdot", 2, "is not usable", setup=config_sites("overlays/datacenter", name="../datacenter")),
    # symlinks out of the repository, symlink loops
    Case("overlay-symlink-out", 2, "leaves the repository", setup=link("overlays/edge/evil", lambda r: str(outside(r)))),
    Case("kustomization-symlink-out", 2, "leaves the repository", setup=link(DC, lambda r: str(outside(r) / "kustomization.yaml"), replace=True)),
    Case("kustomization-symlink-loop", 2, "cannot be resolved", setup=link(DC, "kustomization.yaml", replace=True)),
    Case("config-site-path-symlink-loop", 2, "overlays/loop", setup=lambda r: (link("overlays/loop", "loop")(r), config_sites("overlays/loop")(r))[0]),
    Case(
        "resource-symlink-loop",
        4,
        "loop",
        setup=lambda r: (link("overlays/datacenter/loop", "loop")(r), replace_in(DC, "resources:\n", "resources:\n  - loop\n")(r))[0],
    ),
    Case("resource-leaves-repo", 4, "leaves the repository", setup=replace_in(DC, "resources:\n", "resources:\n  - ../../../outside\n")),
    # what a build reads: contained by construction, by type, bounded
    Case(
        "generator-file-symlink-out",
        4,
        "leave.env: a symlink that leaves the repository",
        setup=both(link("overlays/datacenter/leave.env", secret_outside), generator_reads("leave.env")),
    ),
    Case(
        "generator-file-symlink-out-render",
        4,
        "leave.env: a symlink that leaves the repository",
        RENDER_DC,
        setup=both(link("overlays/datacenter/leave.env", secret_outside), generator_reads("leave.env")),
        extra=(),
    ),
    Case(
        "generator-file-symlink-out-unused",
        4,
        "leave.env: a symlink that leaves the repository",
        RENDER_DC,
        setup=link("overlays/datacenter/leave.env", secret_outside),
        extra=(),
    ),
    Case(
        "generator-file-symlink-beside-site",
        4,
        "is not in or below",  # kustomize's own load restrictor, as in the repository: the copy it renders keeps the link
        RENDER_DC,
        setup=both(write_bytes("base/beside.env", b"A=1\n"), link("overlays/datacenter/up.env", "../../base/beside.env"), generator_reads("up.env")),
        extra=(),
    ),
    Case("base-symlink-dev-zero", 4, "zero.yaml: a symlink that leaves the repository", setup=link("base/fraud-detector/zero.yaml", "/dev/zero")),
    Case(
        "base-symlink-dev-zero-render",
        4,
        "zero.yaml: a symlink that leaves the repository",
        RENDER_DC,
        setup=link("base/fraud-detector/zero.yaml", "/dev/zero"),
        extra=(),
    ),
    Case("overlay-fifo", 4, "pipe.env: is a FIFO, not a regular file", setup=fifo("overlays/datacenter/pipe.env"), commit=False),
    Case("overlay-fifo-render", 4, "pipe.env: is a FIFO, not a regular file", RENDER_DC, setup=fifo("overlays/datacenter/pipe.env"), commit=False, extra=()),
    Case(
        "symlink-to-fifo-inside",
        4,
        "p.env: is a FIFO, not a regular file",
        RENDER_DC,
        setup=both(link("overlays/datacenter/p.env", "../../pipe"), fifo("pipe")),
        commit=False,
        extra=(),
    ),
    Case("overlay-folder-loop", 4, "loop: a symlink loop", RENDER_DC, setup=link("base/fraud-detector/loop", "."), extra=()),
    Case("generator-file-too-large", 4, "byte limit", setup=write_bytes("overlays/datacenter/big.env", b"A=" + b"x" * (16 * 1024 * 1024) + b"\n")),
    Case(
        "kustomization-is-directory", 2, "overlays/edge/x/kustomization.yaml: is a directory", setup=write_bytes("overlays/edge/x/kustomization.yaml/keep", b"")
    ),
    Case("kustomization-symlink-dev-zero", 2, "leaves the repository", setup=link(DC, "/dev/zero", replace=True)),
    Case("kustomization-symlink-inside", 2, f"{DC}: is a symlink", setup=symlinked_kustomization),
    Case(
        "config-fifo",
        2,
        "gitops-mlops.yaml: is a FIFO, not a regular file",
        setup=both(lambda r: (r.work / "gitops-mlops.yaml").unlink(), fifo("gitops-mlops.yaml")),
        commit=False,
    ),
    Case("config-symlink-dev-zero", 2, "gitops-mlops.yaml: a symlink that leaves the repository", setup=link("gitops-mlops.yaml", "/dev/zero", replace=True)),
    Case("kustomize-renders-nothing", 4, "kustomize rendered nothing", setup=silent_kustomize, commit=False),
    Case("kustomize-renders-nothing-render", 4, "kustomize rendered nothing", RENDER_DC, setup=silent_kustomize, commit=False, extra=()),
    # numbers and durations: decimal digits, bounded
    Case(
        "check-count-huge",
        2,
        "gitops-mlops.yaml:26: stage 'datacenter' check.count must be a whole number from 1 to 1000",
        setup=check_with("count: 100000000000"),
    ),
    Case("check-count-hex", 2, "gitops-mlops.yaml:26: stage 'datacenter' check.count must be a whole number from 1 to 1000", setup=check_with("count: 0x10")),
    Case("check-count-underscores", 2, "check.count must be a whole number", setup=check_with("count: 1_0")),
    Case("check-failure-limit-huge", 2, "check.failureLimit must be a whole number from 0 to 1000", setup=check_with("failureLimit: 99999999999999999999")),
    Case(
        "check-initial-delay-huge",
        2,
        "gitops-mlops.yaml:26: check 'latency' initialDelay: duration '99999999999h' is longer",
        setup=check_with("initialDelay: 99999999999h"),
    ),
    Case("check-interval-huge", 2, "interval: duration '25h' is longer than the 24h limit", setup=check_with("interval: 25h")),
    Case("check-interval-not-ascii", 2, "is not like 30s", setup=check_with("interval: \u0661\u0662s")),
    Case("check-interval-mapping", 2, "gitops-mlops.yaml:26: check 'latency' interval: duration must be", setup=check_with("interval: {s: 1}")),
    Case(
        "watch-interval-huge",
        2,
        "--interval: duration '9999999h' is longer",
        ("watch", "fraud-detector", "--site", "datacenter", "--interval", "9999999h"),
        extra=(),
    ),
    Case("init-edge-sites-huge", 2, "edge site count 10000000: must be from 0 to 50000", ("init", "fleet", "--edge-sites", "10000000"), extra=()),
    # image references, versions, policy
    Case("digest-short", 2, "64 lowercase hex", promote(image=f"{REPO}:1.4.0@sha256:abc")),
    Case("digest-upper-case", 2, "64 lowercase hex", promote(image=f"{REPO}:1.4.0@sha256:{'A' * 64}")),
    Case("digest-sha512", 2, "sha256", promote(image=f"{REPO}:1.4.0@sha512:{'a' * 128}")),
    Case("digest-twice", 2, "64 lowercase hex", promote(image=f"{IMAGE}@{DIGEST_B}")),
    Case("digest-missing", 2, "no digest", promote(REPO, "datacenter", "fraud-detector", "--version", "1.4.0")),
    Case("tag-leading-dash", 2, "invalid tag", promote(image=f"{REPO}:-bad@{DIGEST_B}")),
    Case("tag-too-long", 2, "invalid tag", promote(image=f"{REPO}:{'1' * 129}@{DIGEST_B}")),
    Case("reference-whitespace", 2, "whitespace", promote(image=f"{REPO}:1.4.0 @{DIGEST_B}")),
    Case("reference-url", 2, "image reference", promote(image=f"https://{IMAGE}")),
    Case("reference-upper-case-path", 2, "invalid repository path", promote(image=f"quay.io/Example/fraud-detector:1.4.0@{DIGEST_B}")),
    Case("reference-empty-registry-label", 2, "image reference", promote(image=f"quay..io/example/fraud-detector:1.4.0@{DIGEST_B}")),
    Case("version-not-semver", 2, "not a semantic version", promote(IMAGE, "datacenter", "fraud-detector", "--version", "1.4")),
    Case("tag-not-semver", 2, "not a semantic version", promote(image=f"{REPO}:latest@{DIGEST_B}")),
    Case("version-disagrees-with-tag", 2, "disagrees", promote(IMAGE, "datacenter", "fraud-detector", "--version", "1.5.0")),
    Case("downgrade", 3, "downgrade refused", promote(image=f"{REPO}:0.9.0@{DIGEST_B}")),
    Case("foreign-repository", 3, "not model fraud-detector's repository", promote(image=f"ghcr.io/example/fraud-detector:1.4.0@{DIGEST_B}")),
    Case("stage-order", 3, "stage order", promote(to="edge")),
    Case(
        "digest-on-hold",
        3,
        "on hold",
        setup=replace_in("gitops-mlops.yaml", "holds: []", f"holds:\n  - model: fraud-detector\n    site: datacenter\n    digest: {DIGEST_B}"),
    ),
    # the kustomization itself
    Case(
        "duplicate-pins",
        2,
        "two images entries",
        args=promote(f"quay.io/example/demand-forecast:1.4.0@{DIGEST_B}", "datacenter", "demand-forecast"),
        setup=append(DC, "  - name: demand-forecast\n    digest: " + DIGEST_B + "\n"),
    ),
    Case(
        "malformed-storage-uri",
        2,
        "storageUri 'oci://quay.io/example/Fraud::1.0.0",
        setup=replace_in(DC, "value: oci://quay.io/example/fraud-detector:", "value: oci://quay.io/example/Fraud::"),
    ),
    Case("modelcar-without-inference-service", 4, "no InferenceService fraud-detector", setup=replace_in(DC, "  - ../../base/fraud-detector\n", "")),
    Case("multi-document", 2, "more than one YAML document", setup=append(DC, "---\nkind: ConfigMap\n")),
    Case("duplicate-keys", 4, "duplicate key 'namespace'", setup=append(DC, "namespace: elsewhere\n")),
    Case("anchors", 2, "anchors and aliases are not allowed", setup=append(DC, "commonAnnotations: &notes {team: ml}\n")),
    Case("merge-key", 4, "merge keys", setup=append(DC, "commonLabels:\n  <<: {team: ml}\n")),
    Case("alias-bomb", 2, "anchors and aliases are not allowed", setup=append(DC, BOMB)),
    Case("config-alias-bomb", 2, "anchors and aliases are not allowed", setup=append("gitops-mlops.yaml", "x-" + BOMB.replace("\nlol", "\nx-lol"))),
    Case("hundred-megabytes", 2, "byte limit", setup=write_bytes(DC, b"# " + b"x" * (100 * 1024 * 1024) + b"\n")),
    Case("not-utf8", 2, "not UTF-8", setup=write_bytes(DC, b"namespace: \xff\xfe\n")),
    Case("not-a-mapping", 2, "must be a mapping", setup=write_bytes(DC, b"- resources\n- images\n")),
    Case("block-scalar-digest", 2, "must be a plain string", setup=replace_in(DC, "    digest: ", "    digest: |\n      ")),
    # values that reach the network: a query, a URL
    Case(
        "namespace-promql-injection",
        2,
        "not a Kubernetes name",
        ("verify", "fraud-detector", "--site", "datacenter"),
        setup=checks_on_a_namespace('x"} or vector(1) or up{a="'),
        extra=(),
    ),
    Case("config-url-with-password", 2, "carries a user or password", setup=append("gitops-mlops.yaml", "retrain:\n  url: http://u:PASS@127.0.0.1:9/\n")),
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


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return make_gitops_repo(tmp_path_factory.mktemp("pristine"))


@pytest.fixture
def fresh(pristine, tmp_path) -> GitOpsRepo:
    """A copy of the pristine clone and remote (faster than building one per case)."""
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    shutil.copytree(pristine.remote, remote, symlinks=True)
    shutil.copytree(pristine.work, work, symlinks=True)
    git(work, "remote", "set-url", "origin", str(remote))
    return GitOpsRepo(work=work, remote=remote)


def state(repo: GitOpsRepo) -> dict[str, bytes]:
    """Every byte of the clone and the remote, but the clone's object store (see the module docstring)."""
    snap = tree_snapshot(repo.work, repo.remote)
    links = {f"link:{p.relative_to(repo.work)}": os.readlink(p).encode() for p in repo.work.rglob("*") if p.is_symlink()}
    scratch = (f"{repo.work.name}/.git/objects/", f"{repo.work.name}/.git/COMMIT_EDITMSG")  # git's own scratch
    return {k: v for k, v in snap.items() if not k.startswith(scratch)} | links


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_refused_with_one_line_and_changes_nothing(case, fresh, http_refusing):
    env = None
    if case.setup is not None:
        env = case.setup(fresh, http_refusing) if case.setup is refusing_remote else case.setup(fresh)
    if case.setup is not None and case.commit:
        fresh.git("add", "-A")
        fresh.git("commit", "--quiet", "-m", f"set up {case.id}")
        fresh.git("push", "--quiet", "origin", "HEAD:main")
    before = state(fresh)
    started = time.monotonic()
    result = cli(*(case.args or promote()), *case.extra, cwd=fresh.work, env=env)
    elapsed = time.monotonic() - started
    assert result.code == case.code, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and case.needle in lines[0], result.err
    assert result.out == ""
    assert state(fresh) == before
    assert elapsed < 30  # nothing hangs: no network wait, no expansion


def test_the_catalogue_is_large_enough():
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


def test_an_alias_bomb_fails_in_under_a_second_and_small_memory():
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(InputError, match="anchors and aliases"):
        parse("resources: []\n" + BOMB, "kustomization.yaml")
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1 and peak < 5 * 1024 * 1024
