"""Plan a promotion: from the intent and what each site renders now, the pin edits to make.

Nothing is written here. A site that already renders the promoted reference at every
workload of the model is up to date. The pin edited is the one that reaches the
site's workloads: the site's own pin of the model's image name when it takes effect,
else the name the image has when it reaches this site (a wrapper over an overlay that
already renamed it pins that name). Policy is judged on renders too: the stage gate
reads what the earlier stages' sites render, pinned or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gitops_mlops.change.intents import PromoteRequest
from gitops_mlops.change.write import FileEdit
from gitops_mlops.config.load import Config, Model, load_config
from gitops_mlops.config.sites import Site, discover_sites, kustomization_of, matches, select, site_pin_fields
from gitops_mlops.core.errors import GitOpsError, InputError, RenderError
from gitops_mlops.core.imageref import ImageRef, parse_image, same_repository, spellings
from gitops_mlops.core.present import some
from gitops_mlops.gitstore import verifications
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.pins import kustomization, modelcar, modelcarlabels
from gitops_mlops.pins.kustomization import Pin
from gitops_mlops.promote import canary, policy
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.inputs import References, closure, site_dir, walk_references
from gitops_mlops.render.provenance import where_set
from gitops_mlops.render.readers import readers
from gitops_mlops.render.state import Container, ModelMatcher, SiteRender, render_state


@dataclass(frozen=True)
class Intent:
    config: Config
    model: Model
    image: ImageRef
    version: str
    targets: tuple[Site, ...]
    all_sites: tuple[Site, ...]
    named: frozenset[str] = frozenset()  # targets a selector names exactly: they must run the model
    elsewhere: tuple[str, ...] = ()  # sites a stage, group or glob selected that the model's sites: leave out
    labels: dict[str, str] | None = None  # the model registry's labels a modelcar pin carries (None: none, removed)
    canary: int | None = None  # the new model's share of the traffic (promote.canary)
    wave: str = ""  # 'N/M': the wave of its stage the targets are (promote/wavegate.py)

    @property
    def tag(self) -> str:
        """The pin's ``newTag``: the image's own tag; ``version`` only when the image has none."""
        return self.image.tag or self.version


@dataclass(frozen=True)
class PinChange:
    site: str
    file: str  # repository-relative path of the kustomization
    pin_name: str  # the images[].name edited
    old: Pin | None
    new_version: str
    new_digest: str
    old_image: str = ""  # what the site rendered for the model before
    stage: str = ""
    new_image: str = ""  # the full reference the site renders once changed
    before: str = field(repr=False, default="")
    after: str = field(repr=False, default="")
    note: str = ""  # how the pin was edited, when worth saying (a modelcar patch rewritten as a literal block)


@dataclass(frozen=True)
class Plan:
    changes: tuple[PinChange, ...]
    unchanged: tuple[str, ...]
    edits: tuple[FileEdit, ...] = ()
    others: tuple[Site, ...] = ()  # sites not selected whose build reads a changed overlay
    not_running: tuple[str, ...] = ()  # sites a stage, group or glob selected where the model does not live
    before: dict[str, SiteRender] = field(default_factory=dict, compare=False, repr=False)
    refs: References = field(default_factory=References, compare=False, repr=False)

    def files(self) -> list[FileEdit]:
        return [FileEdit(c.file, c.before, c.after) for c in self.changes] + list(self.edits)


def resolve_intent(repo_dir: Path, request: PromoteRequest) -> Intent:
    """Read the config, check the image against policy, select the sites (bad input fails here)."""
    config = load_config(repo_dir)
    model = config.model(request.model)
    canary.check_request(model, request.canary)
    image = parse_image(request.image)
    all_sites = discover_sites(repo_dir, config)
    targets = select(all_sites, request.selectors)
    named = frozenset(s.name for s in targets if s.name in {sel.rstrip("/") for sel in request.selectors})
    elsewhere = tuple(s.name for s in targets if s.name not in named and not lives_at(model, s))
    if elsewhere and len(elsewhere) == len(targets):
        raise InputError(f"model {model.name} lives at none of the selected sites ({some(elsewhere)}): its sites: are {', '.join(model.sites)}")
    targets = tuple(s for s in targets if s.name not in elsewhere)
    version = policy.promotion_version(image, request.version or recorded_version(repo_dir, model, all_sites, image))
    if image.digest or request.registry_checked or not image.tag:
        policy.check_image(config, model, image)
    else:  # a tag: the registry resolves it next, after the policy checks that need no digest
        policy.check_source(config, model, image)
    found = request.registered
    labels = modelcarlabels.registry_labels(found.model_id, found.version_id) if found else None
    return Intent(
        config=config,
        model=model,
        image=image,
        version=version,
        targets=targets,
        all_sites=all_sites,
        named=named,
        elsewhere=elsewhere,
        labels=labels,
        canary=request.canary,
    )


def recorded_version(repo_dir: Path, model: Model, sites: tuple[Site, ...], image: ImageRef) -> str | None:
    """The version the sites' pins already give ``image``'s digest, for a digest without tag or ``--version``
    (the build a stage before runs, promoted on by digest); None when no pin has it. Read from the
    sites' own kustomizations; two versions for one digest are ambiguous: bad input."""
    if image.tag or not image.digest:
        return None
    found: dict[str, str] = {}  # version -> a site pinning it
    for site in sites:
        if not lives_at(model, site):
            continue
        try:
            pins = site_pin_fields(repo_dir, site)
        except GitOpsError:  # a site whose file cannot be read tells nothing here; promoting to it fails on its own
            continue
        for name, new_name, tag, digest in pins:
            if digest == image.digest and tag and same_repository(new_name or name, image.repository):
                found.setdefault(tag, site.name)
    if len(found) > 1:
        named = ", ".join(f"{tag} at {site}" for tag, site in sorted(found.items()))
        raise InputError(f"image {image} has no tag and the sites pin its digest as several versions ({named}); pass --version X.Y.Z")
    return next(iter(found), None)


