"""Site discovery, selectors and containment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitops_mlops.config.load import parse_config
from gitops_mlops.config.sites import Site, contained, discover_sites, select
from gitops_mlops.core.errors import InputError
from testing.cli import cli

CONFIG = """\
models:
  - name: fraud-detector
    repository: quay.io/example/fraud-detector
stages:
  - name: datacenter
  - name: cloud
  - name: edge
"""


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def k(path: str) -> dict[str, str]:
    return {f"{path}/kustomization.yaml": "resources: []\n"}


def test_discovers_overlay_leaves_in_stage_order(tmp_path):
    write(tmp_path, {**k("overlays/edge/b"), **k("overlays/edge/a"), **k("overlays/cloud"), **k("overlays/datacenter")})
    sites = discover_sites(tmp_path, parse_config(CONFIG))
    assert [(s.name, s.stage, s.path) for s in sites] == [
        ("datacenter", "datacenter", "overlays/datacenter"),
        ("cloud", "cloud", "overlays/cloud"),
        ("edge/a", "edge", "overlays/edge/a"),
        ("edge/b", "edge", "overlays/edge/b"),
    ]


def test_only_leaves_are_sites(tmp_path):
    write(tmp_path, {**k("overlays/edge"), **k("overlays/edge/a")})
    assert [s.name for s in discover_sites(tmp_path, parse_config(CONFIG))] == ["edge/a"]


def test_configured_sites_adopt_another_layout(tmp_path):
    write(tmp_path, {**k("clusters/berlin/overlays/prod"), **k("clusters/dc1/overlays/prod")})
    config = parse_config(
        CONFIG
        + "sites:\n  - name: edge/berlin\n    path: clusters/berlin/overlays/prod\n    stage: edge\n"
        + "  - name: datacenter\n    path: clusters/dc1/overlays/prod\n"
    )
    sites = discover_sites(tmp_path, config)
    assert [(s.name, s.path, s.stage) for s in sites] == [
        ("datacenter", "clusters/dc1/overlays/prod", "datacenter"),
        ("edge/berlin", "clusters/berlin/overlays/prod", "edge"),
    ]


def test_two_kustomization_files_are_refused(tmp_path):
    write(tmp_path, {**k("overlays/cloud"), "overlays/cloud/kustomization.yml": "resources: []\n"})
    with pytest.raises(InputError, match="two kustomization files"):
        discover_sites(tmp_path, parse_config(CONFIG))


def test_symlinked_overlay_leaving_the_repo_is_refused(tmp_path):
    outside = tmp_path / "outside"
    write(outside, k("x"))
    repo = tmp_path / "repo"
    write(repo, k("overlays/cloud"))
    (repo / "overlays/edge").mkdir(parents=True)
    os.symlink(outside / "x", repo / "overlays/edge/evil")
    with pytest.raises(InputError, match="leaves the repository"):
        discover_sites(repo, parse_config(CONFIG))


def test_configured_site_path_leaving_the_repo_is_refused(tmp_path):
    repo = tmp_path / "repo"
    write(tmp_path, k("elsewhere"))
    repo.mkdir()
    config = parse_config(CONFIG + "sites:\n  - name: cloud\n    path: ../elsewhere\n")
    with pytest.raises(InputError, match="leaves the repository"):
        discover_sites(repo, config)


def test_contained_refuses_absolute_nul_and_loops(tmp_path):
    for bad, cause in [("/etc", "relative"), ("a\x00b", "NUL"), ("../x", "leaves")]:
        with pytest.raises(InputError, match=cause):
            contained(tmp_path, bad, "path")
    os.symlink("loop", tmp_path / "loop")
    with pytest.raises(InputError):
        contained(tmp_path, "loop/x", "path")


SITES = tuple(Site(n, f"overlays/{n}", n.split("/")[0]) for n in ["datacenter", "cloud", "edge/factory-1", "edge/factory-2", "edge/store-1"])


@pytest.mark.parametrize(
    "selectors,expected",
    [
        (["datacenter"], ["datacenter"]),
        (["edge"], ["edge/factory-1", "edge/factory-2", "edge/store-1"]),
        (["edge/factory-*"], ["edge/factory-1", "edge/factory-2"]),
        (["cloud", "edge/store-1", "cloud"], ["cloud", "edge/store-1"]),
        (["*"], ["datacenter", "cloud", "edge/factory-1", "edge/factory-2", "edge/store-1"]),
    ],
)
def test_selectors(selectors, expected):
    assert [s.name for s in select(SITES, selectors)] == expected


@pytest.mark.parametrize("selector", ["edg", "edge/factory", "mars", "edge/x*"])
def test_selector_matching_nothing_is_an_error(selector):
    with pytest.raises(InputError, match="matches no site"):
        select(SITES, [selector])


@pytest.mark.parametrize("selector", ["../edge", "/edge", "-x", "edge/../cloud", "ed ge", "edge\x00", "edge%2e%2e"])
def test_hostile_selectors_are_refused(selector):
    with pytest.raises(InputError, match="site selector"):
        select(SITES, [selector])


def test_shards_split_every_site_exactly_once_and_stay_put():
    from gitops_mlops.config.sites import shard

    sites = tuple(Site(f"edge/site-{i:04d}", f"overlays/edge/site-{i:04d}", "edge") for i in range(1, 1001))
    parts = [shard(sites, f"{k}/7") for k in range(1, 8)]
    assert sorted(s.name for p in parts for s in p) == sorted(s.name for s in sites)
    assert min(len(p) for p in parts) > 100  # roughly even
    fewer = shard(sites[:500], "3/7")  # a site's shard does not depend on the others
    assert set(fewer) == set(parts[2]) & set(sites[:500])


def test_an_unknown_site_or_model_suggests_the_closest_names(gitops_repo):
    site = cli("status", "--site", "edge/austin-1", cwd=gitops_repo.work)
    assert site.code == 2
    assert site.err.strip().splitlines()[-1].startswith("error: site selector 'edge/austin-1' matches no site; did you mean 'edge/austin-01'")
    model = cli("status", "--model", "fraud-detecter", cwd=gitops_repo.work)
    assert model.code == 2 and "did you mean 'fraud-detector'?" in model.err
    nothing_close = cli("status", "--site", "zzz", cwd=gitops_repo.work)
    assert nothing_close.code == 2 and nothing_close.err.strip().splitlines()[-1] == "error: site selector 'zzz' matches no site"
