"""Shared fixtures: isolated git config, real bare remotes and clones, the real kustomize."""

from __future__ import annotations

import compileall
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from testing import repos
from testing.paths import PROJECT_ROOT
from testing.registry_server import start_registry
from testing.repos import GitOpsRepo, make_gitops_repo

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


@pytest.fixture(scope="session", autouse=True)
def made_repositories(tmp_path_factory):
    """Where make_gitops_repo keeps the repositories it copies from, for this run."""
    repos.made_under.append(tmp_path_factory.mktemp("made"))


@pytest.fixture
def gitops_repo(tmp_path) -> GitOpsRepo:
    return make_gitops_repo(tmp_path)


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


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """docker-registry (CNCF distribution) on a free loopback port, anonymous access; fails loudly if missing."""
    server = start_registry(tmp_path_factory, "")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory):
    """The same registry behind htpasswd (bcrypt) basic auth."""
    server = start_registry(tmp_path_factory, "htpasswd")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory):
    """The same registry behind token auth, with a loopback token issuer that demands basic credentials."""
    server = start_registry(tmp_path_factory, "token")
    yield server
    server.stop()


@pytest.fixture
def pusher(registry):
    p = registry.pusher()
    yield p
    p.close()


@pytest.fixture
def model_registry():
    """The model registry stand-in (testing/model_registry_server.py): every request and answer checked against
    the registry's published OpenAPI description; a test whose exchange drifts from it fails here."""
    from testing.model_registry_server import ModelRegistryServer

    server = ModelRegistryServer()
    yield server
    server.close()
    assert not server.violations, "\n".join(server.violations)
