"""``update``: promote the newest allowed tag of each model, the semver strategy of
Argo CD Image Updater as ordinary promotion commits, with no controller to run.

For each model: list the repository's tags (all pages) or, with ``updateFrom: modelRegistry``, the
LIVE versions of its registered model (``promote.sources``), keep the semantic
versions each stage's ``constraint`` allows (pre-releases only where the stage
sets ``prereleases: true``), and promote the highest to the sites of that stage
that run an older version. Stage order and holds apply as for ``promote``: a
stage waits until every site of the stage before runs the chosen digest, and a
site holding that digest after a rollback is skipped.

Everything the registry is asked (tag lists, one manifest HEAD per chosen tag)
happens before anything is written, so a registry failure changes nothing.
Then each (model, stage) is one promotion commit with the usual trailers (one
model, one version, one digest: ``history`` and ``rollback`` read them as for
``promote``); all of them are rendered and validated together once, and pushed
together (``together.promote_together``), so a failure leaves the branch as it
was. Stages are applied from the last to the first, so a stage is judged
against what the stage before ran when the command started: one run never
carries a new build through several stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from gitops_mlops.change.intents import PromoteRequest, Publish
from gitops_mlops.config.load import Config, Model, Stage, load_config
from gitops_mlops.config.sites import Site, discover_sites, select
from gitops_mlops.core import settings
from gitops_mlops.core.errors import PolicyError, RenderError
from gitops_mlops.core.imageref import parse_image, parse_repository
from gitops_mlops.core.semrange import parse_range, parse_version
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.modelregistry.client import Client as ModelRegistryClient
from gitops_mlops.modelregistry.versions import RegisteredVersion
from gitops_mlops.promote import policy, wavegate
from gitops_mlops.promote.plan import Intent
from gitops_mlops.promote.sources import source_of
from gitops_mlops.promote.together import promote_together
from gitops_mlops.registry import client as registry
from gitops_mlops.render.state import ModelMatcher, render_state


@dataclass(frozen=True)
class StageUpdate:
    model: str
    stage: str
    status: str  # updated | would-update | up-to-date | waiting | held | no-match | release (a member: moved by update --release)
    version: str = ""
    digest: str = ""
    image: str = ""  # the full reference of the build it takes, with its digest
    sites: tuple[str, ...] = ()  # the sites that took (or would take) it
    held: tuple[str, ...] = ()  # sites skipped because the digest is on hold there
    note: str = ""
    commit: str | None = None
    pushed: bool = False
    diff: str = ""
    branch: str | None = None  # where the commit went, with --branch
    pull_request: str = ""  # the pull request's URL, with --open-pr
    notes: tuple[str, ...] = ()  # what the user is told on stderr (an image label not read)
    registered: RegisteredVersion | None = field(default=None, compare=False, repr=False)  # the registered version taken

    def as_json(self) -> dict:
        return {
            "model": self.model,
            "stage": self.stage,
            "status": self.status,
            "version": self.version or None,
            "digest": self.digest or None,
            "image": self.image or None,
            "sites": list(self.sites),
            "held": list(self.held),
            "note": self.note,
            "commit": self.commit,
            "pushed": self.pushed,
            "branch": self.branch if self.commit else None,  # where the commit is; nothing committed, no branch
            "pullRequestUrl": self.pull_request or None,
        }


@dataclass(frozen=True)
class UpdateReport:
    updates: tuple[StageUpdate, ...]
    requests: int  # HTTP requests sent to registries

    def as_json(self) -> dict:
        return {"updates": [u.as_json() for u in self.updates], "requests": self.requests}


@dataclass(frozen=True)
class Options:
    models: tuple[str, ...] = ()
    selectors: tuple[str, ...] = ()
    insecure_registries: tuple[str, ...] = ()
    publish: Publish = Publish()  # where the commits go, apart from what is promoted


def update(repo_dir: Path, options: Options = Options(), client: registry.RegistryClient | None = None) -> UpdateReport:
    repo_dir = Path(repo_dir).resolve()
    config = load_config(repo_dir)
    options.publish.check_for(config.hydrate.branch if config.hydrate else None)
    GitRepo(repo_dir).refuse_in_progress()
    models = [config.model(m) for m in options.models] if options.models else list(config.models)
    members = [m for m in models if config.release_of(m.name) is not None]  # moved with their release, never alone
    models = [m for m in models if m not in members]
    all_sites = discover_sites(repo_dir, config)
    chosen = select(all_sites, options.selectors) if options.selectors else all_sites
    for model in models:  # policy before any registry is contacted
        policy.check_source(config, model, parse_repository(model.repository))
    pins = _rendered(repo_dir, config, all_sites)
    own = client is None
    client = client or registry.RegistryClient(registry.endpoints_for(config.registries, options.insecure_registries).values())
    wants = config.model_registry is not None and any(m.update_from == "modelRegistry" for m in models)
    model_registry = ModelRegistryClient(config.model_registry, repo_dir) if wants else None
    try:
        planned = [item for model in models for item in _plan_model(config, model, source_of(model, client, model_registry), chosen, all_sites, pins)]
    finally:
        if own:
            client.close()
        if model_registry is not None:
            model_registry.close()
    done = _apply(repo_dir, _soaked(repo_dir, config, all_sites, planned), options) + [_in_release(config, m) for m in members]
    order = {name: i for i, name in enumerate(_stage_order(config, all_sites))}
    named = [m.name for m in (*models, *members)]
    done.sort(key=lambda u: (named.index(u.model), order.get(u.stage, -1)))
    return UpdateReport(tuple(done), client.requests + (model_registry.requests if model_registry else 0))


def _in_release(config: Config, model: Model) -> StageUpdate:
    """A member of a release is not updated alone (promote refuses it without --member-only): one row saying where it moves."""
    release = config.release_of(model.name)
    assert release is not None
    return StageUpdate(model.name, "-", "release", note=f"member of release {release.name}: moved with its release by 'update --release {release.name}'")


def _rendered(repo_dir: Path, config: Config, sites: tuple[Site, ...]) -> dict[str, dict[str, tuple[set[str], str]]]:
    """site -> model -> (the digests its render gives the model, the rendered version)."""
    state = render_state(repo_dir, config, sites)
    matcher = ModelMatcher(config)
    out: dict[str, dict[str, tuple[set[str], str]]] = {}
    broken = [state[s.name].error for s in sites if not state[s.name].ok]
    if broken:  # what runs there is unknown: no stage may be judged on it
        more = f" (and {len(broken) - 1} more sites)" if len(broken) > 1 else ""
        raise RenderError(f"validation failed, nothing changed: {broken[0]}{more}")
    for site in sites:
        found: dict[str, tuple[set[str], str]] = {}
        for model, containers in matcher.by_model(site.name, state[site.name].containers).items():
            found[model] = ({c.digest for c in containers}, next((c.tag for c in containers if c.tag), ""))
        out[site.name] = found
    return out


def _stage_order(config: Config, sites: tuple[Site, ...]) -> list[str]:
    order = [s.name for s in config.stages]
    return order + sorted({s.stage for s in sites} - set(order))


def _plan_model(
    config: Config,
    model: Model,
    source,
    chosen: tuple[Site, ...],
    all_sites: tuple[Site, ...],
    rendered: dict[str, dict[str, tuple[set[str], str]]],
) -> list[StageUpdate]:
    running_at = {name: found[model.name] for name, found in rendered.items() if model.name in found}
    running = [s for s in chosen if s.name in running_at]
    if not running:
        return []
    versions = [(v, tag) for tag in source.versions() if (v := parse_version(tag)) is not None]
    stages = {s.name: s for s in config.stages}
    picked = {}
    out = []
    for name in reversed(_stage_order(config, all_sites)):
        stage = stages.get(name, Stage(name))
        sites = [s for s in running if s.stage == name]
        if not sites:
            continue
        rule = parse_range(stage.constraint)
        allowed = [(v, tag) for v, tag in versions if rule.allows(v, stage.prereleases)]
        if not allowed:
            out.append(StageUpdate(model.name, name, "no-match", note=f"{source.what} matches {stage.constraint or 'a semantic version'}"))
            continue
        best, tag = max(allowed)
        behind = [s for s in sites if (current := parse_version(running_at[s.name][1])) is None or current < best]
        if not behind:
            out.append(StageUpdate(model.name, name, "up-to-date", version=tag))
            continue
        if tag not in picked:
            picked[tag] = source.pick(tag)  # only the chosen version's manifest, once per model
        digest = picked[tag].digest
        held_names = {h.site for h in config.holds if h.model == model.name and h.digest == digest}
        targets = tuple(s for s in behind if s.name not in held_names)
        held = tuple(s.name for s in behind if s.name in held_names)
        item = StageUpdate(
            model.name,
            name,
            "would-update",
            version=tag,
            digest=digest,
            image=picked[tag].image,
            sites=tuple(s.name for s in targets),
            held=held,
            registered=picked[tag].registered,
        )
        if not targets:
            out.append(replace(item, status="held", note=f"{digest[:19]} is on hold after a rollback"))
            continue
        waits = _waits(config, model, stage, digest, targets, {n: d for n, (d, _) in running_at.items()}, all_sites)
        out.append(replace(item, status="waiting", note=waits) if waits else item)
    return out


def _waits(config: Config, model: Model, stage: Stage, digest: str, targets: tuple[Site, ...], running: dict, all_sites: tuple[Site, ...]) -> str:
    """Why the stage may not take the digest now ('' when it may): waves are the rollout's to drive; the stage order."""
    if stage.waves:
        return f"stage {stage.name} takes a digest in waves: gitops-mlops rollout {model.name} IMAGE --to {stage.name}"
    try:
        policy.check_stage_order(config, model, digest, targets, running, all_sites)
    except PolicyError as exc:
        return str(exc).split(" (use --force-order")[0]
    return ""


