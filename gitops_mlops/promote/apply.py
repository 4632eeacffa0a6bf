"""One promotion's change: plan it on the checkout as it is, then run it as one transaction (write,
render and verify its effect, commit with its trailers, hydrate); nothing to change is a normal result."""

from __future__ import annotations

import time
from pathlib import Path

from gitops_mlops.change.effect import Expected, render_effect
from gitops_mlops.change.intents import PromoteRequest
from gitops_mlops.change.transaction import Change, file_change, transact, unified_diff
from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.promote import canary, combination
from gitops_mlops.promote.labelrequires import LabelRequirements
from gitops_mlops.promote.plan import Intent, Plan, plan_promotion
from gitops_mlops.promote.result import Result
from gitops_mlops.render import hydrate
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.validate import schemas_for


def apply_promotion(
    repo_dir: Path,
    git: GitRepo,
    intent: Intent,
    request: PromoteRequest,
    verify_effect: bool = True,
    hydrate_it: bool = True,
    dry_run: bool = False,
    kept: list | None = None,
) -> Result:
    """Plan, then one transaction: write, render and verify, commit (and hydrate); on any failure every
    file is put back. A dry run stops after the verification and puts every file back (with ``kept``,
    leaves them for the next promotion to build on, as it would on the commit, and adds their restore to
    ``kept`` for the caller to run): it exits as the real run would."""
    clock = [("start", time.perf_counter())]
    with RenderCache(repo_dir) as cache:
        hydrate.seed(git, intent.config, cache)
        plan = plan_promotion(repo_dir, intent, request, cache)
        clock.append(("plan", time.perf_counter()))
        if not plan.changes:
            return _result(intent, plan)
        with LabelRequirements(intent.config, request.insecure_registries, request.verify) as labelled:
            combination.check_plan(intent.config, intent.model.name, plan.changes, plan.before, labelled)  # declared compatibility (``requires:``)
        notes = tuple(labelled.notes)
        files = plan.files()
        schemas = schemas_for(repo_dir, intent.config, cache=cache) if verify_effect else None  # a bad CRD path fails before a file is written
        change = _change(repo_dir, git, intent, request, plan, cache, schemas, hydrate_it, clock)
        done = transact(git, change, dry_run=dry_run, kept=kept)
    if dry_run:
        return _result(intent, plan, diff=unified_diff(files), more=notes)
    timings = tuple((name, t - clock[i][1]) for i, (name, t) in enumerate(clock[1:]))
    return _result(intent, plan, commit=done.commit, branch=git.branch(), timings=timings, also=done.also, more=notes)


def _change(repo_dir: Path, git: GitRepo, intent: Intent, request: PromoteRequest, plan: Plan, cache, schemas, hydrate_it: bool, clock: list) -> Change:
    """The promotion's files, its verify hook (the effect at every target and nothing past it, when
    ``schemas`` says to verify), its message and the hydrated branch made before and after the commit."""
    parent, hydrated = git.head(), []
    tick = lambda name: clock.append((name, time.perf_counter()))  # noqa: E731

    def check() -> None:
        tick("write")
        if schemas is not None:
            want = Expected(intent.image.repository, intent.image.digest or "", intent.tag)
            sites = {s.name: s for s in intent.all_sites}
            changes = {c.site: want for c in plan.changes}
            after = render_effect(repo_dir, intent.config, intent.model, changes, sites, plan.others, plan.before, plan.refs, cache, schemas)
            canary.check_rendered(intent.config, intent.model, after, list(changes), intent.canary)
        tick("verify")

    def message() -> str:
        made = hydrate.before_commit(repo_dir, git, intent.config, parent, {c.site for c in plan.changes}, cache) if hydrate_it else None
        hydrated.append(made)
        tick("hydrate")
        return commit_message(intent, request, plan) + (made.trailer if made else "")

    def after(sha: str) -> tuple:
        also = hydrate.after(git, intent.config, hydrated[0], sha)
        tick("commit")
        return also

    return file_change(repo_dir, plan.files(), message, verify=check, after=after)


def commit_message(intent: Intent, request: PromoteRequest, plan: Plan) -> str:
    sites = [c.site for c in plan.changes]
    record = trailers.Record(
        action="promote",
        model=intent.model.name,
        version=intent.version,
        images=((str(intent.image), tuple(sites)),),
        forced=request.force_order,
        subject=trailers.subject("promote", intent.model.name, intent.version, sites),
        body=request.message,
        registered_model=request.registered.model if request.registered else "",
        model_version_id=request.registered.version_id if request.registered else "",
        wave=intent.wave,
    )
    return trailers.write(record)


def _result(intent: Intent, plan: Plan, more: tuple[str, ...] = (), **extra) -> Result:
    return Result(
        action="promote",
        model=intent.model.name,
        version=intent.version,
        image=str(intent.image),
        digest=intent.image.digest or "",
        changed=tuple(c.site for c in plan.changes),
        unchanged=plan.unchanged,
        changes=plan.changes,
        not_running=plan.not_running,
        wave=intent.wave,
        notes=((canary.describe(intent.canary),) if intent.canary and plan.changes else ()) + more,
        **extra,
    )
