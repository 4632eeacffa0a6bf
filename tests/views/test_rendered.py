"""render SITE: the manifests exactly as kustomize renders them, from the cache or fresh."""

from __future__ import annotations

from testing.cli import cli
from testing.paths import DIGEST_B
from testing.repos import ship
from tests.config.test_scaffold import kustomize_build


def test_render_prints_what_kustomize_renders(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    for _ in range(2):  # fresh, then from the render cache
        result = cli("render", "datacenter", cwd=gitops_repo.work)
        assert result.code == 0, result.err
        assert result.out == kustomize_build(gitops_repo.work / "overlays/datacenter")
    assert f"@{DIGEST_B}" in result.out


def test_render_bad_input(gitops_repo):
    result = cli("render", "austin-01", cwd=gitops_repo.work)
    assert result.code == 2 and "did you mean edge/austin-01?" in result.err
    broken = gitops_repo.work / "overlays/cloud/kustomization.yaml"
    broken.write_text(broken.read_text().replace("resources:", "resources:\n  - ./missing.yaml"))
    result = cli("render", "cloud", cwd=gitops_repo.work)
    assert result.code in (2, 4) and "missing.yaml" in result.err and result.out == ""


def test_render_json_carries_the_same_text(gitops_repo):
    import json

    text = cli("render", "cloud", cwd=gitops_repo.work).out
    data = json.loads(cli("render", "cloud", "-o", "json", cwd=gitops_repo.work).out)
    assert data == {"site": "cloud", "manifests": text}