def _soaked(repo_dir: Path, config: Config, all_sites: tuple[Site, ...], planned: list[StageUpdate]) -> list[StageUpdate]:
    """Each planned update that the stage before holds back waits: its waves not all done with the
    digest, or the digest not run there for this stage's ``soak`` yet (promote/wavegate.py, the gate
    promote applies)."""
    if not any(stage.soak or stage.waves for stage in config.stages):
        return planned
    now = settings.now()
    out = []
    for item in planned:
        if item.status == "would-update":
            chosen = set(item.sites)
            targets = tuple(s for s in all_sites if s.name in chosen)
            intent = Intent(config, config.model(item.model), parse_image(item.image), item.version, targets, all_sites)
            held = wavegate.previous_stage(repo_dir, intent, now)
            item = replace(item, status="waiting", note=held[0][0]) if held else item
        out.append(item)
    return out


def _apply(repo_dir: Path, planned: list[StageUpdate], options: Options) -> list[StageUpdate]:
    """Each planned (model, stage) is one promotion commit; all are validated together, then pushed together."""
    todo = [item for item in planned if item.status == "would-update"]
    if not todo:
        return planned
    requests = [
        PromoteRequest(
            model=item.model,
            image=item.image,
            version=item.version if item.registered else None,
            selectors=item.sites,
            registry_checked=True,
            message=f"update: the highest {'LIVE registered version' if item.registered else 'tag'} stage {item.stage} allows",
            registered=item.registered,
        )
        for item in todo
    ]
    results = promote_together(repo_dir, requests, options.publish)  # a dry run takes the same steps, up to the commit
    done = {id(item): result for item, result in zip(todo, results, strict=True)}
    out = []
    for item in planned:
        result = done.get(id(item))
        if result is None:
            out.append(item)
        elif options.publish.dry_run:
            out.append(replace(item, sites=result.changed, diff=result.diff, notes=result.notes))
        else:
            out.append(
                replace(
                    item,
                    status="updated" if result.changed else "up-to-date",
                    sites=result.changed,
                    commit=result.commit,
                    pushed=result.pushed,
                    branch=result.branch if result.commit else None,
                    pull_request=result.pull_request,
                    notes=result.notes,
                )
            )
    return out
