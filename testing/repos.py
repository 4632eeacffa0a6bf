"""Fixture repositories: the example layout or given files, in a bare remote and a clone, and what tests read back."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

made_under: list[Path] = []  # conftest's made_repositories fixture adds this run's folder


def git(cwd: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


@dataclass
class GitOpsRepo:
    """A clone (``work``) of a bare remote (``remote``) holding the example layout."""

    work: Path
    remote: Path

    def git(self, *args: str) -> str:
        return git(self.work, *args)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def remote_head(self, branch: str = "main") -> str:
        return git(self.remote, "rev-parse", f"refs/heads/{branch}").strip()

    def read(self, relative: str) -> str:
        return (self.work / relative).read_bytes().decode()

    def clone(self, name: str) -> GitOpsRepo:
        other = self.work.parent / name
        git(self.work.parent, "clone", "--quiet", str(self.remote), str(other))
        return GitOpsRepo(work=other, remote=self.remote)


_made: dict[tuple[tuple[str, ...] | None, bool], GitOpsRepo] = {}


def make_gitops_repo(base: Path, edge_sites: tuple[str, ...] | None = None, releases: bool = False) -> GitOpsRepo:
    """The example repository pushed to a bare remote, and a clone of it. Made once per run with
    init, push and clone; every later call copies that pair and points the copy at its own remote.

    The example puts fraud-detector, its runtime and the application calling it (fraud-app, which
    ``requires:`` fraud-detector 1.x) in one release, so promoting one of them alone is refused.
    Most tests are about one model's promotion and predate releases: their repository is the
    example without the application and its release (``init`` of ``ScaffoldSpec(app=None)``).
    ``releases=True`` gives the example as ``init`` writes it, application and release included."""
    key = (edge_sites, releases)
    made = _made.get(key)
    if made is None or not made.remote.is_dir():
        home = Path(tempfile.mkdtemp(prefix="example-repo-", dir=made_under[-1] if made_under else None))
        made = _made[key] = _init_gitops_repo(home, edge_sites, releases)
    remote, work = base / "remote.git", base / "work"
    shutil.copytree(made.remote, remote, symlinks=True)
    shutil.copytree(made.work, work, symlinks=True)
    config = work / ".git" / "config"
    config.write_text(config.read_text().replace(str(made.remote), str(remote)))
    return GitOpsRepo(work=work, remote=remote)


def _init_gitops_repo(base: Path, edge_sites: tuple[str, ...] | None, releases: bool = False) -> GitOpsRepo:
    from gitops_mlops.config.scaffold import ScaffoldSpec
    from gitops_mlops.fleet.init import init_repository

    spec = ScaffoldSpec(**({} if edge_sites is None else {"edge_sites": edge_sites}), **({} if releases else {"app": None}))
    remote = base / "remote.git"
    git(base, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    seed = base / "seed"
    init_repository(seed, spec)
    git(seed, "remote", "add", "origin", str(remote))
    git(seed, "push", "--quiet", "origin", "main")
    work = base / "work"
    git(base, "clone", "--quiet", str(remote), str(work))
    return GitOpsRepo(work=work, remote=remote)


def build_tree(root: Path, files: dict[str, str]) -> None:
    """Write ``{relative path: text}`` under ``root`` (copier's build_file_tree)."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def make_repo_from(base: Path, files: dict[str, str], message: str = "a GitOps repository as found") -> GitOpsRepo:
    """A bare remote holding one commit of ``files``, and a clone of it."""
    remote = base / "remote.git"
    git(base, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    seed = base / "seed"
    seed.mkdir()
    git(seed, "init", "--quiet", "--initial-branch=main")
    build_tree(seed, files)
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", message)
    git(seed, "remote", "add", "origin", str(remote))
    git(seed, "push", "--quiet", "origin", "main")
    work = base / "work"
    git(base, "clone", "--quiet", str(remote), str(work))
    return GitOpsRepo(work=work, remote=remote)


def tree_snapshot(*roots: Path) -> dict[str, bytes]:
    """Every file's bytes under the roots (git internals included): proves 'nothing changed'."""
    snap = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                rel = f"{root.name}/{path.relative_to(root)}"
                if rel.endswith(("/index", "FETCH_HEAD", "ORIG_HEAD")) or "/logs/" in rel or "/.git/gitops-mlops/" in rel:
                    continue
                snap[rel] = path.read_bytes()
    return snap


_namespaces = iter(range(1, 1_000_000))


def registry_namespace() -> str:
    """A fresh repository namespace per test on the shared registry."""
    return f"t{os.getpid()}-{next(_namespaces)}"


def point_models_at(repo: GitOpsRepo, host: str, namespace: str, extra: str = "", listed: bool = True) -> None:
    """Rewrite the example config so models live in ``host/namespace/``; commit it."""
    path = repo.work / "gitops-mlops.yaml"
    text = path.read_text().replace("quay.io/example/", f"{host}/{namespace}/").replace("    - quay.io\n", f"    - {host}\n")
    if listed:
        text += f"registries:\n  - host: {host}\n    insecure: true\n"
    path.write_text(text + extra)
    for overlay in (repo.work / "overlays").rglob("kustomization.yaml"):  # the sites run builds of that repository
        overlay.write_text(overlay.read_text().replace("quay.io/example/", f"{host}/{namespace}/"))
    repo.git("commit", "-qam", "models from the test registry")


FRAUD_REPO = "quay.io/example/fraud-detector"


def ship(repo: GitOpsRepo, tag: str, digest: str, *stages: str, push: bool = False, **kw) -> None:
    """Promote fraud-detector TAG@DIGEST to each stage in turn (the library, as a pipeline would)."""
    from gitops_mlops.change.intents import PromoteRequest, Publish
    from gitops_mlops.promote.promotion import promote

    for stage in stages:
        promote(repo.work, PromoteRequest(model="fraud-detector", image=f"{FRAUD_REPO}:{tag}@{digest}", selectors=(stage,), **kw), Publish(push=push))


def pin_at(repo: GitOpsRepo, site: str):
    """fraud-detector's pin in the site's own overlay."""
    from gitops_mlops.pins.kustomization import parse

    path = f"overlays/{site}/kustomization.yaml"
    return parse(repo.read(path), path).pin("InferenceService/fraud-detector")


def one_model_repo(base: Path, manifest_image: str, repository: str, model_image: str = "", allowed: str = "docker.io", pins: str = "") -> GitOpsRepo:
    """A repository as found, with one model ``app`` (``repository``, and ``image:`` when given) whose
    base Deployment runs ``manifest_image``, at two sites ``dev`` and ``prod`` (``overlays/<site>/``,
    each kustomization ending with ``pins``)."""
    deployment = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  selector:\n    matchLabels: {app: app}\n"
        f"  template:\n    metadata:\n      labels: {{app: app}}\n    spec:\n      containers:\n        - name: server\n          image: {manifest_image}\n"
    )
    image = f"    image: {model_image}\n" if model_image else ""
    config = f"models:\n  - name: app\n{image}    repository: {repository}\nstages:\n  - name: dev\n  - name: prod\npolicy:\n  allowedRegistries: [{allowed}]\n"
    overlay = "resources:\n  - ../../base\n" + pins
    files = {
        "gitops-mlops.yaml": config,
        "base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
        "base/deployment.yaml": deployment,
        "overlays/dev/kustomization.yaml": overlay,
        "overlays/prod/kustomization.yaml": overlay,
    }
    return make_repo_from(base, files)


def rendered_images(repo: GitOpsRepo, path: str) -> list[str]:
    """The images the real kustomize renders for a folder, read independently of the tool."""
    from gitops_mlops.render.kustomize import Kustomize

    out = Kustomize.find().build(repo.work / path)
    return [line.split("image:", 1)[1].strip() for line in out.splitlines() if line.strip().removeprefix("- ").startswith("image:")]
