"""The fast paths of a fleet's history, each proven equal to its reference on generated histories:
kustomizations read by the object ids the log names (against reading REV:PATH at every commit),
git log asked for top-level folders (against every folder), pins parsed once per text without
its header (against each text parsed), and the retry's answer on a fleet with holds."""

from __future__ import annotations

import shutil

import pytest

from gitops_mlops.change.intents import RollbackRequest
from gitops_mlops.config.load import load_config
from gitops_mlops.config.sites import discover_sites
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.promote.rollback import rollback
from gitops_mlops.render import sitehistory
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.sitehistory import FleetHistory
from testing.paths import DIGEST_A, DIGEST_B, DIGEST_C
from testing.repos import GitOpsRepo, make_gitops_repo, ship
from tests.promote.test_rollback_fleet import EIGHT, varied_history, walked_alone


def deleted_and_restored(repo: GitOpsRepo) -> None:
    """A site's folder removed and brought back, a site's header rewritten, then promotions over it."""
    site = repo.work / "overlays/edge/site-5"
    kept = repo.work.parent / "kept-site-5"
    shutil.copytree(site, kept)
    shutil.rmtree(site)
    repo.git("commit", "-qam", "site-5 gone for a while")
    shutil.copytree(kept, site)
    file = site / "kustomization.yaml"
    file.write_text("# a header written by hand\n\n" + file.read_text())
    repo.git("add", "-A")
    repo.git("commit", "-qm", "site-5 back, with a header")
    ship(repo, "1.6.0", "sha256:" + "d" * 64, "datacenter", "cloud", "edge")


def fleet_states(repo: GitOpsRepo, model_name: str, limit: int = sitehistory.MAX_COMMITS) -> dict[str, list[tuple]]:
    config = load_config(repo.work)
    model, sites = config.model(model_name), discover_sites(repo.work, config)
    with (
        RenderCache(repo.work) as cache,
        FleetHistory(repo.work, GitRepo(repo.work), config, model, [(s, model.pin_name) for s in sites], cache, limit) as fleet,
    ):
        for depth in range(max(fleet.count(s.name) for s in sites)):
            fleet.states({s.name: depth for s in sites if depth < fleet.count(s.name)})
        return {
            site.name: [(s.commit, s.images, s.pin, s.record, s.error) for s in (fleet.lines[site.name].states[i] for i in range(fleet.count(site.name)))]
            for site in sites
        }


@pytest.fixture
def history(tmp_path) -> GitOpsRepo:
    repo = make_gitops_repo(tmp_path / "history", EIGHT)
    varied_history(repo)
    deleted_and_restored(repo)
    return repo


def test_states_read_by_object_id_equal_each_site_read_by_path(history, tmp_path):
    states = fleet_states(history, "fraud-detector")
    assert any(s[4] for s in states["edge/site-5"]), "the commit without site-5 is one of its states, and does not render"
    for site, got in states.items():
        assert got == walked_alone(
            history.work,
            "fraud-detector",
            next(s for s in discover_sites(history.work, load_config(history.work)) if s.name == site),
            tmp_path / site.replace("/", "-"),
        ), site


def test_a_history_cut_at_its_limit_reads_by_path_where_the_log_does_not_tell(history):
    whole, cut = fleet_states(history, "fraud-detector"), fleet_states(history, "fraud-detector", limit=3)
    assert cut == {site: states[:3] for site, states in whole.items()}


def test_top_level_pathspecs_list_the_same_commits_as_every_folder(history, monkeypatch):
    monkeypatch.setattr(sitehistory, "MANY_FOLDERS", 10_000)
    exact = fleet_states(history, "demand-forecast")
    monkeypatch.setattr(sitehistory, "MANY_FOLDERS", 0)
    assert fleet_states(history, "demand-forecast") == exact


def test_object_ids_of_the_log_are_the_files_at_each_commit(history):
    git = GitRepo(history.work)
    for commit, changed, objects in git.log_changes("HEAD", ["overlays", "base"]):
        for path, oid in zip(changed, objects, strict=True):
            blob = git.run("rev-parse", "--verify", "--quiet", f"{commit.sha}:{path}").strip() if git.existing([f"{commit.sha}:{path}"]) else "0" * 40
            assert oid == blob, (commit.subject, path)


def test_the_retried_rollback_of_a_fleet_with_holds_does_nothing(tmp_path):
    repo = make_gitops_repo(tmp_path, EIGHT)
    ship(repo, "1.3.0", DIGEST_A, "datacenter", "cloud", "edge")
    ship(repo, "1.4.0", DIGEST_B, "datacenter", "cloud", "edge")
    first = rollback(repo.work, RollbackRequest(model="fraud-detector", selectors=("edge",)))
    assert len(first.changed) == len(EIGHT)
    ship(repo, "1.5.0", DIGEST_C, "datacenter", "cloud", "edge/site-1", "edge/site-2")
    second = rollback(repo.work, RollbackRequest(model="fraud-detector", selectors=("edge",)))
    assert second.changed == ("edge/site-1", "edge/site-2")
    again = rollback(repo.work, RollbackRequest(model="fraud-detector", selectors=("edge",)))
    assert again.changed == () and len(again.unchanged) == len(EIGHT)
