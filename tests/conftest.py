"""Shared fixtures: isolated git config, real bare remotes and clones, the real kustomize."""

from __future__ import annotations

import compileall
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DIGEST_C = "sha256:" + "c" * 64


SHM = Path("/dev/shm")
SHM_NEEDED = 4 << 30  # a full run writes about 1 GB of repositories; leave room to spare


@pytest.hookimpl(tryfirst=True)  # before pytest's tmpdir plugin reads --basetemp
def pytest_configure(config):
    """Byte-compile the package once, as installing it would: every test runs the command line in
    a new interpreter, and one that compiles the package from source each time spends a fifth of
    a command's start on it (PYTHONDONTWRITEBYTECODE stops it from keeping what it compiled).

    And keep the tests' folders in memory (tmpfs) when there is room and no --basetemp was given:
    the suite creates and deletes some 150,000 files (a repository per test), and on disk that cost
    a fifth of the inner loop (137 s -> 102 s measured; pytest also spent 15 s deleting an earlier
    run's folders at the end of each). Only this run's folder is kept until the next run."""
    if hasattr(config, "workerinput"):  # xdist hands its workers their folders
        return
    compileall.compile_dir(PROJECT_ROOT / "gitops_mlops", quiet=1)
    if config.option.basetemp or os.environ.get("GITOPS_MLOPS_TEST_TMP") == "disk" or not SHM.is_dir():
        return
    stats = os.statvfs(SHM)
    if stats.f_bavail * stats.f_frsize < SHM_NEEDED or not os.access(SHM, os.W_OK):
        return
    runs = SHM / f"gitops-mlops-tests-{os.getuid()}"
    runs.mkdir(mode=0o700, exist_ok=True)
    stale = []
    for old in runs.iterdir():  # earlier runs, unless still running
        pid = old.name.removeprefix("run-")
        if old.name.startswith("run-") and not (pid.isdigit() and Path(f"/proc/{pid}").exists()):
            stale.append(old.rename(runs / f"stale-{old.name}-{os.getpid()}"))
        elif old.name.startswith("stale-"):
            stale.append(old)  # an earlier clean-up that did not finish
    if stale:  # removed beside this run rather than before it: a full run leaves some 10,000 files
        subprocess.Popen(
            ["rm", "-rf", *map(str, stale)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
    config.option.basetemp = str(runs / f"run-{os.getpid()}")


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory, monkeypatch):
    """Every test gets its own HOME and git identity; the user's config never leaks in."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test Pipeline\n\temail = pipeline@example.test\n[init]\n\tdefaultBranch = main\n"
        '[protocol "file"]\n\tallow = always\n[advice]\n\tdetachedHead = false\n'
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in (
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GITOPS_MLOPS_KUSTOMIZE",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.delenv(var, raising=False)
    # No registry answers for quay.io here: digests are not verified unless a test runs a registry
    # on loopback (those tests use the ``verify_digests`` fixture, which turns this off).
    monkeypatch.setenv("GITOPS_MLOPS_NO_VERIFY", "1")
    return home


@pytest.fixture(scope="session")
def shared_render_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("render-cache")


@pytest.fixture(autouse=True)
def render_cache(request, monkeypatch, shared_render_cache, isolated_git):
    """Renders are shared by every test repository (the cache is keyed by content, so the example
    fleet renders once per run, not once per test). A test marked ``own_render_cache`` gets the
    default, a cache in its repository's git directory, as a user has it."""
    if request.node.get_closest_marker("own_render_cache") is None:
        monkeypatch.setenv("GITOPS_MLOPS_RENDER_CACHE", str(shared_render_cache))
    else:
        monkeypatch.delenv("GITOPS_MLOPS_RENDER_CACHE", raising=False)


@pytest.fixture(autouse=True)
def verify_digests(request, monkeypatch, isolated_git):
    """A test that runs a registry on loopback verifies digests, as every command does by default."""
    if any("registry" in name for name in request.fixturenames):
        monkeypatch.delenv("GITOPS_MLOPS_NO_VERIFY", raising=False)


@pytest.fixture(scope="session", autouse=True)
def kustomize_available():
    """kustomize (or oc/kubectl) is required: fail loudly, never skip."""
    from gitops_mlops.core.errors import RenderError
    from gitops_mlops.render.kustomize import Kustomize

    try:
        return Kustomize.find()
    except RenderError as exc:
        pytest.fail(f"{exc} (scripts/bootstrap.sh installs kubectl)", pytrace=False)


def crd_dir() -> Path:
    """The CRD fixtures: ``GITOPS_MLOPS_CRDS``, else ``../shared/crds`` beside the project.

    They are test fixtures from outside and never copied into the project. Where neither
    exists (a clone elsewhere) the test is skipped with one line; under CI=true it fails."""
    override = os.environ.get("GITOPS_MLOPS_CRDS", "").strip()
    candidates = [Path(override)] if override else [PROJECT_ROOT.parent / "shared" / "crds"]
    for path in candidates:
        if path.is_dir():
            return path
    reason = f"no CRD fixtures at {candidates[0]} (set GITOPS_MLOPS_CRDS or check the project out beside shared/)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


_schemas: list = []


def product_schemas():
    """The product's schema checker pointed at the real CRDs, made once per process (parsing them takes seconds)."""
    if not _schemas:
        from gitops_mlops.render.schemas import Schemas

        _schemas.append(Schemas(crds=(crd_dir(),)))
    return _schemas[0]


def git(cwd: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


@dataclass
class Cli:
    code: int
    out: str
    err: str


def cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> Cli:
    """Run the real command line: its entry point, with these arguments, working directory and
    environment, stdout and stderr captured apart, the exit code as the process would return it.

    In this process by default (a new interpreter per command cost about a third of the inner loop);
    in a subprocess from a thread other than the main one (the working directory and environment
    belong to the process) or with GITOPS_MLOPS_TEST_CLI=subprocess."""
    if os.environ.get("GITOPS_MLOPS_TEST_CLI") == "subprocess" or threading.current_thread() is not threading.main_thread():
        return cli_subprocess(*args, cwd=cwd, env=env)
    return _cli_in_process(args, cwd, env or {})


def cli_subprocess(*args: str, cwd: Path | None = None, env: dict | None = None) -> Cli:
    """Run the real command line in a new interpreter."""
    proc = subprocess.run(
        [sys.executable, "-m", "gitops_mlops", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
    return Cli(proc.returncode, proc.stdout, proc.stderr)


def _cli_in_process(args: tuple[str, ...], cwd: Path | None, env: dict) -> Cli:
    import contextlib
    import io
    import traceback

    from gitops_mlops.cli import main as entry
    from gitops_mlops.core import progress

    saved_env, saved_cwd, saved_argv = dict(os.environ), os.getcwd(), sys.argv
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        sys.argv = ["gitops-mlops", *args]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                entry.main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if isinstance(exc.code, str):
                    err.write(exc.code + "\n")
            except Exception:  # what an interpreter prints for an uncaught exception, and its exit code
                traceback.print_exc(file=err)
                code = 1
    finally:
        progress._enabled = False  # main() turned it on only if stderr was a terminal; never leave it on
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return Cli(code, out.getvalue(), err.getvalue())


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


_made: dict[tuple[str, ...] | None, GitOpsRepo] = {}
_made_under: list[Path] = []


@pytest.fixture(scope="session", autouse=True)
def made_repositories(tmp_path_factory):
    """Where make_gitops_repo keeps the repositories it copies from, for this run."""
    _made_under.append(tmp_path_factory.mktemp("made"))


def make_gitops_repo(base: Path, edge_sites: tuple[str, ...] | None = None) -> GitOpsRepo:
    """The example repository pushed to a bare remote, and a clone of it. Made once per run with
    init, push and clone; every later call copies that pair and points the copy at its own remote."""
    made = _made.get(edge_sites)
    if made is None or not made.remote.is_dir():
        home = Path(tempfile.mkdtemp(prefix="example-repo-", dir=_made_under[-1] if _made_under else None))
        made = _made[edge_sites] = _init_gitops_repo(home, edge_sites)
    remote, work = base / "remote.git", base / "work"
    shutil.copytree(made.remote, remote, symlinks=True)
    shutil.copytree(made.work, work, symlinks=True)
    config = work / ".git" / "config"
    config.write_text(config.read_text().replace(str(made.remote), str(remote)))
    return GitOpsRepo(work=work, remote=remote)


def _init_gitops_repo(base: Path, edge_sites: tuple[str, ...] | None) -> GitOpsRepo:
    from gitops_mlops.config.scaffold import ScaffoldSpec
    from gitops_mlops.fleet.init import init_repository

    spec = ScaffoldSpec() if edge_sites is None else ScaffoldSpec(edge_sites=edge_sites)
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


@pytest.fixture
def gitops_repo(tmp_path) -> GitOpsRepo:
    return make_gitops_repo(tmp_path)


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


@pytest.fixture(scope="session")
def http_refusing():
    """The base URL of an HTTP git server on localhost that refuses every request as unauthenticated."""

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


# ---------------------------------------------------------------- a real registry on loopback

USER, PASSWORD = "pipeline", "pw-Zq81-not-for-output"


def _start_registry(tmp_path_factory, auth: str):
    from registry_server import RegistryServer

    try:
        return RegistryServer(tmp_path_factory.mktemp(f"registry-{auth or 'anonymous'}"), auth=auth, users={USER: PASSWORD} if auth else {}).start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """docker-registry (CNCF distribution) on a free loopback port, anonymous access; fails loudly if missing."""
    server = _start_registry(tmp_path_factory, "")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory):
    """The same registry behind htpasswd (bcrypt) basic auth."""
    server = _start_registry(tmp_path_factory, "htpasswd")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory):
    """The same registry behind token auth, with a loopback token issuer that demands basic credentials."""
    server = _start_registry(tmp_path_factory, "token")
    yield server
    server.stop()


@pytest.fixture
def pusher(registry):
    p = registry.pusher()
    yield p
    p.close()


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


def status_row_keys() -> set[str]:
    """The fields of a ``status -o json`` row, as its schema (schemas/output/status.json) writes them down."""
    import json

    schema = json.loads((PROJECT_ROOT / "schemas" / "output" / "status.json").read_text())
    return set(schema["items"]["required"])
