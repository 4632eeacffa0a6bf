"""The kustomize runner: batched rendering equals per-site builds; the leash holds."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from gitops_mlops.config.load import load_config
from gitops_mlops.config.sites import Site, discover_sites
from gitops_mlops.core.errors import InputError, RenderError
from gitops_mlops.render.inputs import is_remote, walk_references
from gitops_mlops.render.kustomize import Kustomize, render_sites
from testing.cli import cli
from testing.paths import DIGEST_B
from testing.repos import make_repo_from, tree_snapshot


def sites_of(repo: Path):
    return discover_sites(repo, load_config(repo))


def test_batched_render_equals_one_build_per_site(gitops_repo):
    repo = gitops_repo.work
    sites = sites_of(repo)
    batched = render_sites(repo, sites, jobs=2)
    kustomize = Kustomize.find()
    for site in sites:
        alone = kustomize.build(Path(site.path), cwd=repo)
        assert batched[site.name].ok
        assert batched[site.name].output == alone, site.name


def test_a_broken_site_gets_its_own_error_and_hides_no_other(gitops_repo):
    repo = gitops_repo.work
    bad = repo / "overlays/edge/austin-01/kustomization.yaml"
    bad.write_text(bad.read_text() + "configMapGenerator:\n  - name: settings\n    files:\n      - no-such-file.properties\n")
    results = render_sites(repo, sites_of(repo), jobs=1)
    failed = {name for name, r in results.items() if not r.ok}
    assert failed == {"edge/austin-01"}
    assert "no-such-file.properties" in results["edge/austin-01"].error and "\n" not in results["edge/austin-01"].error
    assert all("kind: Deployment" in r.output for n, r in results.items() if n != "edge/austin-01")


@pytest.mark.parametrize(
    "ref,remote",
    [
        ("https://github.com/org/repo//base?ref=v1", True),
        ("github.com/org/repo/base?ref=v1", True),
        ("git@github.com:org/repo.git//base", True),
        ("ssh://git@example.com/repo.git", True),
        ("../../base/fraud-detector", False),
        ("deployment.yaml", False),
    ],
)
def test_remote_references_are_recognised(ref, remote):
    assert is_remote(ref) is remote


def _overlay(repo: Path, resources: str) -> Site:
    path = repo / "overlays/cloud/kustomization.yaml"
    path.write_text(f"resources:\n{resources}")
    return Site("cloud", "overlays/cloud", "cloud")


def test_remote_base_is_refused_before_any_build(gitops_repo):
    site = _overlay(gitops_repo.work, "  - https://github.com/example/models//base?ref=main\n")
    with pytest.raises(InputError, match="remote resource .* is refused"):
        walk_references(gitops_repo.work, site)
    start = time.perf_counter()
    result = render_sites(gitops_repo.work, (site,))["cloud"]
    assert not result.ok and "refused" in result.error and time.perf_counter() - start < 5


def test_allow_listed_remote_base_fails_fast_without_network(gitops_repo):
    site = _overlay(gitops_repo.work, "  - https://github.com/example/models//base?ref=main\n")
    start = time.perf_counter()
    result = render_sites(gitops_repo.work, (site,), allowed_remote=("https://github.com/example/",), timeout=60)["cloud"]
    assert not result.ok and time.perf_counter() - start < 60


def test_local_reference_leaving_the_repo_is_refused(gitops_repo):
    site = _overlay(gitops_repo.work, "  - ../../../outside\n")
    with pytest.raises(InputError, match="leaves the repository"):
        walk_references(gitops_repo.work, site)


def test_build_timeout_is_an_error(gitops_repo):
    with pytest.raises(RenderError, match="timed out"):
        Kustomize.find().build(Path("overlays/cloud"), cwd=gitops_repo.work, timeout=0.001)


def test_exec_and_helm_are_off(gitops_repo):
    path = gitops_repo.work / "overlays/cloud/kustomization.yaml"
    path.write_text(path.read_text() + "helmCharts:\n  - name: x\n    repo: https://charts.example.com\n    version: 1.0.0\n")
    result = render_sites(gitops_repo.work, (Site("cloud", "overlays/cloud", "cloud"),))["cloud"]
    assert not result.ok and "helm" in result.error.lower()


def test_override_naming_a_missing_binary_is_reported(monkeypatch):
    monkeypatch.setenv("GITOPS_MLOPS_KUSTOMIZE", "no-such-kustomize build")
    with pytest.raises(RenderError, match="not found"):
        Kustomize.find()


def test_sites_with_identical_inputs_share_one_build(gitops_repo):
    from collections import Counter

    from gitops_mlops.render.inputs import References, site_keys

    repo = gitops_repo.work.resolve()
    sites = sites_of(repo)
    refs = References()
    for site in sites:
        walk_references(repo, site, (), refs)
    # the three edge overlays differ only in their header comment: one build serves them
    assert sorted(Counter(site_keys(repo, sites, refs).values()).values()) == [1, 1, 3]
    (repo / "overlays/edge/austin-01/extra.yaml").write_text("kind: ConfigMap\n")
    assert sorted(Counter(site_keys(repo, sites, References()).values()).values()) == [1, 1, 1, 2]


def test_a_changed_shared_base_changes_every_key(gitops_repo):
    from gitops_mlops.render.inputs import site_keys

    repo = gitops_repo.work.resolve()
    sites = sites_of(repo)
    before = site_keys(repo, sites, _checked(repo, sites))
    (repo / "base/demand-forecast/deployment.yaml").write_text((repo / "base/demand-forecast/deployment.yaml").read_text() + "# changed\n")
    after = site_keys(repo, sites, _checked(repo, sites))
    assert all(before[s.name] != after[s.name] for s in sites)


def _checked(repo, sites):
    from gitops_mlops.render.inputs import References

    refs = References()
    for site in sites:
        walk_references(repo, site, (), refs)
    return refs


def test_a_shared_build_error_names_each_site(gitops_repo):
    repo = gitops_repo.work
    for site in ("austin-01", "berlin-01"):
        path = repo / f"overlays/edge/{site}/kustomization.yaml"
        path.write_text(path.read_text() + "configMapGenerator:\n  - name: settings\n    files:\n      - no-such-file.properties\n")
    results = render_sites(repo, sites_of(repo))
    assert {n for n, r in results.items() if not r.ok} == {"edge/austin-01", "edge/berlin-01"}
    assert results["edge/austin-01"].error.startswith("site edge/austin-01:") and "overlays/edge/austin-01" in results["edge/austin-01"].error
    assert results["edge/berlin-01"].error.startswith("site edge/berlin-01:") and "overlays/edge/berlin-01" in results["edge/berlin-01"].error


FUNCTION = {
    "exec": "      exec:\n        path: ./generate.sh\n",
    "container": "      container:\n        image: example.com/generate:1\n",
}


@pytest.mark.parametrize("field", ["generators", "transformers"])
@pytest.mark.parametrize("kind", sorted(FUNCTION))
def test_exec_and_krm_function_plugins_are_off(gitops_repo, field, kind):
    overlay = gitops_repo.work / "overlays/cloud"
    (overlay / "generate.sh").write_text('#!/bin/sh\ntouch "$(dirname "$0")/plugin-ran"\n')
    (overlay / "generate.sh").chmod(0o755)
    (overlay / "plugin.yaml").write_text(
        f"apiVersion: example.com/v1\nkind: Generate\nmetadata:\n  name: g\n  annotations:\n    config.kubernetes.io/function: |\n{FUNCTION[kind]}"
    )
    path = overlay / "kustomization.yaml"
    path.write_text(path.read_text() + f"{field}:\n  - plugin.yaml\n")
    result = render_sites(gitops_repo.work, (Site("cloud", "overlays/cloud", "cloud"),))["cloud"]
    assert not result.ok and "plugin" in result.error
    assert not (overlay / "plugin-ran").exists()


def test_files_outside_the_kustomization_root_are_refused(gitops_repo):
    path = gitops_repo.work / "overlays/cloud/kustomization.yaml"
    path.write_text(path.read_text() + "configMapGenerator:\n  - name: leak\n    files:\n      - ../datacenter/kustomization.yaml\n")
    result = render_sites(gitops_repo.work, (Site("cloud", "overlays/cloud", "cloud"),))["cloud"]
    assert not result.ok and "is not in or below" in result.error


@pytest.fixture
def silent_server():
    """A TCP server on localhost that accepts connections and never answers; counts them."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def serve():
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()
    for conn in accepted:
        conn.close()


