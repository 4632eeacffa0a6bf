"""Every example in every command's --help runs, as written, against the example repository and
succeeds. The examples are read from the command line itself (each command's epilog), never from a
list kept here; only what cannot be real here is substituted: the registry (a loopback
docker-registry holding the builds the examples name, ``quay.io/acme/`` there) and the digest
placeholder (the digest of the build pushed there). A command's examples run in order on one copy
of the example repository, after the state they presume (a promotion history to roll back, a hold
to release, a site to remove, a Prometheus with checks) is made with the tool; ``init`` examples
each make a repository in an empty directory of their own.

None is excluded: no example opens a pull request (``--open-pr`` would need a forge), and those
that push push to the example repository's bare remote. ``watch`` runs until stopped: it is started,
its first run must verify every site, and it is then stopped."""

from __future__ import annotations

import os
import select
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gitops_mlops.cli.main import command
from testing.cli import cli
from testing.paths import crd_dir
from testing.prometheus_server import running
from testing.repos import GitOpsRepo, make_gitops_repo, point_models_at, registry_namespace

MODELS = ("fraud-detector", "demand-forecast", "openvino-model-server")
EXAMPLE_REPOSITORIES = "quay.io/acme/"  # where the examples' models live
DIGEST_PLACEHOLDER = "sha256:64df0ee871bb"  # the examples' digest: with "..." a full digest, without it a prefix
SITES = ("datacenter", "cloud", "austin-01", "berlin-01", "singapore-01")


def help_examples() -> dict[str, list[str]]:
    """command -> the example command lines of its --help, in order."""
    return {
        name: [line.strip()[2:] for line in (cmd.epilog or "").splitlines() if line.strip().startswith("$ gitops-mlops ")]
        for name, cmd in command().commands.items()
    }


EXAMPLES = help_examples()


@dataclass
class World:
    repo: GitOpsRepo
    image: str  # host/namespace/ : where the models live in the loopback registry
    new: str  # the digest of fraud-detector 1.4.0 there
    servers: list = field(default_factory=list)  # stand-ins a setup started, closed after the test

    def run(self, line: str, cwd: Path | None = None):
        """Run one command line as a shell would (``> FILE`` included); assert it exits 0."""
        args = shlex.split(
            line.replace(EXAMPLE_REPOSITORIES, self.image).replace(DIGEST_PLACEHOLDER + "...", self.new).replace(DIGEST_PLACEHOLDER, self.new[:19])
        )
        assert args[0] == "gitops-mlops", line
        args, target = (args[1:-2], args[-1]) if len(args) > 2 and args[-2] == ">" else (args[1:], None)
        cwd = cwd or self.repo.work
        result = cli(*args, cwd=cwd)
        assert result.code == 0, f"{line}: exit {result.code}: {result.err}"
        if target:
            (cwd / target).write_text(result.out)
        return result


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    series = [("model_p99_latency_seconds", {"model": "fraud-detector", "site": site}, [0.1]) for site in SITES]
    with running(tmp_path_factory.mktemp("prometheus"), series) as server:
        yield server


@pytest.fixture
def world(tmp_path, registry, pusher, monkeypatch):
    repo = make_gitops_repo(tmp_path)
    ns = registry_namespace()
    point_models_at(repo, registry.host, ns)
    repo.git("push", "-q", "origin", "main")
    digests = {(model, tag): pusher.image(f"{ns}/{model}", tag)[0] for model in MODELS for tag in ("1.3.0", "1.4.0")}
    monkeypatch.setenv("MR_TOKEN", "mr-token-s3cr3t")  # the model registry stand-in's token, for the examples that write back
    w = World(repo, f"{registry.host}/{ns}/", digests[("fraud-detector", "1.4.0")])
    yield w
    for server in w.servers:
        server.close()
        assert not server.violations, server.violations


def history(w: World) -> None:
    """fraud-detector 1.3.0, then 1.4.0, through every stage; pushed."""
    for version in ("1.3.0", "1.4.0"):
        for stage in ("datacenter", "cloud", "edge"):
            w.run(f"gitops-mlops promote fraud-detector {EXAMPLE_REPOSITORIES}fraud-detector:{version} --to {stage}")
    w.run("gitops-mlops push")


def commit_config(w: World, text: str, message: str) -> None:
    path = w.repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text() + text)
    w.repo.git("commit", "-qam", message)
    w.repo.git("push", "-q", "origin", "main")


