"""Plain bases rendered once: a site that reads them from one folder of their renders renders to
exactly kustomize's own output, for unusual base files and overlays that rename, patch, generate
and pin; bases that are not plain, and builds that read load order or origin, are rendered as they are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitops_mlops.config.load import load_config
from gitops_mlops.config.scaffold import ScaffoldSpec, edge_site_names, render_layout
from gitops_mlops.config.sites import Site, discover_sites
from gitops_mlops.pins.sentinels import pin_invariant
from gitops_mlops.render import kustomize as rendering
from gitops_mlops.render.batches import in_batches
from gitops_mlops.render.flatbases import Flattener
from gitops_mlops.render.inputs import References, walk_references
from gitops_mlops.render.kustomize import Kustomize, render_sites
from testing.paths import PROJECT_ROOT
from testing.repos import build_tree, git

DEPLOYMENT = """\
# a comment before the document
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  annotations:
    quoted: 'yes'
    number-like: "0123"
    empty: ""
    multi: |
      two
      lines
spec:
  selector:
    matchLabels: &labels {{app: {name}}}
  template:
    metadata:
      labels: *labels
    spec:
      containers:
        - name: server  # a trailing comment
          image: {name}
          args: ["--flag", 'on', "1.10"]
          envFrom:
            - configMapRef:
                name: settings
"""
SERVICE_AND_LIST = """\
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  ports: [{{port: 80}}]
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ServiceAccount
    metadata:
      name: {name}-runner
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-local
  annotations:
    config.kubernetes.io/local-config: "true"
data: {{a: b}}
"""
PLAIN_BASE = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
labels:
  - pairs: {{app.kubernetes.io/name: {name}}}
    includeSelectors: true
commonAnnotations:
  team: ml
images:
  - name: {name}
    newName: quay.io/example/{name}
resources:
  - deployment.yaml
  - more.yaml
"""


def base_files(name: str, kustomization: str = PLAIN_BASE) -> dict[str, str]:
    return {
        f"base/{name}/kustomization.yaml": kustomization.format(name=name),
        f"base/{name}/deployment.yaml": DEPLOYMENT.format(name=name),
        f"base/{name}/more.yaml": SERVICE_AND_LIST.format(name=name),
    }


NOT_PLAIN = {
    "prefixed": "namePrefix: p-\nresources:\n- deployment.yaml\n- more.yaml\n",
    "generated": "configMapGenerator:\n- name: extra\n  literals: [a=b]\nresources:\n- deployment.yaml\n- more.yaml\n",
    "patched": 'patches:\n- target: {{kind: Service}}\n  patch: \'[{{"op": "replace", "path": "/metadata/name", "value": "renamed"}}]\'\nresources:\n- deployment.yaml\n- more.yaml\n',
    "namespaced": "namespace: elsewhere\nresources:\n- deployment.yaml\n- more.yaml\n",
    "nested": "resources:\n- deployment.yaml\n- sub\n",
}
SITE_TAIL = """\
images:
  - name: quay.io/example/alpha
    newTag: 1.0.0
    digest: sha256:{digest}
"""
SITES = {
    # overlays that rename, move, generate, patch by name and pin: all after the bases' renders
    "plain": "resources:\n  - ../../../base/alpha\n  - ../../../base/beta\n",
    "renamed": "namePrefix: edge-\nnameSuffix: -x\nnamespace: ml\nresources:\n  - ../../../base/alpha\n  - ../../../base/beta\n",
    "generated": (
        "configMapGenerator:\n  - name: settings\n    literals: [MODE=fast]\nresources:\n  - ../../../base/alpha\n  - ../../../base/beta\n"
        "patches:\n  - target: {kind: Deployment, name: beta}\n    patch: |-\n      - op: add\n        path: /spec/replicas\n        value: 3\n"
        "replicas:\n  - name: alpha\n    count: 2\ncommonLabels:\n  site: generated\n"
    ),
    # a local file and a base that is not plain between plain ones: three runs, read in order
    "mixed": (
        "resources:\n  - ../../../base/alpha\n  # a comment inside the list\n  - ../../../base/prefixed\n  - local.yaml\n"
        "  - ../../../base/beta\n  - ../../../base/generated\n  - ../../../base/patched\n  - ../../../base/namespaced\n  - ../../../base/gamma\n  - ../../../base/nested\n"
    ),
}
LOCAL = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local\ndata: {k: v}\n"


