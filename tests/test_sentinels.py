"""Pin-invariant renders are exact: a site rendered once with sentinels for its pin values, then
the values substituted, equals what kustomize itself renders, for every golden pin form and every
site of the example fleet, before and after a change of pin values (served from the cache)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, build_tree, git
from test_kustomization import CASES, golden

from gitops_mlops import rendercache
from gitops_mlops.config import load_config, parse_config
from gitops_mlops.kustomization import set_pin
from gitops_mlops.rendering import Kustomize
from gitops_mlops.renders import render_state
from gitops_mlops.sentinels import pin_invariant
from gitops_mlops.sites import Site, discover_sites

CONFIG = "models:\n  - name: fraud-detector\n    repository: quay.io/example/fraud-detector\nstages:\n  - name: edge\n"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: server
spec:
  selector:
    matchLabels: {app: server}
  template:
    metadata:
      labels: {app: server}
    spec:
      initContainers:
        - name: warmup
          image: other
      containers:
        - name: model
          image: fraud-detector
        - name: sidecar
          image: fraud-detector-sidecar:0.1
"""
NEW = {"newName": "quay.io/example/fraud-detector", "newTag": "2.0.0", "digest": "sha256:" + "c" * 64}


def kustomize_output(directory: Path) -> str:
    return Kustomize.find().build(directory)


@pytest.fixture
def counted(tmp_path) -> tuple[Kustomize, Path]:
    """The real kustomize behind a script that counts its runs (one line per run in the log)."""
    log, script = tmp_path / "runs.log", tmp_path / "counted-kustomize"
    script.write_text(f'#!/bin/sh\necho run >> {log}\nexec {" ".join(Kustomize.find().command)} "$@"\n')
    script.chmod(0o755)
    log.write_text("")
    return Kustomize((str(script),)), log


def with_base(text: str) -> str:
    """A golden kustomization that reads the test base (added when it has no resources)."""
    if "resources" in text:
        return text.replace("../../base", "../../../base")
    if text.startswith("---"):
        first, _, rest = text.partition("\n")
        return f"{first}\nresources:\n- ../../../base\n{rest}"
    return "resources:\n- ../../../base\n" + text


def make_site(tmp_path: Path, text: str) -> tuple[Path, Site]:
    repo = tmp_path / "repo"
    build_tree(repo, {"gitops-mlops.yaml": CONFIG, "base/kustomization.yaml": "resources:\n- deployment.yaml\n", "base/deployment.yaml": DEPLOYMENT})
    site_dir = repo / "overlays/edge/x"
    site_dir.mkdir(parents=True)
    (site_dir / "kustomization.yaml").write_bytes(text.encode())
    (site_dir / "service.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: server\nspec:\n  ports:\n  - port: 80\n")
    git(repo, "init", "--quiet")
    return repo, Site("edge/x", "overlays/edge/x", "edge")


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("which", ["original", "expected"])
def test_every_golden_pin_form_renders_exactly_through_sentinels(tmp_path, case, which, counted):
    kustomize, log = counted
    text = with_base(golden(case, which))
    repo, site = make_site(tmp_path, text)
    config = parse_config(CONFIG)
    form = pin_invariant(text, site.path)
    cold = render_state(repo, config, (site,), outputs=True, kustomize=kustomize)[site.name]
    assert cold.ok, cold.error
    assert cold.output == kustomize_output(repo / site.path)
    if form is None:
        return  # no invariant form (e.g. no pin): rendered as it is, which the assertion above covered
    # a change of pin values only: served from the sentinel render, without kustomize, and still exact
    changed = set_pin(text, site.path, "fraud-detector", NEW)
    (repo / site.path / "kustomization.yaml").write_bytes(changed.encode())
    changed_form = pin_invariant(changed, site.path)
    assert changed_form is not None
    pin_values_only = changed_form.text == form.text  # else a pin or field was added: kustomize renders it
    runs = log.read_text().count("run")
    warm = render_state(repo, config, (site,), outputs=True, kustomize=kustomize)
    assert warm[site.name].ok, warm[site.name].error
    assert warm[site.name].output == kustomize_output(repo / site.path)
    assert (log.read_text().count("run") == runs) == pin_values_only  # kustomize ran only for a new shape


