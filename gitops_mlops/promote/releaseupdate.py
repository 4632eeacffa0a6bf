"""``update --release NAME``: per stage, the newest combination of the release's members whose
versions the stage's ``constraint`` all allows and that meet every ``requires:`` between them,
promoted as the release (``promote --release``: one commit per stage).

Everything the registry is asked (each member's tags, one manifest per chosen tag, the labels of
the candidates whose model has a ``requiresLabel``) happens before anything is written. The
combinations are tried newest first: the first member's newest allowed version, then the
second's, and so on (at most ``CANDIDATES`` versions of each); the first that meets both the
``requires:`` of the config and what each member's image label requires of the others is
chosen. A label is read only for a combination the config's ``requires:`` admits, each image's
at most once per command (by digest, shared with the promotion that follows). Only
the members that run at the stage's sites are moved. Stages are applied from the last to the
first, so a stage is judged against what the stage before ran when the command started; a
stage the gate refuses is ``waiting``, one a hold refuses is ``held``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from gitops_mlops.change.intents import Publish
from gitops_mlops.config.load import Config, Stage, load_config
from gitops_mlops.config.releases import Release
from gitops_mlops.config.sites import Site, discover_sites, select
from gitops_mlops.core.errors import PolicyError
from gitops_mlops.core.imageref import parse_repository
from gitops_mlops.core.semrange import parse_range, parse_version
from gitops_mlops.promote import policy
from gitops_mlops.promote.combination import Member, combinations
from gitops_mlops.promote.labelrequires import LabelRequirements
from gitops_mlops.promote.releaseresult import ReleaseRequest
from gitops_mlops.promote.releases import promote_release
from gitops_mlops.registry import client as registry
from gitops_mlops.render.cache import RenderCache

CANDIDATES = 20  # the newest allowed versions of each member tried


@dataclass(frozen=True)
class ReleaseStageUpdate:
    release: str
    stage: str
    status: str  # updated | would-update | up-to-date | waiting | held | no-match
    members: tuple[tuple[str, str, str], ...] = ()  # (model, version, image with digest) of the combination chosen
    sites: tuple[str, ...] = ()
    note: str = ""
    commit: str | None = None
    pushed: bool = False
    diff: str = ""
    notes: tuple[str, ...] = ()  # what the user is told on stderr (an image label not read)

    def as_json(self) -> dict:
        return {
            "release": self.release,
            "stage": self.stage,
            "status": self.status,
            "members": [{"model": m, "version": v, "image": i or None} for m, v, i in self.members],
            "sites": list(self.sites),
            "note": self.note,
            "commit": self.commit,
            "pushed": self.pushed,
        }


def update_release(
    repo_dir: Path,
    name: str,
    selectors: tuple[str, ...] = (),
    insecure_registries: tuple[str, ...] = (),
    publish: Publish = Publish(),
    client: registry.RegistryClient | None = None,
) -> list[ReleaseStageUpdate]:
    repo_dir = Path(repo_dir).resolve()
    config = load_config(repo_dir)
    release = config.release(name)
    publish.check_for(config.hydrate.branch if config.hydrate else None)
    for model in release.members:  # policy before any registry is contacted
        policy.check_source(config, config.model(model), parse_repository(config.model(model).repository))
    all_sites = discover_sites(repo_dir, config)
    chosen = select(all_sites, selectors) if selectors else all_sites
    with RenderCache(repo_dir) as cache:
        running = combinations(repo_dir, config, release.members, chosen, cache)
    own = client is None
    client = client or registry.RegistryClient(registry.endpoints_for(config.registries, insecure_registries).values())
    labelled = LabelRequirements(config, insecure_registries, client=client)
    try:
        planned = _plan(config, release, client, chosen, all_sites, running, TagLabels(config, client, labelled))
    finally:
        if own:
            client.close()
    planned = [replace(item, notes=tuple(labelled.notes)) for item in planned]  # what choosing the combinations could not read
    return [_apply(repo_dir, release, item, publish, insecure_registries, labelled.labels) if item.status == "would-update" else item for item in planned]


class TagLabels:
    """``(model, tag) -> ((other, range), ...)``: what the image the tag names states it requires (its ``requiresLabel``),
    the tag resolved once (``image``: the reference with its digest, for the promotion) and the label read once per digest."""

    def __init__(self, config: Config, client, labelled: LabelRequirements) -> None:
        self.config, self.client, self.labelled = config, client, labelled
        self._images: dict[tuple[str, str], str] = {}

    def image(self, model: str, tag: str) -> str:
        if (model, tag) not in self._images:
            ref = parse_repository(self.config.model(model).repository)
            self._images[model, tag] = f"{ref.repository}:{tag}@{self.client.head(ref, tag).digest}"
        return self._images[model, tag]

    def __call__(self, model: str, tag: str) -> tuple[tuple[str, str], ...]:
        found = self.config.model(model)
        return self.labelled(found, self.image(model, tag)) if found.requires_label else ()


def _plan(
    config: Config, release: Release, client, chosen: tuple[Site, ...], all_sites: tuple[Site, ...], running: dict, labels: TagLabels
) -> list[ReleaseStageUpdate]:
    tags: dict[str, list] = {}
    out = []
    order = [s.name for s in config.stages] + sorted({s.stage for s in all_sites} - {s.name for s in config.stages})
    stages = {s.name: s for s in config.stages}
    for name in reversed(order):
        stage = stages.get(name, Stage(name))
        sites = [s for s in chosen if s.stage == name and any(running[s.name][m].image for m in release.members)]
        if not sites:
            continue
        here = [m for m in release.members if any(running[s.name][m].image for s in sites)]
        for model in here:
            if model not in tags:
                ref = parse_repository(config.model(model).repository)
                tags[model] = sorted(((v, t) for t in client.list_tags(ref) if (v := parse_version(t)) is not None), reverse=True)
        rule = parse_range(stage.constraint)
        allowed = {m: [(v, t) for v, t in tags[m] if rule.allows(v, stage.prereleases)][:CANDIDATES] for m in here}
        combo = newest_compatible(config, allowed, labels)
        if combo is None:
            what = (
                "no allowed version of " + ", ".join(m for m in here if not allowed[m]) if not all(allowed.values()) else "no combination of them is compatible"
            )
            out.append(ReleaseStageUpdate(release.name, name, "no-match", note=f"{what} ({stage.constraint or 'any semantic version'})"))
            continue
        behind = tuple(s.name for s in sites if any(_older(running[s.name][m], combo[m][0]) for m in here))
        members = tuple((m, combo[m][1], "") for m in here)
        if not behind:
            out.append(ReleaseStageUpdate(release.name, name, "up-to-date", members))
            continue
        images = tuple((model, tag, labels.image(model, tag)) for model, tag, _ in members)
        out.append(ReleaseStageUpdate(release.name, name, "would-update", images, behind))
    return out


def newest_compatible(config: Config, allowed: dict[str, list], labels: Callable[[str, str], tuple] | None = None) -> dict[str, tuple] | None:
    """model -> (version, tag): the newest combination of ``allowed`` (newest first, member by member)
    meeting every ``requires:`` between its members, and every requirement ``labels`` (model, tag) reads
    from a member's image label of another member; None when there is none."""
    names = list(allowed)
    if not names or not all(allowed.values()):
        return None
    rules = [(a, b, parse_range(text)) for a in names for b, text in config.model(a).requires if b in allowed]
    ranges: dict[str, object] = {}

    def stated(a: str, tag: str) -> list[tuple[str, object]]:  # what a member's image label requires of the other members
        found = [(b, text) for b, text in labels(a, tag) if b in allowed] if labels is not None else []
        return [(b, ranges[text] if text in ranges else ranges.setdefault(text, parse_range(text))) for b, text in found]

    for combo in itertools.product(*(allowed[m] for m in names)):
        picked = dict(zip(names, combo, strict=True))
        if not all(rule.allows(picked[b][0], True) for _, b, rule in rules):
            continue
        if all(rule.allows(picked[b][0], True) for a in names for b, rule in stated(a, picked[a][1])):
            return picked
    return None