def lives_at(model: Model, site: Site) -> bool:
    """Whether the model's ``sites:`` (when the config gives one) has the site: where its images are its own."""
    return not model.sites or any(matches(site.name, selector) for selector in model.sites)


def readers_of(repo_dir: Path, intent: Intent, refs: References, dirs: set[Path]) -> tuple[Site, ...]:
    """Sites other than the targets whose build reads one of ``dirs``."""
    return readers(repo_dir, intent.all_sites, intent.config.policy.remote_resources, refs, dirs, {s.name for s in intent.targets})


def plan_promotion(repo_dir: Path, intent: Intent, request: PromoteRequest, cache: RenderCache | None = None, refs: References | None = None) -> Plan:
    """The pin edits of one promotion, judged on what the sites render now (``refs``: what is known of
    the sites' references, shared by the members of a release planned on one tree)."""
    refs = References() if refs is None else refs
    if cache is not None and not refs.parsed:  # the references of every kustomization text read before: the walk of the readers below parses none again
        refs.parsed.update(cache.references())
    earlier: tuple[Site, ...] = ()
    if not request.force_order:  # the earlier stages' sites the model lives at: the gate reads their renders
        last = max(intent.config.stage_index(s.stage) for s in intent.targets)
        earlier = tuple(s for s in intent.all_sites if intent.config.stage_index(s.stage) < last and lives_at(intent.model, s))
    target_dirs = {kustomization_of(repo_dir, s).parent.resolve() for s in intent.targets}
    others = readers_of(repo_dir, intent, refs, target_dirs)
    needed = {s.name: s for s in (*intent.targets, *earlier) if s not in others}
    before = render_state(repo_dir, intent.config, tuple(needed.values()), refs=refs, cache=cache)
    if others:  # their whole output is compared after the edit
        before |= render_state(repo_dir, intent.config, others, outputs=True, refs=refs, cache=cache)
    matcher = ModelMatcher(intent.config)
    rendered = {name: matcher.by_model(name, r.containers).get(intent.model.name, []) for name, r in before.items()}
    skipped = _not_running(repo_dir, intent, before, rendered, refs)
    targets = tuple(s for s in intent.targets if s.name not in skipped)
    gate = {n: {c.digest for c in cs} for n, cs in rendered.items() if before[n].ok}
    failed = {s.name: before[s.name].error for s in earlier if not before[s.name].ok}  # the gate cannot tell what they run
    for name in coupled(repo_dir, intent, refs):
        gate[name] = {intent.image.digest or ""}  # a selected earlier site that a selected later site builds on: they move together or not at all
        failed.pop(name, None)
    changes, unchanged, versions = _pin_changes(repo_dir, intent, targets, rendered)
    digest = intent.image.digest or ""
    if not request.force_order:
        policy.check_stage_order(intent.config, intent.model, digest, targets, gate, intent.all_sites, failed)
        if any(s.require_verified for s in intent.config.stages if s.name in {t.stage for t in targets}):
            verified = _verified(repo_dir, intent.config, intent.model)
            policy.check_verified(intent.config, intent.model, digest, targets, gate, intent.all_sites, verified)
    if not request.allow_downgrade:
        policy.check_downgrade(intent.model, intent.version, versions, targets)
    if not request.force_hold:
        policy.check_holds(intent.config, intent.model, digest, targets)
    not_running = (*intent.elsewhere, *skipped)
    return Plan(tuple(changes), tuple(unchanged), others=others, not_running=not_running, before=before, refs=refs)


