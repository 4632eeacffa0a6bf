"""Releases: the models that move together (a model, its serving runtime, the application that
calls it) promoted in one validated commit.

Every named member is resolved and checked in its registry as a promotion of its own; then one
change transaction: each member planned on the same tree and renders (its own stage gate, holds
and downgrade check), the combination judged (``combination``: the members not named must run
the same everywhere before, and ``requires:``), every pin edit merged per file and written once,
the whole release rendered and verified once, one commit naming the release and each member's
image. Members not named keep what they run.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from gitops_mlops.change.effect import Expected, verify_models
from gitops_mlops.change.intents import PromoteRequest, Publish
from gitops_mlops.change.transaction import file_change, guard, run_change, transact, unified_diff
from gitops_mlops.change.write import FileEdit
from gitops_mlops.config.load import CONFIG_FILE, load_config
from gitops_mlops.config.releases import Release
from gitops_mlops.config.sites import Site
from gitops_mlops.core import settings
from gitops_mlops.core.imageref import parse_image
from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.pins import kustomization
from gitops_mlops.promote import combination, wavegate
from gitops_mlops.promote.apply import _result as member_result
from gitops_mlops.promote.labelrequires import LabelRequirements
from gitops_mlops.promote.plan import Intent, Plan, plan_promotion, resolve_intent
from gitops_mlops.promote.releaseresult import ReleaseRequest, ReleaseResult, check_members, release_text
from gitops_mlops.promote.settle import settle_image
from gitops_mlops.registry import mirrors, scan
from gitops_mlops.render import hydrate
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.inputs import References
from gitops_mlops.render.validate import schemas_for

__all__ = ["ReleaseRequest", "ReleaseResult", "apply_release", "promote_release"]


def promote_release(repo_dir: Path, request: ReleaseRequest, options: Publish = Publish()) -> ReleaseResult:
    """Promote the named members of a release at the selected sites: one commit, or nothing."""
    repo_dir = Path(repo_dir).resolve()
    config = load_config(repo_dir)
    release = check_members(config, request)  # bad input fails here, before the registry or any fetch
    requests = request.member_requests()
    intents = [resolve_intent(repo_dir, r) for r in requests]
    for r, intent in zip(requests, intents, strict=True):
        wavegate.check_request(intent, r)  # a release moves a staged stage only with --all-waves
    for i, (r, intent) in enumerate(zip(requests, intents, strict=True)):
        requests[i] = r if r.registry_checked else settle_image(config, intent.image, r)  # once: retries reuse the digests
        intents[i] = replace(intent, image=parse_image(requests[i].image))
        intents[i] = wavegate.narrow(repo_dir, intents[i], requests[i])  # the stage before: its waves done, this stage's soak passed
        scan.check(config, intents[i].image, None)
        if r.verify and not settings.no_verify():
            mirrors.check(config, intents[i].image, intents[i].targets, r.insecure_registries)
    git = GitRepo(repo_dir)
    recovered = guard(git, sorted({s.path for i in intents for s in i.targets}) + [CONFIG_FILE])
    resolved_at = git.head()

    def apply(dry_run: bool) -> ReleaseResult:  # the intents read above hold while HEAD has not moved; after a reset they are read again
        fresh = intents
        if not dry_run and git.head() != resolved_at:
            fresh = [wavegate.narrow(repo_dir, replace(resolve_intent(repo_dir, r), image=i.image), r) for r, i in zip(requests, intents, strict=True)]
        return apply_release(repo_dir, git, release, fresh, requests, request, dry_run=dry_run)

    result = run_change(git, options, config, apply, "promote", release_text)
    return replace(result, recovered=recovered)


def apply_release(
    repo_dir: Path,
    git: GitRepo,
    release: Release,
    intents: list[Intent],
    requests: list[PromoteRequest],
    request: ReleaseRequest,
    dry_run: bool = False,
) -> ReleaseResult:
    """Plan every member on the tree as it is, judge the combination, then one transaction: write every
    edit, render and verify the whole release once, commit (and hydrate). On any failure every file is
    put back; a dry run puts them back after the verification."""
    clock = [("start", time.perf_counter())]
    tick = lambda name: clock.append((name, time.perf_counter()))  # noqa: E731
    config = intents[0].config
    with RenderCache(repo_dir) as cache:
        hydrate.seed(git, config, cache)
        refs = References()
        plans = [plan_promotion(repo_dir, i, r, cache, refs=refs) for i, r in zip(intents, requests, strict=True)]
        tick("plan")
        results = [member_result(i, p) for i, p in zip(intents, plans, strict=True)]
        if not any(p.changes for p in plans):
            return ReleaseResult(release.name, tuple(results))
        before = {name: state for p in plans for name, state in p.before.items()}
        targets = _targets(intents)
        if not request.force_order:
            combination.check_gate(repo_dir, config, release, {i.model.name for i in intents}, targets, intents[0].all_sites, before, cache, refs)
        with LabelRequirements(config, request.insecure_registries, request.verify, labels=request.labels) as labelled:
            combination.check_release(config, [(i.model.name, p.changes) for i, p in zip(intents, plans, strict=True)], before, labelled)
        notes = tuple(labelled.notes)
        tick("combination")
        files = merged_edits(intents, plans)
        schemas = schemas_for(repo_dir, config, cache=cache)  # a bad CRD path fails before a file is written
        change = _change(repo_dir, git, release, intents, plans, request, cache, refs, schemas, files, tick)
        done = transact(git, change, dry_run=dry_run)
    if dry_run:
        return ReleaseResult(release.name, tuple(results), diff=unified_diff(files), notes=notes)
    timings = tuple((name, t - clock[i][1]) for i, (name, t) in enumerate(clock[1:]))
    members = tuple(replace(r, commit=done.commit if r.changed else None, branch=git.branch()) for r in results)
    return ReleaseResult(release.name, members, commit=done.commit, branch=git.branch(), also=done.also, diff=unified_diff(files), timings=timings, notes=notes)


def _change(repo_dir, git, release, intents, plans, request, cache, refs, schemas, files, tick):
    """The release's files, its verify hook (every member's effect at its sites and nothing past them,
    rendered once), its message and the hydrated branch made before and after the commit."""
    parent, hydrated = git.head(), []
    config = intents[0].config
    changed = {c.site for p in plans for c in p.changes}

    def check() -> None:
        tick("write")
        sites = {s.name: s for s in intents[0].all_sites}
        wants = tuple(
            (i.model, {c.site: Expected(i.image.repository, i.image.digest or "", i.tag) for c in p.changes})
            for i, p in zip(intents, plans, strict=True)
            if p.changes
        )
        others = tuple({s.name: s for p in plans for s in p.others}.values())
        before = {name: state for p in plans for name, state in p.before.items()}
        verify_models(repo_dir, config, wants, sites, others, before, refs, cache, schemas)
        tick("verify")

    def message() -> str:
        made = hydrate.before_commit(repo_dir, git, config, parent, changed, cache)
        hydrated.append(made)
        tick("hydrate")
        return release_message(release, intents, plans, request) + (made.trailer if made else "")

    def after(sha: str) -> tuple:
        also = hydrate.after(git, config, hydrated[0], sha)
        tick("commit")
        return also

    return file_change(repo_dir, files, message, verify=check, after=after)


def _targets(intents: list[Intent]) -> tuple[Site, ...]:
    seen: dict[str, Site] = {}
    for intent in intents:
        seen.update((s.name, s) for s in intent.targets)
    return tuple(seen.values())


def merged_edits(intents: list[Intent], plans: list[Plan]) -> list[FileEdit]:
    """One edit per file: each member's pin edit made in turn on the text the one before left (members
    pinned in one kustomization share its file)."""
    texts: dict[str, tuple[str, str]] = {}  # file -> (before, after so far)
    for intent, plan in zip(intents, plans, strict=True):
        values = {"newName": intent.image.repository, "newTag": intent.tag, "digest": intent.image.digest or ""}
        for change in plan.changes:
            if change.file not in texts:
                texts[change.file] = (change.before, change.after)
                continue
            first, now = texts[change.file]
            texts[change.file] = (first, kustomization.edit_pin_noted(now, change.file, change.pin_name, values)[1])
        for edit in plan.edits:
            first, _ = texts.get(edit.file, (edit.before, ""))
            texts[edit.file] = (first, edit.after)
    return [FileEdit(file, first, after) for file, (first, after) in texts.items()]


def release_message(release: Release, intents: list[Intent], plans: list[Plan], request: ReleaseRequest) -> str:
    moved = [(i, p) for i, p in zip(intents, plans, strict=True) if p.changes]
    sites = sorted({c.site for _, p in moved for c in p.changes})
    where = sites[0] if len(sites) == 1 else f"{len(sites)} sites"
    subject = f"promote release {release.name} ({', '.join(f'{i.model.name} {i.version}' for i, _ in moved)}) to {where}"
    members = [
        trailers.Record(
            "promote",
            i.model.name,
            i.version,
            ((str(i.image), tuple(c.site for c in p.changes)),),
            forced=request.force_order,
            subject=subject,
            body=request.message,
        )
        for i, p in moved
    ]
    return trailers.write_release(release.name, members)