def _older(member: Member, version) -> bool:
    """Whether the site runs an older version of the member than ``version`` (or one that is not semver)."""
    if not member.image:
        return False
    current = parse_version(member.version)
    return current is None or current < version


def _apply(
    repo_dir: Path, release: Release, item: ReleaseStageUpdate, publish: Publish, insecure: tuple[str, ...], labels: dict | None = None
) -> ReleaseStageUpdate:
    """One stage's combination as a release promotion: one commit, or why the stage waits."""
    request = ReleaseRequest(
        release.name,
        tuple((m, image) for m, _, image in item.members),
        item.sites,
        message=f"update: the newest combination stage {item.stage} allows",
        insecure_registries=insecure,
        labels=labels,
    )
    try:
        result = promote_release(repo_dir, request, publish)
    except PolicyError as exc:
        status = "held" if "on hold" in str(exc) else "no-match" if str(exc).startswith("incompatible at") else "waiting"  # a label's requirement
        return replace(item, status=status, note=str(exc).split(" (use --force")[0])
    item = replace(item, notes=tuple(dict.fromkeys(item.notes + result.notes)))
    if publish.dry_run:
        return replace(item, sites=result.changed, diff=result.diff)
    return replace(item, status="updated" if result.changed else "up-to-date", sites=result.changed, commit=result.commit, pushed=result.pushed)