def test_the_example_fleet_renders_exactly_through_sentinels(tmp_path, counted):
    kustomize, log = counted
    repo = tmp_path / "example"
    files = {p: (PROJECT_ROOT / p).read_text() for p in git(PROJECT_ROOT, "ls-files", "gitops-mlops.yaml", "base", "overlays").split()}
    build_tree(repo, files)
    git(repo, "init", "--quiet")
    config = load_config(repo)
    sites = discover_sites(repo, config)
    state = render_state(repo, config, sites, outputs=True, kustomize=kustomize)
    for site in sites:
        assert pin_invariant((repo / site.path / "kustomization.yaml").read_text(), site.path) is not None, site.name
        assert state[site.name].output == kustomize_output(repo / site.path), site.name
    for site in sites:  # every pin of every site moves: all served from the sentinel renders
        path = repo / site.path / "kustomization.yaml"
        for name in ("InferenceService/fraud-detector", "demand-forecast"):  # a modelcar's storageUri patch and an images entry
            path.write_text(set_pin(path.read_text(), site.path, name, NEW))
    runs = log.read_text().count("run")
    state = render_state(repo, config, sites, outputs=True, kustomize=kustomize)
    for site in sites:
        assert state[site.name].ok and state[site.name].output == kustomize_output(repo / site.path), site.name
    assert log.read_text().count("run") == runs  # no kustomize ran
    rendercache.clear(repo)


def test_a_file_holding_a_sentinel_or_an_odd_value_has_no_invariant_form():
    assert pin_invariant("images:\n- name: a\n  newTag: gitops-mlops-pin-0001-t\n", "k") is None
    assert pin_invariant("images:\n- name: a\n  newName: 'Has Space'\n", "k") is None
    assert pin_invariant("resources:\n- ../base\n", "k") is None
    form = pin_invariant('images:\n- name: a\n  newName: quay.io/x/a\n  newTag: "1.0"\n', "k")
    assert form is not None and "quay.io/x/a" not in form.text and form.substitute(form.text) == 'images:\n- name: a\n  newName: quay.io/x/a\n  newTag: "1.0"\n'


def test_a_site_reading_nested_and_sibling_folders_renders_exactly_through_sentinels(tmp_path, counted):
    """Folders nested in ``base`` and a sibling component: the mirror links the widest folder
    that does not hold the site (``base`` once, the component itself), and the render is exact."""
    kustomize, log = counted
    repo = tmp_path / "repo"
    site_text = (
        "resources:\n- ../../../base/models/fraud\ncomponents:\n- ../common\n"
        "images:\n- name: fraud-detector\n  newName: quay.io/example/fraud-detector\n  newTag: 1.0.0\n  digest: sha256:" + "a" * 64 + "\n"
    )
    build_tree(
        repo,
        {
            "gitops-mlops.yaml": CONFIG,
            "base/models/fraud/kustomization.yaml": "resources:\n- deployment.yaml\n- ../../shared\n",
            "base/models/fraud/deployment.yaml": DEPLOYMENT,
            "base/shared/kustomization.yaml": "resources:\n- service.yaml\n",
            "base/shared/service.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: server\nspec:\n  ports:\n  - port: 80\n",
            "overlays/edge/common/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations:\n  site-kind: edge\n",
            "overlays/edge/x/kustomization.yaml": site_text,
        },
    )
    git(repo, "init", "--quiet")
    config = parse_config(CONFIG)
    site = Site("edge/x", "overlays/edge/x", "edge")
    cold = render_state(repo, config, (site,), outputs=True, kustomize=kustomize)[site.name]
    assert cold.ok, cold.error
    assert cold.output == kustomize_output(repo / site.path) and "site-kind: edge" in cold.output and "kind: Service" in cold.output
    path = repo / site.path / "kustomization.yaml"
    path.write_text(set_pin(path.read_text(), site.path, "fraud-detector", NEW))
    runs = log.read_text().count("run")
    warm = render_state(repo, config, (site,), outputs=True, kustomize=kustomize)[site.name]
    assert warm.ok and warm.output == kustomize_output(repo / site.path)
    assert log.read_text().count("run") == runs and NEW["digest"] in warm.output