@pytest.mark.slow
def test_remote_resource_is_fetched_only_when_allow_listed_and_within_the_timeout(gitops_repo, silent_server):
    port, accepted = silent_server
    url = f"https://127.0.0.1:{port}/example/models//base?ref=main"
    site = _overlay(gitops_repo.work, f"  - {url}\n")
    refused = render_sites(gitops_repo.work, (site,), timeout=3)["cloud"]
    assert "is refused" in refused.error and not accepted  # refused before any build: nothing connected
    start = time.perf_counter()
    allowed = render_sites(gitops_repo.work, (site,), allowed_remote=(f"https://127.0.0.1:{port}/example/",), timeout=3)["cloud"]
    assert accepted, "the allow-listed fetch was never attempted"
    assert "timed out after 3s" in allowed.error and time.perf_counter() - start < 10


@pytest.mark.slow
def test_a_hung_kustomize_is_killed_by_the_timeout_and_exits_4(gitops_repo):
    hung = gitops_repo.work.parent / "hung-kustomize"
    hung.write_text("#!/bin/sh\nexec sleep 600\n")
    hung.chmod(0o755)
    env = {"GITOPS_MLOPS_KUSTOMIZE": str(hung), "GITOPS_MLOPS_KUSTOMIZE_TIMEOUT": "2"}
    before = tree_snapshot(gitops_repo.work)
    result = cli("promote", "fraud-detector", f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}", "--to", "datacenter", cwd=gitops_repo.work, env=env)
    assert result.code == 4 and "timed out after 2s" in result.err and len(result.err.strip().splitlines()) == 1
    assert tree_snapshot(gitops_repo.work) == before
    start = time.perf_counter()
    result = cli("validate", cwd=gitops_repo.work, env=env)  # two batches time out, then one site alone: nothing ever finishes, so no more
    assert result.code == 4 and result.out.count("timed out after 2s") == 5
    assert time.perf_counter() - start < 7  # one timeout per site would take 10 s