def _not_running(repo_dir: Path, intent: Intent, before: dict[str, SiteRender], rendered: dict[str, list[Container]], refs: References) -> tuple[str, ...]:
    """Targets a stage, group or glob selected whose render runs no workload of the model: left alone.
    A site named exactly, or one whose inputs set the model's image where no pin reaches, is an error."""
    root = Path(repo_dir).resolve()
    skipped = []
    for site in intent.targets:
        state = before[site.name]
        if not state.ok or rendered[site.name]:
            continue
        path = kustomization_of(repo_dir, site)
        rel = path.relative_to(root).as_posix()
        model = intent.model
        kustomization.pins(kustomization.read_text(path, rel), rel, only=model.pin_name)  # a malformed pin of this model: bad input
        if site.name in intent.named or (model.artifact != "modelcar" and where_set(repo_dir, site, refs, (model.repository,))):
            raise RenderError(not_running(repo_dir, site, model, state, refs))
        skipped.append(site.name)
    if skipped and len(skipped) == len(intent.targets):
        raise RenderError(
            f"none of the selected sites runs {intent.model.name} ({some(skipped)} render no workload of {intent.model.repository} "
            f"or the placeholder {intent.model.image!r}); nothing to pin"
        )
    return tuple(skipped)


def _pin_changes(
    repo_dir: Path, intent: Intent, targets: tuple[Site, ...], rendered: dict[str, list[Container]]
) -> tuple[list[PinChange], list[str], dict[str, str]]:
    """The pin edit at each target that does not render the promoted reference yet, the targets that
    do, and the version each changed target renders now."""
    model, image, digest = intent.model, intent.image, intent.image.digest or ""
    root = Path(repo_dir).resolve()
    changes, unchanged, versions = [], [], {}
    for site in targets:
        containers = rendered[site.name]
        runs = bool(containers) and all(same_repository(c.repository, image.repository) and c.digest == digest for c in containers)
        if runs and not canary.wants_change(intent.canary, containers):
            unchanged.append(site.name)
            continue
        canary.check_site(site.name, intent.canary, containers, runs)
        path = kustomization_of(repo_dir, site)
        rel = path.relative_to(root).as_posix()
        text = kustomization.read_text(path, rel)
        name, pin = pin_to_edit(text, rel, model, containers)
        versions[site.name] = _version_of(containers, pin)
        values = {"newName": image.repository, "newTag": intent.tag, "digest": digest}
        old, after, note = kustomization.edit_pin_noted(text, rel, name, values)
        after = canary.edit(after, rel, name, model, intent.canary)
        old_image = containers[0].image if containers else ""
        if after != text and modelcar.is_modelcar_pin(name):  # the registry's labels move with the URI
            after, labelled = modelcarlabels.set_labels(after, rel, name, intent.labels)
            note = "; ".join(n for n in (note, labelled) if n)
        if after == text:  # the pin already says this, yet the render differs: it does not reach the workloads
            raise RenderError(
                f"site {site.name}: {rel} already pins {name} to {image} but the site renders {old_image or 'no workload of it'}: the image is set outside this site's pin"
            )
        changes.append(
            PinChange(
                site.name, rel, name, old, intent.version, digest, old_image, stage=site.stage, new_image=str(intent.image), before=text, after=after, note=note
            )
        )
    return changes, unchanged, versions


