"""The hostile catalogue's cases and how each runs (tests/hostile/): each case exits with its documented code
and one line, and changes nothing.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from testing.cli import cli
from testing.paths import DIGEST_B
from testing.repos import GitOpsRepo, tree_snapshot

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


def state(repo: GitOpsRepo) -> dict[str, bytes]:
    """Every byte of the clone and the remote, but the clone's object store (see the module docstring)."""
    snap = tree_snapshot(repo.work, repo.remote)
    links = {f"link:{p.relative_to(repo.work)}": os.readlink(p).encode() for p in repo.work.rglob("*") if p.is_symlink()}
    scratch = (f"{repo.work.name}/.git/objects/", f"{repo.work.name}/.git/COMMIT_EDITMSG")  # git's own scratch
    return {k: v for k, v in snap.items() if not k.startswith(scratch)} | links


def run(case: Case, fresh: GitOpsRepo, http_refusing: str) -> None:
    """Set up ``case``, run it, and assert its exit code, its one line, its silence on stdout and that nothing changed."""
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