def make_fleet(root: Path) -> tuple[Path, list[Site], dict[str, str]]:
    files = {"gitops-mlops.yaml": "models: []\nstages:\n  - name: edge\n"}
    for name in ("alpha", "beta", "gamma"):
        files.update(base_files(name))
    for name, text in NOT_PLAIN.items():
        files.update(base_files(name, text))
    files["base/nested/sub/kustomization.yaml"] = "resources:\n- secret.yaml\n"
    files["base/nested/sub/secret.yaml"] = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: nested\n"
    sites, texts = [], {}
    for name, text in SITES.items():
        for n in range(3):  # distinct sites of each form
            site = Site(f"edge/{name}-{n}", f"overlays/edge/{name}-{n}", "edge")
            files[f"{site.path}/kustomization.yaml"] = text + SITE_TAIL.format(digest=f"{n:x}" * 64)
            files[f"{site.path}/local.yaml"] = LOCAL
            sites.append(site)
    build_tree(root, files)
    for site in sites:
        form = pin_invariant(files[f"{site.path}/kustomization.yaml"], site.path)
        assert form is not None
        texts[site.name] = form.text
    return root, sites, texts


def one_build_per_site(repo: Path, sites) -> dict[str, str]:
    kustomize = Kustomize.find()
    return {site.name: kustomize.build(repo / site.path) for site in sites}


def plan_of(repo: Path, site: Site, text: str | None = None):
    refs = References()
    walk_references(repo, site, (), refs)
    own = (repo / site.path).resolve()
    return Flattener(refs).plan(text if text is not None else (own / "kustomization.yaml").read_text(), own)


def test_only_plain_bases_are_flattened_and_in_runs_that_keep_the_order(tmp_path):
    repo, sites, _ = make_fleet(tmp_path / "repo")
    by_name = {site.name: site for site in sites}
    mixed = plan_of(repo, by_name["edge/mixed-0"])
    base = (repo / "base").resolve()
    assert mixed.runs() == [(base / "alpha",), (base / "beta",), (base / "gamma",)]
    text = mixed.text({run: f"FLAT-{run[0].name}" for run in mixed.runs()})
    assert text.splitlines()[:9] == [
        "resources:",
        "  - FLAT-alpha",
        "  # a comment inside the list",
        "  - ../../../base/prefixed",
        "  - local.yaml",
        "  - FLAT-beta",
        "  - ../../../base/generated",
        "  - ../../../base/patched",
        "  - ../../../base/namespaced",
    ]
    assert text.splitlines()[9] == "  - FLAT-gamma" and text.endswith(SITE_TAIL.format(digest="0" * 64))
    assert plan_of(repo, by_name["edge/plain-0"]).runs() == [(base / "alpha", base / "beta")]


@pytest.mark.parametrize(
    "change",
    [
        "sortOptions:\n  order: fifo\n",
        "buildMetadata: [originAnnotations]\n",
    ],
)
def test_a_site_whose_build_reads_load_order_or_origin_is_not_flattened(tmp_path, change):
    repo, sites, _ = make_fleet(tmp_path / "repo")
    site = sites[0]
    path = repo / site.path / "kustomization.yaml"
    assert plan_of(repo, site) is not None
    path.write_text(path.read_text() + change)
    assert plan_of(repo, site) is None
    path.write_text(path.read_text().replace(change, "components:\n  - ../common\n"))
    build_tree(repo, {"overlays/edge/common/kustomization.yaml": f"apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n{change}"})
    assert plan_of(repo, site) is None  # a component of the site asks for it


def test_a_base_with_a_symlinked_file_or_a_component_kind_is_not_plain(tmp_path):
    repo, sites, _ = make_fleet(tmp_path / "repo")
    site = sites[0]  # plain-0: alpha and beta
    alpha = repo / "base/alpha"
    (repo / "shared").mkdir()
    os.replace(alpha / "more.yaml", repo / "shared/more.yaml")
    os.symlink(repo / "shared/more.yaml", alpha / "more.yaml")
    assert [run[-1].name for run in plan_of(repo, site).runs()] == ["beta"]
    beta = repo / "base/beta/kustomization.yaml"
    beta.write_text(beta.read_text().replace("kind: Kustomization", "kind: Component"))
    assert plan_of(repo, site) is None