@pytest.mark.slow
def test_a_batch_past_the_timeout_is_split_and_only_the_site_that_hangs_is_named(gitops_repo, tmp_path):
    """One site's build hangs: its batch runs past the timeout, is split into single sites, and every
    other site of that batch still renders; the timeout names the one site."""
    real = " ".join(Kustomize.find().command)
    slow = tmp_path / "slow-kustomize"
    slow.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do\n'
        '  case "$a" in *austin-01*) exec sleep 600;; esac\n'
        '  if [ -d "$a" ] && grep -rqs austin-01 "$a"; then exec sleep 600; fi\n'
        "done\n"
        f'exec {real} "$@"\n'
    )
    slow.chmod(0o755)
    repo = gitops_repo.work.resolve()
    sites = sites_of(repo)
    for n, site in enumerate(sites):  # distinct inputs, so every site is its own build
        path = repo / site.path / "kustomization.yaml"
        path.write_text(path.read_text() + f"commonAnnotations:\n  example.com/n: '{n}'\n")
    batched = render_sites(repo, sites, kustomize=Kustomize((str(slow),)), jobs=1, timeout=3)
    assert [name for name, r in batched.items() if not r.ok] == ["edge/austin-01"]
    assert batched["edge/austin-01"].timed_out and "timed out after 3s" in batched["edge/austin-01"].error
    assert batched["edge/austin-01"].error.startswith("site edge/austin-01: overlays/edge/austin-01")
    alone = render_sites(repo, sites, timeout=60)
    assert all(batched[s.name].output == alone[s.name].output for s in sites if s.name != "edge/austin-01")


NAMESPACED = {
    "gitops-mlops.yaml": "models:\n  - name: app\n    repository: quay.io/acme/app\nstages:\n  - name: edge\n",
    "base/kustomization.yaml": "resources:\n- app.yaml\n",
    "crds/kustomization.yaml": "resources:\n- crd.yaml\n",
    "base/app.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  selector:\n    matchLabels: {app: app}\n"
        "  template:\n    metadata:\n      labels: {app: app}\n    spec:\n      containers:\n"
        f"      - name: app\n        image: quay.io/acme/app:1.0@{DIGEST_B}\n"
        "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app\nspec:\n  ports: [{port: 80}]\n"
        "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app-metrics\nspec:\n  ports: [{port: 9090}]\n"
    ),
    "crds/crd.yaml": (
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n"
        "spec:\n  group: example.com\n  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n  versions:\n"
        "  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}\n"
    ),
    **{
        f"overlays/edge/{site}/{file}": text
        for site, ns in (("a", "team-a"), ("b", "team-b"), ("c", "shared"), ("d", "shared"))
        for file, text in (
            ("kustomization.yaml", f"namespace: {ns}\nresources:\n- ../../../base\n- namespace.yaml\n" + ("- ../../../crds\n" if site in "cd" else "")),
            ("namespace.yaml", f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"),
        )
    },
    "overlays/edge/fifo/kustomization.yaml": "resources:\n- ../../../base\n- ../../../crds\nsortOptions:\n  order: fifo\n",
}


def test_namespaces_crds_and_names_that_extend_others_render_in_one_batch_as_alone(tmp_path):
    """Namespaces and CRDs, which kustomize's namePrefix leaves alone, are split back to their own
    site (same name or not), and a kind's order within a site is kept (``app`` before ``app-metrics``)."""
    repo = make_repo_from(tmp_path, NAMESPACED).work
    sites = sites_of(repo)
    kustomize = Kustomize.find()
    for jobs in (1, 2):
        batched = render_sites(repo, sites, kustomize=kustomize, jobs=jobs)
        for site in sites:
            assert batched[site.name].output == kustomize.build(Path(site.path), cwd=repo), (jobs, site.name)
    assert "kind: Namespace\nmetadata:\n  name: team-a\n" in batched["edge/a"].output
    assert batched["edge/fifo"].output.index("kind: Deployment") < batched["edge/fifo"].output.index("kind: CustomResourceDefinition")


def test_a_cold_status_and_validate_read_sites_that_render_namespaces(tmp_path, monkeypatch):
    built = make_repo_from(tmp_path, NAMESPACED)
    remote_before = tree_snapshot(built.remote)
    monkeypatch.setenv("GITOPS_MLOPS_RENDER_CACHE", "off")
    status = cli("status", "-o", "json", cwd=built.work)
    assert status.code == 0, status.err
    assert {row["site"] for row in json.loads(status.out) if row["model"] == "app"} == {f"edge/{s}" for s in ("a", "b", "c", "d", "fifo")}
    validate = cli("validate", cwd=built.work)
    assert validate.code == 0, validate.out
    assert tree_snapshot(built.remote) == remote_before
