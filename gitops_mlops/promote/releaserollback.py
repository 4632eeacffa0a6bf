"""``rollback --release``: every member the release's latest promotion moved at the selected sites
goes back to what the sites ran before it, in one commit, and the combination rolled back is held
(each member's digest). One change transaction: each member's goal read from its history, the pin
edits merged per file, the holds added once, the whole release rendered and verified once."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from gitops_mlops.change.effect import verify_models
from gitops_mlops.change.intents import Publish, RollbackRequest
from gitops_mlops.change.transaction import file_change, guard, run_change, transact, unified_diff
from gitops_mlops.change.write import FileEdit, write_all
from gitops_mlops.config.holds import add_holds
from gitops_mlops.config.load import CONFIG_FILE, load_config
from gitops_mlops.config.releases import Release
from gitops_mlops.config.sites import Site, discover_sites, select
from gitops_mlops.core.errors import InputError, PolicyError
from gitops_mlops.core.present import some
from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.pins import kustomization
from gitops_mlops.promote import registered, rollbackplan
from gitops_mlops.promote.releaseresult import ReleaseResult, release_text
from gitops_mlops.render import hydrate
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.inputs import References
from gitops_mlops.render.state import ModelMatcher, render_state, split_image
from gitops_mlops.render.validate import schemas_for


@dataclass(frozen=True)
class ReleaseRollbackRequest:
    release: str
    selectors: tuple[str, ...]
    message: str = ""
    reason: str = ""
    verify: bool = True
    insecure_registries: tuple[str, ...] = ()


def rollback_release(repo_dir: Path, request: ReleaseRollbackRequest, options: Publish = Publish()) -> ReleaseResult:
    """Return every member the release's latest promotion moved at the selected sites to what they ran before."""
    repo_dir = Path(repo_dir).resolve()
    config = load_config(repo_dir)
    release = config.release(request.release)
    targets = select(discover_sites(repo_dir, config), request.selectors)
    git = GitRepo(repo_dir)
    recovered = guard(git, [s.path for s in targets] + [CONFIG_FILE])
    tags: dict[str, str] = {}  # tag -> digest, asked of the registry once however often the change is applied

    def apply(dry_run: bool) -> ReleaseResult:
        return _apply(repo_dir, git, release, request, targets, tags, dry_run)

    result = run_change(git, options, config, apply, "rollback", release_text)
    return replace(result, recovered=recovered)


def latest_promotion(git: GitRepo, release: Release, sites: set[str]) -> tuple[str, list[trailers.Record]]:
    """The newest commit that promoted the release at one of ``sites``, and its members' records."""
    for commit in git.log_trailers("HEAD", grep=[f"^Release: {release.name}$", "^Action: promote$"]):
        records = [r for r in trailers.read_all(commit) if r.release == release.name and r.model in release.members and r.site_set & sites]
        if records:  # a block naming a model outside the release is not the release's (a message anyone can write)
            return commit.sha, records
    raise InputError(f"release {release.name} was never promoted together at the selected sites ({some(sorted(sites))}): nothing to roll back")


def _goals(repo_dir: Path, git: GitRepo, release: Release, request: ReleaseRollbackRequest, sites: tuple[Site, ...], tags: dict, cache) -> tuple:
    """Each member the latest promotion moved: (model, its goals, what its sites render now, notes)."""
    config = load_config(repo_dir)
    promoted, records = latest_promotion(git, release, {s.name for s in sites})
    moved = []
    for record in records:
        model = config.model(record.model)
        member_sites = tuple(s for s in sites if s.name in record.site_set)
        goals, now = rollbackplan.plan_rollback(repo_dir, git, config, model, member_sites, None, cache)
        late = [g.site.name for g in goals if not git.is_ancestor(g.goal.commit, f"{promoted}^")]
        if late:
            raise PolicyError(
                f"release {release.name}: {model.name} changed at {some(late)} after the release's promotion {promoted[:12]}; "
                f"roll that member back first (rollback {model.name} --site ...)"
            )
        rollbackplan.refuse_placeholders(model, goals)
        member = RollbackRequest(model.name, request.selectors, verify=request.verify, insecure_registries=request.insecure_registries)
        goals, notes = rollbackplan.settle_goals(config, member, goals, tags)
        moved.append((model, goals, now, notes))
    return moved