def checks(w: World, address: str) -> None:
    check = (
        "    checks:\n      - name: latency\n"
        f"        provider: {{prometheus: {{address: '{address}'}}}}\n"
        '        query: \'model_p99_latency_seconds{model="{{args.model}}", site=~"{{args.site}}"}\'\n'
        "        successCondition: 'max(result) < 0.25'\n"
    )
    path = w.repo.work / "gitops-mlops.yaml"
    text = path.read_text()
    for stage in ("datacenter", "cloud", "edge"):
        text = text.replace(f"  - name: {stage}\n", f"  - name: {stage}\n{check}", 1)
    path.write_text(text)
    commit_config(w, "", "checks")


def model_registry(w: World) -> None:
    """The model registry stand-in configured, and fraud-detector 1.4.0 promoted from it and pushed."""
    from testing.model_registry_server import ModelRegistryServer

    server = ModelRegistryServer()
    w.servers.append(server)
    server.register("fraud-detector", "1.4.0", f"oci://{w.image}fraud-detector:1.4.0")
    commit_config(w, f"modelRegistry:\n  url: {server.url}\n  tokenEnv: MR_TOKEN\n", "model registry")
    w.run("gitops-mlops promote fraud-detector --registry-version 1.4.0 --to datacenter --push")


def waves(w: World) -> None:
    """Edge in three waves, and fraud-detector 1.4.0 at datacenter and cloud: the rollout to edge may begin."""
    path = w.repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text().replace("  - name: edge\n", "  - name: edge\n    waves:\n      - sites: 1\n      - sites: 50%\n      - sites: 100%\n", 1))
    commit_config(w, "", "waves")
    for stage in ("datacenter", "cloud"):
        w.run(f"gitops-mlops promote fraud-detector {EXAMPLE_REPOSITORIES}fraud-detector:1.4.0 --to {stage} --push")


# The state each command's examples presume, made with the tool (and git, for a second remote).
SETUP = {
    "rollout": waves,
    "registry": model_registry,
    "rollback": history,
    "release-hold": lambda w: (history(w), w.run("gitops-mlops rollback fraud-detector --site edge/austin-01 --push")),
    "remove-site": lambda w: w.run("gitops-mlops add-site edge/paris-01 --like edge/berlin-01 --push"),
    "hydrate": lambda w: commit_config(w, "hydrate:\n  branch: hydrated\n  path: sites\n", "hydrate"),
    "push": lambda w: w.repo.git("remote", "add", "upstream", str(w.repo.remote)),
    "validate": lambda w: shutil.copytree(crd_dir(), w.repo.work / "crds"),
}


def test_every_command_has_examples_to_run():
    assert {"promote", "rollback", "release-hold", "init", "watch"} <= set(EXAMPLES)
    assert all(EXAMPLES.values()), [name for name, lines in EXAMPLES.items() if not lines]


@pytest.mark.parametrize("name", sorted(set(EXAMPLES) - {"init", "verify", "watch"}))
def test_the_examples_of_help_succeed(name, world):
    SETUP.get(name, lambda w: None)(world)
    for line in EXAMPLES[name]:
        world.run(line)
    if name == "release-hold":
        assert "holds: []" in world.repo.read("gitops-mlops.yaml")
    if name == "remove-site":
        assert not (world.repo.work / "overlays/edge/paris-01").exists()
    if name == "promote":
        assert world.repo.git("ls-remote", "origin", "promote/fd-1.4.0").strip()


def test_the_examples_of_init_help_succeed(tmp_path):
    for i, line in enumerate(EXAMPLES["init"]):
        where = tmp_path / str(i)
        where.mkdir()
        World(GitOpsRepo(where, where), EXAMPLE_REPOSITORIES, "").run(line, cwd=where)  # nothing asks a registry: nothing substituted
        assert (where / "fleet" / "gitops-mlops.yaml").is_file()


def test_the_examples_of_verify_help_succeed(world, prometheus):
    checks(world, prometheus.address)
    for line in EXAMPLES["verify"]:
        world.run(line)


def test_the_example_of_watch_help_verifies_every_site_on_its_first_run(world, prometheus):
    checks(world, prometheus.address)
    (line,) = EXAMPLES["watch"]
    args = shlex.split(line)[1:]
    proc = subprocess.Popen([sys.executable, "-m", "gitops_mlops", *args], cwd=world.repo.work, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        ready, _, _ = select.select([proc.stderr], [], [], 120)
        first = proc.stderr.readline() if ready else "no run reported within 120 s"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert first.startswith("fraud-detector: successful at 3 sites"), first
