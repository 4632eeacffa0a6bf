"""What a rollback goes back to (``plan_rollback``: the sites rendered now and one history walk for them
all, sharing their pin-invariant forms, pins read through those forms) proven equal to each site walked
alone with a render cache of its own, on generated histories: promotions to some stages, rollbacks,
header comments, quoting and pins changed by hand; and the plan whose walk is read in pieces, only as far
as the goals need, proven equal to the plan of the whole walk read at once."""

from __future__ import annotations

import random

import pytest

from gitops_mlops.change.intents import PromoteRequest, RollbackRequest
from gitops_mlops.config.load import load_config
from gitops_mlops.config.sites import discover_sites
from gitops_mlops.core.errors import GitOpsError
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.promote import rollbackplan
from gitops_mlops.promote.promotion import promote
from gitops_mlops.promote.rollback import rollback
from gitops_mlops.promote.rollbackplan import Target, _goal, _reached, plan_rollback
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.sitehistory import State
from testing.repos import FRAUD_REPO, GitOpsRepo, make_gitops_repo, ship
from tests.promote.test_rollback_fleet import walked_alone

SITES = ("site-0", "site-1", "site-2", "site-3")
STAGES = ("datacenter", "cloud", "edge")


def digest(n: int) -> str:
    return "sha256:" + f"{n:02x}" * 32


def hand_edit(repo: GitOpsRepo, rng: random.Random) -> None:
    """A header comment, a quoted tag or a tag changed by hand at one edge site, committed."""
    path = repo.work / f"overlays/edge/{rng.choice(SITES)}/kustomization.yaml"
    text = path.read_text()
    kind = rng.choice(["header", "quote", "tag"])
    if kind == "header":
        text = f"# edited by hand ({rng.randint(0, 99)})\n" + text
    else:
        lines = text.split("\n")
        at = [i for i, line in enumerate(lines) if line.strip().startswith("newTag:")]
        if not at:
            return
        i = rng.choice(at)
        value = lines[i].split(":", 1)[1].strip().strip("'\"")
        lines[i] = lines[i].split(":", 1)[0] + (f": '{value}'" if kind == "quote" else f": {value}-hand")
        text = "\n".join(lines)
    path.write_text(text)
    repo.git("commit", "-qam", f"{kind} by hand")


def generated_history(repo: GitOpsRepo, rng: random.Random) -> None:
    ship(repo, "1.1.0", digest(1), *STAGES)  # a release to go back to
    for n in range(2, 2 + rng.randint(4, 8)):
        step = rng.random()
        if step < 0.5:
            ship(repo, f"1.{n}.0", digest(n), *STAGES[: rng.choice([1, 2, 3, 3, 3])])
        elif step < 0.7:
            try:
                rollback(repo.work, RollbackRequest(model="fraud-detector", selectors=(f"edge/{rng.choice(SITES)}",)))
            except GitOpsError:
                pass  # nothing to go back to there: a generated history may ask for that
        else:
            hand_edit(repo, rng)


@pytest.mark.parametrize("seed", range(3))
def test_the_rollback_plan_equals_each_site_walked_alone(seed, tmp_path, monkeypatch):
    rng = random.Random(seed)
    repo = make_gitops_repo(tmp_path, SITES)
    generated_history(repo, rng)
    config = load_config(repo.work)
    model = config.model("fraud-detector")
    sites = tuple(s for s in discover_sites(repo.work, config) if s.stage == "edge")
    with RenderCache(repo.work) as cache:
        try:
            goals, _ = plan_rollback(repo.work, GitRepo(repo.work), config, model, sites, None, cache)
        except GitOpsError as exc:
            goals, failed = None, str(exc)
    monkeypatch.setenv("GITOPS_MLOPS_RENDER_CACHE", str(tmp_path / "reference-cache"))  # the reference renders afresh
    expected, errors = {}, []
    for site in sites:
        states = [State(*row) for row in walked_alone(repo.work, model.name, site, tmp_path / "alone" / site.name.replace("/", "-"))]
        try:
            goal = _goal(model, site, states, True, None) if states else None
        except GitOpsError as exc:
            errors.append(str(exc))
            continue
        if goal is not None and not _reached(goal, states[0]):
            expected[site.name] = (states[0].images, goal.images, goal.pin)
    if goals is None:
        assert failed in errors
        return
    assert not errors
    assert {g.site.name: (g.current.images, g.goal.images, g.goal.pin) for g in goals} == expected


def varied_history(repo: GitOpsRepo, rng: random.Random) -> list[str]:
    """Promotions of a stage or of one edge site (some sites never promoted, some once), rollbacks (some
    refused: nothing to go back to), the holds they leave (a promotion refused by one) and hand edits;
    returns the versions promoted."""
    versions = []
    for n in range(1, 2 + rng.randint(3, 12)):
        step, site = rng.random(), f"edge/{rng.choice(SITES)}"
        try:
            if step < 0.45:
                selectors = (rng.choice([*STAGES, site, site]),)
                request = PromoteRequest(model="fraud-detector", image=f"{FRAUD_REPO}:1.{n}.0@{digest(n)}", selectors=selectors, force_order=True)
                promote(repo.work, request)
                versions.append(f"1.{n}.0")
            elif step < 0.7:
                rollback(repo.work, RollbackRequest(model="fraud-detector", selectors=(rng.choice([site, "edge"]),)))
            else:
                hand_edit(repo, rng)
        except GitOpsError:
            pass  # refused (a hold, nothing to go back to): a generated history may ask for that
    return versions


def planned(repo: GitOpsRepo, piece: int | None, to: str | None, monkeypatch) -> list[Target] | str:
    monkeypatch.setattr(rollbackplan, "FIRST_PIECE", piece)
    config = load_config(repo.work)
    sites = tuple(s for s in discover_sites(repo.work, config) if s.stage == "edge")
    with RenderCache(repo.work) as cache:
        try:
            return plan_rollback(repo.work, GitRepo(repo.work), config, config.model("fraud-detector"), sites, to, cache)[0]
        except GitOpsError as exc:
            return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("seed", range(12))
def test_the_plan_read_in_pieces_equals_the_plan_of_the_whole_walk(seed, tmp_path, monkeypatch):
    rng = random.Random(seed)
    repo = make_gitops_repo(tmp_path, SITES)
    versions = varied_history(repo, rng)
    for to in [None, *rng.sample(versions, min(2, len(versions))), "9.9.9"]:
        whole = planned(repo, None, to, monkeypatch)
        for piece in (1, 2):
            assert planned(repo, piece, to, monkeypatch) == whole, (piece, to)
