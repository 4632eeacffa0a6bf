"""Rollback as a fleet operation: one history walk for every selected site, proven equal to
walking each site alone; git work that does not grow with the number of sites; progress on a terminal."""

from __future__ import annotations

import shutil
from pathlib import Path

from gitops_mlops.change.intents import RollbackRequest
from gitops_mlops.config.load import load_config
from gitops_mlops.config.sites import Site, discover_sites, select
from gitops_mlops.core import progress
from gitops_mlops.core.errors import GitOpsError
from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.pins import kustomization
from gitops_mlops.promote.rollback import rollback
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.inputs import References, site_closure, walk_references
from gitops_mlops.render.sitehistory import FleetHistory, site_states
from gitops_mlops.render.state import ModelMatcher, render_state
from testing.paths import DIGEST_A, DIGEST_B, DIGEST_C
from testing.repos import GitOpsRepo, make_gitops_repo, ship

EIGHT = tuple(f"site-{n}" for n in range(8))


def walked_alone(repo: Path, model_name: str, site: Site, tmp: Path) -> list[tuple]:
    """The reference: the site's own git log, and per commit its file, its folders extracted, one render."""
    config, git = load_config(repo), GitRepo(repo)
    model = config.model(model_name)
    with RenderCache(repo) as cache:
        refs = References(parsed=cache.references())
        walk_references(repo, site, (), refs)
        folders = list(site_closure(repo, site, refs))
        rel = f"{site.path}/kustomization.yaml"
        out = []
        for n, commit in enumerate(git.log_trailers("HEAD", paths=folders, first_parent=True)):
            text = git.show_file(commit.sha, rel)
            try:
                pin = next((p for p in kustomization.pins(text, rel) if p.name == model.pin_name), None) if text else None
            except GitOpsError:
                pin = None
            tree = tmp / f"{site.name.replace('/', '-')}-{n}"
            tree.mkdir(parents=True)
            git.extract(commit.sha, git.paths_at(commit.sha, folders), tree)
            state = render_state(tree, config, (Site(site.name, site.path, site.stage),), cache=cache)[site.name]
            found = ModelMatcher(config).by_model(site.name, state.containers).get(model.name, [])
            out.append((commit.sha, tuple(sorted({c.image for c in found})), pin, trailers.read(commit), state.error))
        return out


def varied_history(repo: GitOpsRepo) -> None:
    """Promotions, a rollback, a hand edit of a base, a pin changed by hand, and a site added late."""
    ship(repo, "1.3.0", DIGEST_A, "datacenter", "cloud", "edge")  # a release to roll back to
    ship(repo, "1.4.0", DIGEST_B, "datacenter", "cloud", "edge")
    rollback(repo.work, RollbackRequest(model="fraud-detector", selectors=("edge/site-1",)))
    base = repo.work / "base/demand-forecast/kustomization.yaml"
    base.write_text(base.read_text() + "commonLabels:\n  team: forecasting\n")
    repo.git("commit", "-qam", "label the forecast by hand")
    site = repo.work / "overlays/edge/site-2/kustomization.yaml"
    site.write_text(site.read_text().replace("newTag: 1.0.0", "newTag: 1.0.1", 1))
    repo.git("commit", "-qam", "a tag changed by hand")
    shutil.copytree(repo.work / "overlays/edge/site-3", repo.work / "overlays/edge/site-late")
    repo.git("add", "-A")
    repo.git("commit", "-qm", "a site added late")
    ship(repo, "1.5.0", DIGEST_C, "datacenter", "cloud", "edge")


def test_one_walk_for_the_fleet_equals_each_site_walked_alone(tmp_path):
    repo = make_gitops_repo(tmp_path, EIGHT)
    varied_history(repo)
    config = load_config(repo.work)
    sites = discover_sites(repo.work, config)
    for model in (config.model("fraud-detector"), config.model("demand-forecast")):
        with RenderCache(repo.work) as cache, FleetHistory(repo.work, GitRepo(repo.work), config, model, [(s, model.pin_name) for s in sites], cache) as fleet:
            for depth in range(max(fleet.count(s.name) for s in sites)):
                fleet.states({s.name: depth for s in sites if depth < fleet.count(s.name)})
            for site in sites:
                got = [(s.commit, s.images, s.pin, s.record, s.error) for s in (fleet.lines[site.name].states[i] for i in range(fleet.count(site.name)))]
                assert got == walked_alone(repo.work, model.name, site, tmp_path / "alone" / model.name), site.name
    assert len({s.images for s in site_states(repo.work, GitRepo(repo.work), config, model, sites[-1], model.pin_name, RenderCache(repo.work))}) > 1


def git_processes(repo: GitOpsRepo, selectors: tuple[str, ...], trace: Path, monkeypatch) -> int:
    monkeypatch.setenv("GIT_TRACE", str(trace))
    result = rollback(repo.work, RollbackRequest(model="fraud-detector", selectors=selectors))
    monkeypatch.delenv("GIT_TRACE")
    assert result.changed == tuple(sorted(result.changed)) and len(result.changed) == len(select(discover_sites(repo.work, load_config(repo.work)), selectors))
    return sum(1 for line in trace.read_text().splitlines() if "trace: built-in: git" in line)


def test_rolling_back_eight_sites_runs_no_more_git_than_one(tmp_path, monkeypatch):
    one, fleet = make_gitops_repo(tmp_path / "one", EIGHT), make_gitops_repo(tmp_path / "fleet", EIGHT)
    for repo in (one, fleet):
        ship(repo, "1.3.0", DIGEST_A, "datacenter", "cloud", "edge")  # a release to roll back to
        ship(repo, "1.4.0", DIGEST_B, "datacenter", "cloud", "edge")
    alone = git_processes(one, ("edge/site-0",), tmp_path / "one.trace", monkeypatch)
    together = git_processes(fleet, ("edge",), tmp_path / "fleet.trace", monkeypatch)
    assert together == alone > 0


def test_the_retry_reads_no_tree_of_an_earlier_commit(tmp_path, monkeypatch):
    repo = make_gitops_repo(tmp_path, EIGHT)
    ship(repo, "1.3.0", DIGEST_A, "datacenter", "cloud", "edge")  # a release to roll back to
    ship(repo, "1.4.0", DIGEST_B, "datacenter", "cloud", "edge")
    rollback(repo.work, RollbackRequest(model="fraud-detector", selectors=("edge",)))
    monkeypatch.setenv("GIT_TRACE", str(tmp_path / "trace"))
    again = rollback(repo.work, RollbackRequest(model="fraud-detector", selectors=("edge",)))
    monkeypatch.delenv("GIT_TRACE")
    assert again.changed == () and len(again.unchanged) == len(EIGHT)
    assert "git archive" not in (tmp_path / "trace").read_text()  # the newest states are what the sites render now; older ones substitute pins


def test_rollback_shows_progress_only_on_a_terminal(gitops_repo, monkeypatch, capsys):
    ship(gitops_repo, "1.3.0", DIGEST_A, "datacenter", "cloud", "edge")  # a release to roll back to
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud", "edge")
    monkeypatch.setattr(progress, "DELAY", 0.0)
    rollback(gitops_repo.work, RollbackRequest(model="fraud-detector", selectors=("edge/austin-01",)))
    assert "reading site histories" not in capsys.readouterr().err  # stderr is no terminal: progress stays off
    monkeypatch.setattr(progress, "_enabled", True)
    rollback(gitops_repo.work, RollbackRequest(model="fraud-detector", selectors=("edge",)))
    err = capsys.readouterr().err
    assert "reading site histories [" in err and err.endswith("\r\033[K")
