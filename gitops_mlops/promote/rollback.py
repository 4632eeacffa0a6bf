"""Rollback: return sites to what they ran before, read from their renders at earlier commits.

Without ``--to`` each selected site undoes its latest change of the model's render that
was not itself a rollback (the latest promotion, by the tool or by hand); run again it
finds that change already undone and does nothing, so a retried step never rolls back
twice. ``--to VERSION|DIGEST`` returns to the newest earlier state that ran it, even
from before the tool's first commit. The pin is written back as it was at that commit
(a digest-only pin stays digest-only; a pin the promotion added goes); when that does
not bring the old render back (the change was made elsewhere), the old image is pinned
instead. During a model canary the percentage goes to 0 beside the restored storageUri
(``promote.canary``). The rolled-back digest is put on hold. Stage order does not hold a rollback back.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gitops_mlops.change.effect import pin_edited, render_effect
from gitops_mlops.change.intents import Publish, RollbackRequest
from gitops_mlops.change.transaction import file_change, guard, run_change, transact, unified_diff
from gitops_mlops.change.write import FileEdit, write_all
from gitops_mlops.config.load import CONFIG_FILE, Config, Model, load_config
from gitops_mlops.config.sites import Site, discover_sites, select
from gitops_mlops.core.errors import InputError
from gitops_mlops.core.names import DIGEST_PREFIX_RE, VERSION_RE
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.pins import kustomization
from gitops_mlops.pins.canary import rolled_back
from gitops_mlops.promote import registered
from gitops_mlops.promote.result import Result, pull_request_text
from gitops_mlops.promote.rollbackplan import (
    Target,
    commit_message,
    expected,
    hold_edit,
    pin_changes,
    plan_rollback,
    refuse_placeholders,
    restored,
    rollback_result,
    settle_goals,
)
from gitops_mlops.render import hydrate
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.inputs import References
from gitops_mlops.render.state import ModelMatcher, render_state, split_image
from gitops_mlops.render.validate import schemas_for


def rollback(repo_dir: Path, request: RollbackRequest, options: Publish = Publish()) -> Result:
    repo_dir = Path(repo_dir).resolve()
    if request.to is not None and not (DIGEST_PREFIX_RE.match(request.to) or VERSION_RE.match(request.to)):
        raise InputError(f"--to {request.to!r}: not a version or a sha256 digest (sha256: and 12 to 64 hex characters)")
    config = load_config(repo_dir)
    config.model(request.model)  # an unknown model is bad input before git is touched
    targets = select(discover_sites(repo_dir, config), request.selectors)
    git = GitRepo(repo_dir)
    recovered = guard(git, [site.path for site in targets] + [CONFIG_FILE])
    tags: dict[str, str] = {}  # tag -> digest, asked of the registry once however often the change is applied

    def apply(dry_run: bool) -> Result:  # a dry run: the real run's steps up to the commit, registry and renders included
        return _apply(repo_dir, git, request, targets, tags, dry_run=dry_run)

    result = run_change(git, options, config, apply, "rollback", pull_request_text)
    return replace(result, recovered=recovered)


def _apply(repo_dir: Path, git: GitRepo, request: RollbackRequest, sites: tuple[Site, ...], tags: dict[str, str], dry_run: bool = False) -> Result:
    """Plan, ask the registry, write, render and verify, commit (and hydrate); on any failure every
    file is put back. A dry run stops before the commit and puts every file back: it exits as the real run would."""
    config = load_config(repo_dir)
    model = config.model(request.model)
    with RenderCache(repo_dir) as cache:
        refs = References()  # the folders and references the plan learned serve the render check: a pin edit changes neither
        goals, now = plan_rollback(repo_dir, git, config, model, sites, request.to, cache, refs)
        unchanged = tuple(s.name for s in sites if s.name not in {g.site.name for g in goals})
        if not goals:
            return rollback_result(model, (), unchanged)
        refuse_placeholders(model, goals)
        goals, notes = settle_goals(config, request, goals, tags)
        then = registered.labels_then(git, goals)
        edits = {g.site.name: FileEdit(g.file, g.text, restored(g.text, g, then)) for g in goals}
        hold = hold_edit(repo_dir, model, goals, request.reason)
        written: list[FileEdit] = []
        parent, seen = git.head(), {}  # the edited config, once the verify hook has loaded it; the hydrated branch

        def check() -> None:
            seen["config"] = load_config(repo_dir)  # the edited config must still load
            _render_effect(repo_dir, seen["config"], model, goals, edits, written, cache, now, refs)

        def message() -> str:
            made = seen["hydrated"] = hydrate.before_commit(repo_dir, git, seen["config"], parent, {g.site.name for g in goals}, cache)
            return commit_message(model, goals, request.message, request.reason) + (made.trailer if made else "")

        after = lambda sha: hydrate.after(git, seen["config"], seen["hydrated"], sha)  # noqa: E731
        change = file_change(repo_dir, [*edits.values(), hold], message, written, verify=check, after=after)
        done = transact(git, change, dry_run)
    changes = pin_changes(goals, edits)  # as the verify hook left them: it may pin the old image itself
    if dry_run:
        return rollback_result(model, goals, unchanged, diff=unified_diff([*edits.values(), hold]), changes=changes, notes=notes)
    return rollback_result(model, goals, unchanged, commit=done.commit, branch=git.branch(), changes=changes, also=done.also, notes=notes)


def _render_effect(
    repo_dir: Path,
    config: Config,
    model: Model,
    goals: list[Target],
    edits: dict[str, FileEdit],
    written: list[FileEdit],
    cache: RenderCache,
    now: dict,
    refs: References,
) -> None:
    """The old render must come back; where restoring the pin does not bring it, pin the old image itself."""
    sites = {g.site.name: g.site for g in goals}
    matcher = ModelMatcher(config)
    after = render_state(repo_dir, config, tuple(sites.values()), refs=pin_edited(refs), cache=cache)
    for goal in goals:
        state = after[goal.site.name]
        images = {c.image for c in matcher.by_model(goal.site.name, state.containers).get(model.name, [])}
        if state.ok and images == set(goal.goal.images):
            continue
        repository, tag, digest = split_image(goal.goal.images[0])
        text = kustomization.set_pin_exact(goal.text, goal.file, goal.pin_name, {"newName": repository, "newTag": tag or None, "digest": digest or None})
        text = rolled_back(text, goal.file, goal.pin_name)
        text = registered.restore_labels(goal, text, registered.labels_then(GitRepo(repo_dir), [goal]))
        edit = edits[goal.site.name] = FileEdit(goal.file, goal.text, text)
        write_all(repo_dir, [edit], written)
    render_effect(
        repo_dir,
        config,
        model,
        {g.site.name: expected(g.goal) for g in goals},
        sites,
        (),
        now,
        refs,
        cache,
        schemas_for(repo_dir, config, cache=cache),
    )
