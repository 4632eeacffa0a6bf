"""The render state: renders are cached in the git directory (or a shared cache directory) by
the content of each site's inputs, never served stale or forged, and the render a cached site
gets is the one ``kustomize build`` of the repository gives (repositories from
``tests/render/test_state_truth.py``)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import zlib
from pathlib import Path

import pytest

from gitops_mlops.render.kustomize import Kustomize
from testing.cli import cli
from testing.repos import make_gitops_repo, make_repo_from
from tests.render.test_state_truth import D2, IN_BASE, REPO, deployment


@pytest.mark.own_render_cache
def test_the_render_cache_lives_in_the_git_directory_and_is_keyed_by_content(tmp_path):
    repo = make_repo_from(tmp_path, IN_BASE)
    assert cli("status", cwd=repo.work).code == 0
    assert (repo.work / ".git/gitops-mlops/renders.sqlite").is_file()
    assert repo.git("status", "--porcelain") == ""
    (repo.work / "base/deployment.yaml").write_text(deployment("fraud-detector", f"{REPO}:1.0.1@{D2}"))
    rows = {r["site"]: r for r in json.loads(cli("status", "-o", "json", cwd=repo.work).out)}
    assert rows["dev"]["digest"] == D2  # a changed input is rendered again, never served stale


@pytest.mark.own_render_cache
@pytest.mark.parametrize("row", [b"not zlib at all", zlib.compress(b"kind: Forged\n")], ids=["not-zlib", "not-its-sha"])
def test_a_cache_row_that_is_not_what_was_stored_is_a_miss(tmp_path, row):
    repo = make_gitops_repo(tmp_path)
    first = cli("render", "datacenter", cwd=repo.work)
    assert first.code == 0 and "kind: Deployment" in first.out, first.err
    with sqlite3.connect(repo.work / ".git/gitops-mlops/renders.sqlite") as db:
        assert db.execute("UPDATE renders SET output = ? WHERE output IS NOT NULL", (row,)).rowcount > 0
    again = cli("render", "datacenter", cwd=repo.work)
    assert (again.code, again.out, again.err) == (0, first.out, "")  # rendered again, never served, never a traceback


def test_a_cache_directory_serves_every_repository_and_off_renders_afresh(tmp_path, monkeypatch):
    shared = tmp_path / "cache"
    monkeypatch.setenv("GITOPS_MLOPS_RENDER_CACHE", str(shared))
    log, script = tmp_path / "runs.log", tmp_path / "counted-kustomize"
    script.write_text(f'#!/bin/sh\necho run >> {log}\nexec {" ".join(Kustomize.find().command)} "$@"\n')
    script.chmod(0o755)
    env = {"GITOPS_MLOPS_KUSTOMIZE": str(script)}
    (tmp_path / "one").mkdir(), (tmp_path / "two").mkdir()
    one, two = make_repo_from(tmp_path / "one", IN_BASE), make_repo_from(tmp_path / "two", IN_BASE)
    assert cli("status", cwd=one.work, env=env).code == 0
    runs = log.read_text().count("run")
    assert runs > 0 and (shared / "renders.sqlite").is_file() and not (one.work / ".git/gitops-mlops").exists()
    assert cli("status", cwd=two.work, env=env).code == 0
    assert log.read_text().count("run") == runs  # the other repository's renders, found by content
    (two.work / "base/deployment.yaml").write_text(deployment("fraud-detector", f"{REPO}:1.0.1@{D2}"))
    rows = {r["site"]: r for r in json.loads(cli("status", "-o", "json", cwd=two.work, env=env).out)}
    assert rows["dev"]["digest"] == D2 and log.read_text().count("run") > runs
    runs = log.read_text().count("run")
    assert cli("status", cwd=one.work, env={**env, "GITOPS_MLOPS_RENDER_CACHE": "off"}).code == 0
    assert log.read_text().count("run") > runs


def test_status_of_a_repository_without_git_still_renders(tmp_path):
    from testing.repos import build_tree

    build_tree(tmp_path, IN_BASE)
    result = cli("status", "-o", "json", cwd=tmp_path)
    assert result.code == 0 and len(json.loads(result.out)) == 2, result.err
    assert not (Path(tmp_path) / ".git").exists()


def test_a_bad_kustomize_timeout_is_refused_even_when_the_cache_serves_every_site(tmp_path):
    repo = make_repo_from(tmp_path, IN_BASE)
    assert cli("status", cwd=repo.work).code == 0  # every render is cached now
    result = cli("status", cwd=repo.work, env={"GITOPS_MLOPS_KUSTOMIZE_TIMEOUT": "0"})
    assert result.code == 2 and "GITOPS_MLOPS_KUSTOMIZE_TIMEOUT" in result.err and result.err.count("\n") == 1, result.err


def test_a_symlink_inside_the_site_renders_as_kustomize_renders_it_in_the_repository(tmp_path):
    """The copy a pin-invariant render builds keeps symlinks as symlinks: one within the site's folder
    is read, as ``kustomize build`` of the repository reads it; none becomes a copy of its target."""
    repo = make_gitops_repo(tmp_path)
    site = repo.work / "overlays/datacenter"
    (site / "real.env").write_text("LEVEL=inside\n")
    (site / "linked.env").symlink_to("real.env")
    with open(site / "kustomization.yaml", "a") as handle:
        handle.write("configMapGenerator:\n  - name: linked\n    envs:\n      - linked.env\n")
    rendered = cli("render", "datacenter", cwd=repo.work)
    expected = subprocess.run([*Kustomize.find().command, str(site)], capture_output=True, text=True, check=True).stdout
    assert rendered.code == 0 and "LEVEL: inside" in rendered.out, rendered.err
    assert rendered.out.strip() == expected.strip()


@pytest.mark.own_render_cache
def test_a_render_served_from_its_pin_invariant_form_carries_the_sha_of_its_output(tmp_path):
    """A site whose pins changed is served from its pin-invariant render; asked for containers only, its
    entry still has the sha256 of the output kustomize builds (an empty one would make verdicts kept by
    output sha shared between different outputs), in this command and in the next."""
    import hashlib

    from gitops_mlops.config.load import load_config
    from gitops_mlops.config.sites import discover_sites
    from gitops_mlops.render.state import render_state

    repo = make_gitops_repo(tmp_path)
    config = load_config(repo.work)
    sites = discover_sites(repo.work, config)
    render_state(repo.work, config, sites, invariants=True)  # every pin-invariant render kept
    path = repo.work / "overlays/edge/austin-01/kustomization.yaml"
    old = "sha256:65f0ff1db0545894e8327a0f6c4e26423ea6d5a6499bb37ba82a3559cdf86a0e"
    path.write_text(path.read_text().replace(old, "sha256:" + "7" * 64))
    built = Kustomize.find().build(path.parent)
    want = hashlib.sha256(built.encode()).hexdigest()
    site = next(s for s in sites if s.name.endswith("austin-01"))
    assert render_state(repo.work, config, [site])[site.name].output_sha == want
    again = render_state(repo.work, config, [site], outputs=True)[site.name]
    assert (again.output_sha, again.output) == (want, built)