def _verified(repo_dir: Path, config: Config, model: Model) -> dict[str, tuple[str, str]]:
    """site -> (digest, verdict) of its latest recorded verification, the remote's branch fetched first."""
    git = GitRepo(repo_dir)
    records = verifications.read(git, config, model.name, fetch=git.has_remote(config.remote))
    return {site: (v.digest, v.verdict) for site, v in verifications.latest(records).items()}


def coupled(repo_dir: Path, intent: Intent, refs: References) -> set[str]:
    """Selected sites whose folder another selected site's build reads (``prod`` built on ``dev/``)."""
    folders = {site_dir(repo_dir, s, refs): s.name for s in intent.targets}
    found = set()
    for site in intent.targets:
        try:
            walk_references(repo_dir, site, intent.config.policy.remote_resources, refs)
        except InputError:
            continue
        found |= {folders[d] for d in closure(site_dir(repo_dir, site, refs), refs)[1:] if d in folders}
    return found


def pin_to_edit(text: str, source: str, model: Model, containers: list[Container]) -> tuple[str, Pin | None]:
    """The images[].name to edit at this site, and its pin now.

    The site's pin of the model's image name when it takes effect (or nothing renders
    the model yet); else its pin of the name the image has on arriving here; else that
    name (a new entry)."""
    pins = {p.name: p for p in kustomization.pins(text, source, only=model.pin_name)}  # another model's unreadable patch is not this one's concern
    if model.artifact == "modelcar":  # a modelcar has one pin form: its InferenceService's storageUri patch
        return model.pin_name, pins.get(model.pin_name)
    own = pins.get(model.image)
    if own is not None and (not containers or _takes_effect(own, containers)):
        return model.image, own
    for name in dict.fromkeys(c.repository for c in containers):
        if name in pins:
            return name, pins[name]
    if not containers or any(c.repository == model.image for c in containers):
        return model.image, own
    return containers[0].repository, None


def _takes_effect(pin: Pin, containers: list[Container]) -> bool:
    """Literal, as kustomize is: it writes ``newName`` as given, and leaves a name its pin does not spell alone."""
    repository = pin.new_name or pin.name
    return any(c.repository == repository and (not pin.digest or c.digest == pin.digest) for c in containers)


def _version_of(containers: list[Container], pin: Pin | None) -> str:
    for container in containers:
        if container.tag:
            return container.tag
    return (pin.new_tag if pin else "") or ""


def not_running(repo_dir: Path, site: Site, model: Model, state: SiteRender, refs: References) -> str:
    """Why a promotion cannot reach a site whose render has no workload of the model."""
    if model.artifact == "modelcar":
        return f"site {site.name}: no InferenceService {model.inference_service} in its render serves {model.name} (a modelcar, oci://{model.repository}); nothing to pin"
    found = where_set(repo_dir, site, refs, spellings(model.repository), state.output)  # a placeholder rendered here belongs to another model
    if found:
        return f"site {site.name}: {model.name}'s image is set in {found}, which no kustomize images pin reaches; change it there"
    return f"site {site.name}: no workload in its render runs {model.name} ({model.repository} or the placeholder {model.image!r}); nothing to pin"
