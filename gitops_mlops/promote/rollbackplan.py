"""What a rollback goes back to and what it writes, shared by ``rollback`` and ``rollback --release``:
each site's goal read from one walk of the fleet's history (``plan_rollback``), the registry asked
before a file is written (``settle_goals``), the pin restored as it was (``restore_pin``), the hold
on the rolled-back digest (``hold_edit``), the commit's trailers (``commit_message``) and what the
rollback reports (``pin_changes``, ``rollback_result``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from gitops_mlops.change.effect import Expected
from gitops_mlops.change.intents import RollbackRequest
from gitops_mlops.change.write import FileEdit
from gitops_mlops.config.holds import add_holds
from gitops_mlops.config.load import CONFIG_FILE, Config, Hold, Model
from gitops_mlops.config.scaffold import initial_digest
from gitops_mlops.config.sites import Site, kustomization_of
from gitops_mlops.core import progress, settings
from gitops_mlops.core.errors import GitOpsError, InputError, PolicyError, RenderError
from gitops_mlops.core.imageref import parse_image
from gitops_mlops.core.present import some
from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.pins import kustomization
from gitops_mlops.pins.canary import rolled_back
from gitops_mlops.pins.kustomization import Pin
from gitops_mlops.pins.sentinels import Forms
from gitops_mlops.promote import registered
from gitops_mlops.promote.plan import PinChange, pin_to_edit
from gitops_mlops.promote.result import Result
from gitops_mlops.registry import client as registry
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.inputs import References
from gitops_mlops.render.sitehistory import FleetHistory, State
from gitops_mlops.render.state import ModelMatcher, render_state, split_image

FIRST_PIECE = 8  # commits the history walk reads first: a retried rollback needs each site's newest two or three states


@dataclass(frozen=True)
class Target:
    site: Site
    file: str
    pin_name: str
    current: State
    goal: State
    text: str  # the kustomization now


def plan_rollback(
    repo_dir: Path,
    git: GitRepo,
    config: Config,
    model: Model,
    sites: tuple[Site, ...],
    to: str | None,
    cache: RenderCache,
    refs: References | None = None,
) -> tuple[list[Target], dict]:
    """Each site's goal state (sites already there are left out), and what every site renders now;
    ``refs`` learns the sites' folders and references, for the render check after the edit.

    One history walk serves every site, read newest first in pieces only as far as some site's goal
    is not found yet (a retry that finds nothing to do reads each site's newest few commits). Its states are read in rounds: the newest state of every
    site, then the next older only for the sites whose goal is not found yet. The first site (in
    their order) that cannot be rolled back is the error."""
    refs, forms = References() if refs is None else refs, Forms()  # the forms of the sites now serve their newest states
    now = render_state(repo_dir, config, sites, refs=refs, cache=cache, invariants=True, forms=forms)
    matcher = ModelMatcher(config)
    failures: dict[str, GitOpsError] = {}
    found: dict[str, tuple[str, str, str]] = {}  # site -> (kustomization file, its text, the pin's name)
    for site in sites:
        containers = matcher.by_model(site.name, now[site.name].containers).get(model.name, [])
        try:
            if not now[site.name].ok:
                raise RenderError(f"site {site.name}: cannot roll back a site that does not render: {now[site.name].error}")
            path = kustomization_of(repo_dir, site)
            rel = path.relative_to(repo_dir).as_posix()
            text = kustomization.read_text(path, rel)
            name, _ = pin_to_edit(text, rel, model, containers)
            if not containers:
                raise InputError(f"site {site.name}: no {model.name} workload in its render and no earlier state to return to")
        except GitOpsError as exc:
            failures[site.name] = exc
            break
        found[site.name] = (rel, text, name)
    walked = [site for site in sites if site.name in found]
    pinned = [(site, found[site.name][2]) for site in walked]
    with FleetHistory(repo_dir, git, config, model, pinned, cache, refs=refs, forms=forms, piece=FIRST_PIECE) as history:
        history.seed(now, {name: text for name, (_, text, _) in found.items()})
        outcomes = _walk_back(history, model, walked, to)
    goals = []
    for site in sites:
        if site.name in failures or isinstance(outcomes.get(site.name), GitOpsError):
            raise failures.get(site.name) or outcomes[site.name]
        if site.name not in outcomes:
            continue  # not walked: an earlier site failed
        current, goal = outcomes[site.name]
        if goal is not None and not _reached(goal, current):
            rel, text, name = found[site.name]
            goals.append(Target(site, rel, name, current, goal, text))
    return goals, now


def _walk_back(history: FleetHistory, model: Model, sites: list[Site], to: str | None) -> dict[str, tuple[State, State | None] | GitOpsError]:
    """Each site's (current state, goal), or why it has none, read round by round."""
    outcomes: dict[str, tuple[State, State | None] | GitOpsError] = {}
    states: dict[str, list[State]] = {site.name: [] for site in sites}
    pending = {site.name: site for site in sites}
    with progress.Task("reading site histories", len(sites)) as task:
        while pending:
            while any(len(states[name]) >= history.count(name) and not history.walked(name) for name in pending):
                history.more()  # a site read as far as the walk went, not to its end: the walk goes on
            depth = {name: len(states[name]) for name in pending if len(states[name]) < history.count(name)}
            for name, state in history.states(depth).items():
                states[name].append(state)
            for name in list(pending):
                if not states[name]:
                    outcome = InputError(f"site {name}: no {model.name} workload in its render and no earlier state to return to")
                else:
                    complete = len(states[name]) >= history.count(name) and history.walked(name)
                    try:
                        goal = _goal(model, pending[name], states[name], complete, to)
                    except InputError as exc:
                        goal = exc
                    if goal is _MORE:
                        continue
                    outcome = goal if isinstance(goal, GitOpsError) else (states[name][0], goal)
                outcomes[name] = outcome
                del pending[name]
                task.advance()
    return outcomes


_MORE = State("", (), None, None)  # a goal not found yet among the states read so far


def _goal(model: Model, site: Site, states: list[State], complete: bool, to: str | None) -> State:
    """The state to return to among ``states`` (newest first, the current one first), or ``_MORE``
    when it may be among older states not read yet."""
    if to is not None:
        for state in states:
            if _runs(state, to):
                return state
        if not complete:
            return _MORE
        raise InputError(f"{model.name} {to} never ran at {site.name} (as far back as its history reaches)")
    newer = states[0]
    for state in states[1:]:
        if not newer.undoes(model.name, site.name) and state.images != newer.images:
            if not state.images:
                break
            return state
        newer = state
    else:
        if not complete:
            return _MORE
    raise InputError(f"no earlier {model.name} state at {site.name} to return to; pass --to VERSION|DIGEST")


def _reached(goal: State, current: State) -> bool:
    """The site runs the goal already: the same images, or (a goal pinned by tag alone) the same
    images pinned by digest too, as an earlier rollback to that tag left them."""
    if goal.images == current.images:
        return True
    if not goal.images or any(split_image(image)[2] for image in goal.images):
        return False
    return tuple(sorted({image.partition("@")[0] for image in current.images})) == goal.images


def _runs(state: State, to: str) -> bool:
    if not state.images:
        return False
    if to.startswith("sha256:"):
        return len(to) >= 19 and all(split_image(i)[2].startswith(to) for i in state.images)
    return state.version == to


def restore_pin(text: str, source: str, name: str, pin: Pin | None) -> str:
    """``text`` with the pin ``name`` exactly as ``pin`` (no pin: the entry removed)."""
    if pin is None:
        return kustomization.remove_pin(text, source, name)
    values = {"newName": pin.new_name, "newTag": pin.new_tag, "digest": pin.digest}
    return kustomization.set_pin_exact(text, source, name, values)


def restored(text: str, goal: Target, then: dict[str, dict[str, str]]) -> str:
    """``text`` with the goal's pin as it was (``restore_pin``), a model canary's percentage at 0 beside
    it (``pins.canary.rolled_back``), and the model registry's labels it had then (``then``:
    ``registered.labels_then`` of the same goals)."""
    text = rolled_back(restore_pin(text, goal.file, goal.pin_name, goal.goal.pin), goal.file, goal.pin_name)
    return registered.restore_labels(goal, text, then)


def expected(state: State) -> Expected:
    repository, tag, digest = split_image(state.images[0])
    return Expected(repository, digest, tag)


def refuse_placeholders(model: Model, goals: list[Target]) -> None:
    """A rollback never goes back to the placeholder digest ``init`` wrote: nothing released ran there."""
    placeholder = initial_digest(model.name)
    sites = [g.site.name for g in goals if placeholder in {split_image(image)[2] for image in g.goal.images}]
    if sites:
        raise PolicyError(
            f"nothing released to roll back to at {some(sites)}: before {model.name}'s first promotion there it ran the placeholder "
            "digest 'gitops-mlops init' wrote; promote the build it should run instead"
        )


def settle_goals(config: Config, request: RollbackRequest, goals: list[Target], tags: dict[str, str]) -> tuple[list[Target], tuple[str, ...]]:
    """Ask the registry before a file is written, unless ``--no-verify``: every digest gone back to must
    still be there (a garbage-collected build would fail to pull at every site), and a state that ran a
    tag without a digest (as repositories were before the tool) is pinned by that tag and the digest it
    resolves to now. Offline such a state is pinned by its tag alone, as it was. Returns the goals and
    what to tell the user."""
    loose = sorted({image for g in goals for image in g.goal.images if not split_image(image)[2]})
    if not request.verify or settings.no_verify():
        return goals, tuple(
            f"{image} has no digest: pinned by its tag alone, as it was (--no-verify); a tag can move, so the site may not run what it ran then"
            for image in loose
        )
    endpoints = registry.endpoints_for(config.registries, request.insecure_registries)
    with registry.RegistryClient(endpoints.values()) as client, registry.offline_hint("roll back"):
        for image in loose:
            if image not in tags:
                tags[image] = client.resolve(parse_image(image)).digest
        for image in sorted({image for g in goals for image in g.goal.images if split_image(image)[2]}):
            client.confirm_digest(parse_image(image))
    return [_pinned(g, tags) for g in goals], tuple(f"{image} resolved to {tags[image]} in the registry" for image in loose)


def _pinned(target: Target, tags: dict[str, str]) -> Target:
    """``target`` going to its images with the digests their tags resolved to; its pin carries the digest
    of the image it names (else the rollback's render check pins the image itself)."""
    images = tuple(sorted({f"{image}@{tags[image]}" if image in tags else image for image in target.goal.images}))
    if images == target.goal.images:
        return target
    pin = target.goal.pin
    if pin is not None and not pin.digest:
        named = next((tags[i] for i in target.goal.images if i in tags and split_image(i)[:2] == (pin.repository, pin.new_tag or "")), None)
        pin = replace(pin, digest=named) if named else pin
    return replace(target, goal=replace(target.goal, images=images, pin=pin))


def pin_changes(goals: list[Target], edits: dict[str, FileEdit]) -> tuple[PinChange, ...]:
    out = []
    for g in goals:
        edit = edits[g.site.name]
        old = Pin(g.pin_name, digest=g.current.digest, new_tag=g.current.version or None)
        out.append(
            PinChange(
                g.site.name,
                g.file,
                g.pin_name,
                old,
                g.goal.version,
                g.goal.digest,
                g.current.images[0] if g.current.images else "",
                stage=g.site.stage,
                new_image=g.goal.images[0] if g.goal.images else "",
                before=edit.before,
                after=edit.after,
            )
        )
    return tuple(out)


def hold_edit(repo_dir: Path, model: Model, goals: list[Target], reason: str = "") -> FileEdit:
    """Put each rolled-back (model, site, digest) on hold, so automation does not undo the rollback."""
    before = (repo_dir / CONFIG_FILE).read_bytes().decode("utf-8")
    return FileEdit(CONFIG_FILE, before, add_holds(before, holds_of(model, goals, reason)))


def holds_of(model: Model, goals: list[Target], reason: str = "") -> list[Hold]:
    """The hold on each rolled-back (model, site, digest), saying from what to what and why."""
    return [
        Hold(
            model.name,
            g.site.name,
            g.current.digest,
            f"rolled back from {g.current.version or g.current.digest[:19]} to {g.goal.version or g.goal.digest[:19]}" + (f": {reason}" if reason else ""),
        )
        for g in goals
        if g.current.digest
    ]


def commit_message(model: Model, goals: list[Target], message: str, reason: str = "") -> str:
    by_image: dict[str, list[str]] = {}
    for g in goals:
        by_image.setdefault(g.goal.images[0], []).append(g.site.name)
    versions = sorted({g.goal.version for g in goals if g.goal.version})
    version = ", ".join(versions)
    sites = [g.site.name for g in goals]
    record = trailers.Record(
        action="rollback",
        model=model.name,
        version=version,
        images=tuple((image, tuple(names)) for image, names in by_image.items()),
        subject=trailers.subject("rollback", model.name, version, sites),
        body=message,
        reason=reason,
    )
    return trailers.write(record)


def rollback_result(model: Model, goals, unchanged: tuple[str, ...], **extra) -> Result:
    images = sorted({g.goal.images[0] for g in goals})
    digests = sorted({g.goal.digest for g in goals})
    versions = sorted({g.goal.version for g in goals if g.goal.version})
    return Result(
        action="rollback",
        model=model.name,
        version=", ".join(versions),
        image=", ".join(images),
        digest=", ".join(digests),
        changed=tuple(g.site.name for g in goals),
        unchanged=unchanged,
        **extra,
    )
