"""A site's earlier states, read from its renders at the commits that touch its inputs (its overlay and
every folder its build reads), newest first, each with what the commit says it did."""

from __future__ import annotations

from gitops_mlops.config.load import load_config
from gitops_mlops.config.sites import discover_sites, select
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.sitehistory import FleetHistory, site_states
from testing.paths import DIGEST_B, DIGEST_C
from testing.repos import pin_at, ship


def states(repo, site: str, model: str = "fraud-detector", limit: int = 1000):
    config = load_config(repo.work)
    (chosen,) = select(discover_sites(repo.work, config), (site,))
    m = config.model(model)
    with RenderCache(repo.work) as cache:
        return list(site_states(repo.work, GitRepo(repo.work), config, m, chosen, m.pin_name, cache, limit))


def touch_base(repo, message: str) -> None:
    """A change by hand to a file every site's build reads: a state of each, with no record."""
    path = next((repo.work / "base").rglob("kustomization.yaml"))
    path.write_text(path.read_text() + "# reviewed\n")
    repo.git("commit", "-qam", message)


def test_a_sites_states_are_its_renders_newest_first_with_their_records(gitops_repo):
    first = pin_at(gitops_repo, "datacenter").digest
    ship(gitops_repo, "1.3.0", DIGEST_C, "datacenter")
    touch_base(gitops_repo, "a comment in base, by hand")
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    found = states(gitops_repo, "datacenter")
    assert [s.digest for s in found] == [DIGEST_B, DIGEST_C, DIGEST_C, first]
    assert [s.version for s in found] == ["1.4.0", "1.3.0", "1.3.0", "1.0.0"]
    assert found[0].commit == gitops_repo.head()
    assert [s.record.action if s.record else None for s in found[:3]] == ["promote", None, "promote"]
    assert found[1].record is None and not found[1].error  # a hand-made change is a state too


def test_a_commit_touching_only_another_site_is_not_a_state(gitops_repo):
    ship(gitops_repo, "1.3.0", DIGEST_C, "datacenter")
    before = [s.commit for s in states(gitops_repo, "cloud")]
    assert gitops_repo.git("rev-parse", "HEAD").strip() not in before
    assert len(before) == 1  # the commit that made the repository


def test_the_pin_of_each_state_is_the_sites_own_at_that_commit(gitops_repo):
    ship(gitops_repo, "1.3.0", DIGEST_C, "datacenter")
    newest, oldest = states(gitops_repo, "datacenter")
    assert newest.pin.digest == DIGEST_C and oldest.pin.digest != DIGEST_C


def test_one_walk_serves_several_sites(gitops_repo):
    ship(gitops_repo, "1.3.0", DIGEST_C, "datacenter", "cloud")
    config = load_config(gitops_repo.work)
    model = config.model("fraud-detector")
    sites = select(discover_sites(gitops_repo.work, config), ("datacenter", "cloud"))
    with (
        RenderCache(gitops_repo.work) as cache,
        FleetHistory(gitops_repo.work, GitRepo(gitops_repo.work), config, model, [(s, model.pin_name) for s in sites], cache) as history,
    ):
        assert {s.name: history.count(s.name) for s in sites} == {"datacenter": 2, "cloud": 2}
        got = history.states({"datacenter": 0, "cloud": 1})
    assert got["datacenter"].digest == DIGEST_C and got["cloud"].digest != DIGEST_C