def test_flattened_renders_equal_kustomizes_own_for_every_form(tmp_path):
    repo, sites, texts = make_fleet(tmp_path / "repo")
    truth = one_build_per_site(repo, sites)
    flat = render_sites(repo, sites, texts=texts, flatten=True)
    as_they_are = render_sites(repo, sites, texts=texts, flatten=False)
    for site in sites:
        assert flat[site.name].ok, flat[site.name].error
        form = pin_invariant((repo / site.path / "kustomization.yaml").read_text(), site.path)
        assert flat[site.name].output == as_they_are[site.name].output and form.substitute(flat[site.name].output) == truth[site.name], site.name
    assert "edge-alpha-x" in flat["edge/renamed-0"].output and "settings-" in flat["edge/generated-0"].output
    assert 'quoted: "yes"' in flat["edge/plain-0"].output and "kind: ServiceAccount" in flat["edge/plain-0"].output


def test_a_site_whose_flattened_render_fails_gets_kustomizes_own_error(tmp_path):
    repo, sites, texts = make_fleet(tmp_path / "repo")
    broken = sites[0]
    path = repo / broken.path / "kustomization.yaml"
    path.write_text(path.read_text().replace("  - ../../../base/beta\n", "  - ../../../base/beta\n  - ../../../base/alpha\n", 1))
    texts[broken.name] = pin_invariant(path.read_text(), broken.path).text
    flat = render_sites(repo, sites, texts=texts, flatten=True)
    plain = render_sites(repo, sites, texts=texts, flatten=False)
    assert not flat[broken.name].ok and flat[broken.name].error == plain[broken.name].error
    assert "already registered id" in flat[broken.name].error and "base/alpha" in flat[broken.name].error
    assert all(flat[s.name].ok and flat[s.name].output == plain[s.name].output for s in sites[1:])


def logged(tmp_path: Path) -> tuple[Kustomize, Path]:
    log, script = tmp_path / "runs.log", tmp_path / "logged-kustomize"
    script.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {" ".join(Kustomize.find().command)} "$@"\n')
    script.chmod(0o755)
    log.write_text("")
    return Kustomize((str(script),)), log


@pytest.mark.parametrize("spec", ["example", "distinct"])
def test_fleets_render_the_same_flattened_with_each_base_rendered_once(tmp_path, spec):
    if spec == "example":
        repo = tmp_path / "example"
        build_tree(repo, {p: (PROJECT_ROOT / p).read_text() for p in git(PROJECT_ROOT, "ls-files", "gitops-mlops.yaml", "base", "overlays").split()})
    else:
        repo = tmp_path / "fleet"
        models = tuple((f"model-{i}", f"quay.io/example/model-{i}") for i in range(1, 5))
        layout = render_layout(ScaffoldSpec(models=models, edge_sites=edge_site_names(rendering.FLATTEN_FROM // len(models) + 4)))
        for path, text in layout.items():
            if path.startswith("overlays/edge/") and path.endswith("/kustomization.yaml"):
                text += f"commonAnnotations:\n  example.com/site: {path.split('/')[2]}\n"  # no two sites share a build
            layout[path] = text
        build_tree(repo, layout)
    sites = discover_sites(repo, load_config(repo))
    texts = {s.name: pin_invariant((repo / s.path / "kustomization.yaml").read_text(), s.path).text for s in sites}
    kustomize, log = logged(tmp_path)
    flat = render_sites(repo, sites, texts=texts, kustomize=kustomize)  # flattened by default from FLATTEN_FROM sites
    runs = log.read_text().splitlines()
    plain = render_sites(repo, sites, texts=texts, flatten=False)
    assert all(flat[s.name].ok and flat[s.name].output == plain[s.name].output for s in sites)
    bases = len(list((repo / "base").iterdir()))
    loads_saved = bases * len(sites) - bases  # every site names every base
    if spec == "example":  # five sites of three models: too few base loads to save, no base rendered on its own
        assert loads_saved < rendering.FLATTEN_FROM and not any("/f0" in run for run in runs)
    else:
        assert loads_saved >= rendering.FLATTEN_FROM and sum("/f0" in run for run in runs) == 1  # every base in one process, once
        assert bases == 4 and len(runs) == 1 + len(in_batches(sites, rendering.BATCH_SIZE, [1] * len(sites)))