def _apply(
    repo_dir: Path, git: GitRepo, release: Release, request: ReleaseRollbackRequest, sites: tuple[Site, ...], tags: dict, dry_run: bool
) -> ReleaseResult:
    """Plan every member, then one transaction: write the merged edits and holds, render and verify once, commit."""
    with RenderCache(repo_dir) as cache:
        moved = _goals(repo_dir, git, release, request, sites, tags, cache)
        if not any(goals for _, goals, _, _ in moved):
            return ReleaseResult(release.name, tuple(rollbackplan.rollback_result(m, (), ()) for m, _, _, _ in moved))
        texts = _merged(git, moved)
        edits = [FileEdit(f, first, after) for f, (first, after) in texts.items()]
        hold = _holds(repo_dir, moved, request.reason)
        written: list[FileEdit] = []
        parent, seen = git.head(), {}

        def check() -> None:
            seen["config"] = load_config(repo_dir)  # the edited config must still load
            _verify(repo_dir, seen["config"], moved, texts, written, cache)

        def message() -> str:
            changed = {g.site.name for _, goals, _, _ in moved for g in goals}
            made = seen["hydrated"] = hydrate.before_commit(repo_dir, git, seen["config"], parent, changed, cache)
            return _message(release, moved, request) + (made.trailer if made else "")

        after = lambda sha: hydrate.after(git, seen["config"], seen["hydrated"], sha)  # noqa: E731
        done = transact(git, file_change(repo_dir, [*edits, hold], message, written, verify=check, after=after), dry_run)
    files = [*(FileEdit(f, first, after) for f, (first, after) in texts.items()), hold]
    members = tuple(
        rollbackplan.rollback_result(
            m, goals, (), changes=rollbackplan.pin_changes(goals, {g.site.name: FileEdit(g.file, g.text, texts[g.file][1]) for g in goals}), notes=notes
        )
        for m, goals, _, notes in moved
        if goals
    )
    if dry_run:
        return ReleaseResult(release.name, members, diff=unified_diff(files))
    return ReleaseResult(release.name, members, commit=done.commit, branch=git.branch(), also=done.also, diff=unified_diff(files))


def _merged(git: GitRepo, moved) -> dict[str, tuple[str, str]]:
    """file -> (its text now, with every member's pin restored in turn, as a single rollback restores it:
    a canary's percentage at 0, the model registry's labels of then)."""
    texts: dict[str, tuple[str, str]] = {}
    for _, goals, _, _ in moved:
        then = registered.labels_then(git, goals)
        for g in goals:
            first, now = texts.get(g.file, (g.text, g.text))
            texts[g.file] = (first, rollbackplan.restored(now, g, then))
    return texts


def _verify(repo_dir: Path, config, moved, texts: dict[str, tuple[str, str]], written: list[FileEdit], cache) -> None:
    """The old renders must come back; where restoring a pin does not bring one, pin the old image itself."""
    sites = {g.site.name: g.site for _, goals, _, _ in moved for g in goals}
    matcher = ModelMatcher(config)
    after = render_state(repo_dir, config, tuple(sites.values()), cache=cache)
    for model, goals, _, _ in moved:
        for goal in goals:
            state = after[goal.site.name]
            if state.ok and {c.image for c in matcher.by_model(goal.site.name, state.containers).get(model.name, [])} == set(goal.goal.images):
                continue
            repository, tag, digest = split_image(goal.goal.images[0])
            first, now = texts[goal.file]
            texts[goal.file] = (
                first,
                kustomization.set_pin_exact(now, goal.file, goal.pin_name, {"newName": repository, "newTag": tag or None, "digest": digest or None}),
            )
            write_all(repo_dir, [FileEdit(goal.file, first, texts[goal.file][1])], written)
    wants = tuple((model, {g.site.name: rollbackplan.expected(g.goal) for g in goals}) for model, goals, _, _ in moved if goals)
    now = {name: state for _, _, renders, _ in moved for name, state in renders.items()}
    verify_models(repo_dir, config, wants, sites, (), now, References(), cache, schemas_for(repo_dir, config, cache=cache))


def _holds(repo_dir: Path, moved, reason: str) -> FileEdit:
    """Each rolled-back (member, site, digest) on hold: the combination is not promoted again by automation."""
    before = (repo_dir / CONFIG_FILE).read_bytes().decode("utf-8")
    new = [hold for model, goals, _, _ in moved for hold in rollbackplan.holds_of(model, goals, reason)]
    return FileEdit(CONFIG_FILE, before, add_holds(before, new))


def _message(release: Release, moved, request: ReleaseRollbackRequest) -> str:
    """A block per member rolled back (each image gone back to, with its sites), as ``rollback`` writes one."""
    records = []
    for model, goals, _, _ in moved:
        if not goals:
            continue
        by_image: dict[str, list[str]] = {}
        for g in goals:
            by_image.setdefault(g.goal.images[0], []).append(g.site.name)
        version = ", ".join(sorted({g.goal.version for g in goals if g.goal.version}))
        images = tuple((image, tuple(names)) for image, names in by_image.items())
        records.append(trailers.Record("rollback", model.name, version, images, body=request.message, reason=request.reason))
    sites = sorted({g.site.name for _, goals, _, _ in moved for g in goals})
    where = sites[0] if len(sites) == 1 else f"{len(sites)} sites"
    subject = f"rollback release {release.name} ({', '.join(f'{r.model} {r.version}' for r in records)}) to {where}"
    return trailers.write_release(release.name, [replace(r, subject=subject) for r in records])
