"""render.mirror: a site rendered from another text, from a mirror of its folder; the repository untouched."""

from __future__ import annotations

from gitops_mlops.config.sites import Site
from gitops_mlops.render.inputs import References, buildable_sites, site_keys
from gitops_mlops.render.kustomize import Kustomize
from gitops_mlops.render.mirror import mirror, mirrorable
from testing.repos import build_tree, tree_snapshot

FILES = {
    "base/kustomization.yaml": "resources:\n- cm.yaml\n",
    "base/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: '1'\n",
    "overlays/edge/one/kustomization.yaml": "resources:\n- ../../../base\nnamePrefix: one-\n",
    "overlays/edge/one/extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n",
}


def test_a_mirror_renders_the_given_text_and_leaves_the_repository_alone(tmp_path):
    repo = tmp_path / "repo"
    build_tree(repo, FILES)
    site = Site("edge/one", "overlays/edge/one", "edge")
    refs = References()
    assert buildable_sites(repo, [site], (), refs)[1] == {}
    site_keys(repo, [site], refs)  # what a render reads first: the files of each folder
    assert mirrorable(repo, site, refs)
    before = tree_snapshot(repo)
    folder = mirror(repo, tmp_path / "m", site, "resources:\n- ../../../base\n- extra.yaml\nnamePrefix: two-\n", refs)
    assert folder == tmp_path / "m" / "overlays/edge/one" and (tmp_path / "m" / "base").is_symlink()
    output = Kustomize.find().build(folder)
    assert "name: two-app" in output and "name: two-extra" in output
    assert tree_snapshot(repo) == before


def test_a_site_inside_a_folder_it_reads_is_not_mirrorable(tmp_path):
    repo = tmp_path / "repo"
    build_tree(repo, {**FILES, "common/kustomization.yaml": "resources:\n- ../base\n", "common/site/kustomization.yaml": "resources:\n- ..\n"})
    site = Site("site", "common/site", "edge")
    refs = References()
    assert buildable_sites(repo, [site], (), refs)[1] == {}
    site_keys(repo, [site], refs)  # what a render reads first: the files of each folder
    assert not mirrorable(repo, site, refs)
