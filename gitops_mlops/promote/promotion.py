"""Promotion: plan -> write -> render and verify -> commit -> publish (retrying from intent).

A promotion is one model, one digest, a set of sites, one commit. The steps live in
their own modules: ``plan`` (intent -> pin edits, judged on renders), ``edit``
(atomic writes, restore), ``effect`` (render and verify the effect at every target and
nothing past it), ``trailers`` (the commit message) and ``publish`` (push with retries,
new branch). Nothing to change is a normal result ("already up to date").
"""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from gitops_mlops.change.effect import Expected, verify
from gitops_mlops.change.intents import PromoteRequest, Publish
from gitops_mlops.change.propose import ask_forge, propose
from gitops_mlops.change.publish import journaled, publish
from gitops_mlops.change.write import FileEdit, restore, write_all
from gitops_mlops.config.load import Config, load_config
from gitops_mlops.config.sites import discover_sites
from gitops_mlops.core import settings
from gitops_mlops.core.errors import GitError, RegistryUnreachable, RenderError
from gitops_mlops.core.imageref import ImageRef, parse_image
from gitops_mlops.gitstore import journal as recovery
from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.promote import registered
from gitops_mlops.promote.plan import Intent, PinChange, Plan, plan_promotion, resolve_intent
from gitops_mlops.registry import client as registry
from gitops_mlops.registry import mirrors, scan
from gitops_mlops.render import hydrate
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.state import split_image
from gitops_mlops.render.validate import schemas_for, validate_sites


@dataclass(frozen=True)
class Result:
    action: str
    model: str
    version: str
    image: str
    digest: str
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]
    commit: str | None = None
    pushed: bool = False
    branch: str | None = None
    attempts: int = 0
    diff: str = ""
    changes: tuple[PinChange, ...] = ()
    pr_title: str = ""
    pr_body: str = ""
    pull_request: str = ""  # the pull request's URL, when --open-pr opened or updated one
    also: tuple[tuple[str, str], ...] = ()  # (sha, branch) pushed with the commit, atomically (the hydrated branch)
    timings: tuple[tuple[str, float], ...] = ()  # phase -> seconds, for benchmarks
    recovered: str = ""  # what was undone of an interrupted earlier run before this one
    notes: tuple[str, ...] = ()  # what the user is told on stderr (a tag resolved in the registry, a tag pinned offline)
    not_running: tuple[str, ...] = ()  # selected by a stage, group or glob, but the model does not live there

    def as_json(self) -> dict:
        return {
            "action": self.action,
            "model": self.model,
            "version": self.version or None,
            "image": self.image or None,
            "digest": self.digest or None,
            "sites": list(self.changed),
            "unchanged": list(self.unchanged),
            "notRunning": list(self.not_running),
            "commit": self.commit,
            "pushed": self.pushed,
            "branch": self.branch if self.commit else None,  # where the commit is; nothing committed, no branch
            "pullRequestUrl": self.pull_request or None,
            "changes": [change_json(c) for c in self.changes],
        }


def change_json(change: PinChange) -> dict:
    """One site's change in the shared vocabulary: what it rendered before and what it renders now."""
    old_version = (change.old.new_tag if change.old else None) or split_image(change.old_image)[1] or None
    old_digest = split_image(change.old_image)[2] or (change.old.digest if change.old else "") or None
    return {
        "site": change.site,
        "stage": change.stage,
        "from": {"version": old_version, "digest": old_digest, "image": change.old_image or None},
        "to": {"version": change.new_version or None, "digest": change.new_digest, "image": change.new_image or None},
    }


def promote(repo_dir: Path, request: PromoteRequest, options: Publish = Publish()) -> Result:
    """Run one promotion end to end."""
    repo_dir = Path(repo_dir).resolve()
    options.check()
    request = registered.resolve(repo_dir, request)  # a registered version's artifact becomes the image, before the plan
    intent = resolve_intent(repo_dir, request)  # bad input fails here, before the registry or any fetch
    if not request.registry_checked:
        request = settle_image(intent.config, intent.image, request)  # once: retries reuse the digest
        intent = replace(intent, image=parse_image(request.image))
    scan.check(intent.config, intent.image, Path(request.scan_report) if request.scan_report else None)  # before a file is written
    if request.verify and not settings.no_verify():
        mirrors.check(intent.config, intent.image, intent.targets, request.insecure_registries)
    git = GitRepo(repo_dir)
    git.refuse_in_progress()
    git.check_identity()  # a dry run exits as the real run would: no identity to commit as is exit 2 for both
    recovered = recovery.recover(git)
    refuse_dirty(git, [site.path for site in intent.targets] + ["gitops-mlops.yaml"])
    if options.dry_run:  # the real run's checks, renders included; every file put back, nothing committed
        if options.open_pr:
            ask_forge(git, options, intent.config)
        return replace(journaled(git, lambda: apply_promotion(repo_dir, git, intent, request, dry_run=True), "promote"), recovered=recovered)
    resolved_at = git.head()

    def apply() -> Result:  # the intent read above holds while HEAD has not moved; after a reset it is read again
        fresh = intent if git.head() == resolved_at else replace(resolve_intent(repo_dir, request), image=intent.image)
        return apply_promotion(repo_dir, git, fresh, request)

    result = propose(git, options, intent.config, lambda opts: journaled(git, lambda: publish(git, opts, intent.config, apply), "promote"), pull_request_text)
    return replace(result, recovered=recovered)


def settle_image(config: Config, image: ImageRef, request: PromoteRequest) -> PromoteRequest:
    """Ask the registry before anything is written: a tag becomes its digest; a digest must exist.

    A tag without a digest always needs the registry. A digest is checked in its registry
    (HTTPS, anonymous or with the credentials configured for it; any registry the policy
    allows, listed under ``registries:`` or not) unless ``--no-verify`` (or
    GITOPS_MLOPS_NO_VERIFY) says not to.
    """
    endpoints = registry.endpoints_for(config.registries, request.insecure_registries)
    if image.digest and (not request.verify or settings.no_verify()):
        return request
    with registry.RegistryClient(endpoints.values()) as client:
        if image.digest:
            with registry.offline_hint("promote"):
                client.verify(image)
            return replace(request, registry_checked=True)
        try:
            found = client.resolve(image)
        except RegistryUnreachable as exc:
            raise RegistryUnreachable(
                f"{exc}; a tag is resolved in its registry: to promote without it, name the digest (IMAGE:TAG@sha256:...) and pass --no-verify"
            ) from None
    return replace(request, image=str(replace(image, digest=found.digest)), registry_checked=True)


def refuse_dirty(git: GitRepo, paths: list[str]) -> None:
    dirty = git.dirty(paths)
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise GitError(f"uncommitted changes under the paths to change: {shown}; commit or stash them first")


def apply_promotion(
    repo_dir: Path,
    git: GitRepo,
    intent: Intent,
    request: PromoteRequest,
    verify_effect: bool = True,
    hydrate_it: bool = True,
    dry_run: bool = False,
    kept: list[FileEdit] | None = None,
) -> Result:
    """Plan, write, render and verify, commit (and hydrate); on any failure every file is put back.
    A dry run stops after the verification and puts every file back (with ``kept``, leaves them for
    the next promotion to build on, as it would on the commit, and adds them to ``kept`` for the
    caller to put back): it exits as the real run would."""
    clock = [("start", time.perf_counter())]
    with RenderCache(repo_dir) as cache:
        hydrate.seed(git, intent.config, cache)
        plan = plan_promotion(repo_dir, intent, request, cache)
        clock.append(("plan", time.perf_counter()))
        if not plan.changes:
            return _result(intent, plan)
        files = plan.files()
        schemas = schemas_for(repo_dir, intent.config, cache=cache) if verify_effect else None  # a bad CRD path fails before a file is written
        written: list[FileEdit] = []
        parent, sha = git.head(), None
        note = recovery.begin(git, [(f.file, f.before, f.after) for f in files])
        try:
            write_all(repo_dir, files, written)
            clock.append(("write", time.perf_counter()))
            if verify_effect:
                want = Expected(intent.image.repository, intent.image.digest or "", intent.tag)
                sites = {s.name: s for s in intent.all_sites}
                changes = {c.site: want for c in plan.changes}
                verify(repo_dir, intent.config, intent.model, changes, sites, plan.others, plan.before, plan.refs, cache, schemas)
            clock.append(("verify", time.perf_counter()))
            if dry_run:
                restore(repo_dir, written) if kept is None else kept.extend(written)
                return _result(intent, plan, diff=unified_diff(files))
            hydrated = hydrate.before_commit(repo_dir, git, intent.config, parent, {c.site for c in plan.changes}, cache) if hydrate_it else None
            clock.append(("hydrate", time.perf_counter()))
            sha = git.commit([f.file for f in files], commit_message(intent, request, plan) + (hydrated.trailer if hydrated else ""))
            recovery.committed(git, note, sha)
            also = hydrate.after(git, intent.config, hydrated, sha)
            clock.append(("commit", time.perf_counter()))
        except BaseException as exc:  # put back; what cannot be (a full disk) is left, with the journal, to the next run
            committed = sha is not None and parent and git.head() == sha
            recovery.undo(exc, *([lambda: git.reset_keep(parent)] if committed else []), lambda: restore(repo_dir, written))
            raise
    timings = tuple((name, t - clock[i][1]) for i, (name, t) in enumerate(clock[1:]))
    return _result(intent, plan, commit=sha, branch=git.branch(), timings=timings, also=also)


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
    )
    return trailers.write(record)


def promote_together(repo_dir: Path, requests: list[PromoteRequest], options: Publish = Publish()) -> list[Result]:
    """Several promotions, one commit each (each with its own trailers), rendered and validated
    together once on the final tree before anything is pushed; if that fails, the branch
    returns to where it was. With push, all commits go in one push, re-applied from intent
    if the remote moved. Used by ``update``: one kustomize run instead of one per model.
    A dry run takes the same steps up to the first commit, each promotion planned on the files
    of the one before, then puts every file back: it exits as the real run would.
    """
    repo_dir = Path(repo_dir).resolve()
    options.check()
    intents = [resolve_intent(repo_dir, r) for r in requests]
    git = GitRepo(repo_dir)
    git.refuse_in_progress()
    git.check_identity()
    recovery.recover(git)
    refuse_dirty(git, sorted({site.path for i in intents for site in i.targets}) + ["gitops-mlops.yaml"])
    results: list[Result] = []
    if not requests:
        return []
    config = intents[0].config
    if options.dry_run:
        if options.open_pr:  # as the real run would, the forge is asked before anything is written
            ask_forge(git, options, config)
        journaled(git, lambda: _apply_together(repo_dir, git, requests, results, dry_run=True), "update")
        return results
    apply = partial(_apply_together, repo_dir, git, requests, results)
    last = propose(
        git,
        options,
        config,
        lambda opts: journaled(git, lambda: publish(git, opts, config, apply), "update"),
        lambda _, base, head: together_text(results, base, head),
    )
    commits = _as_published(git, [r.commit for r in results], last.commit)
    return [
        replace(r, commit=commit, pushed=last.pushed and r.commit is not None, branch=last.branch, attempts=last.attempts, pull_request=last.pull_request)
        for r, commit in zip(results, commits, strict=True)
    ]


def _apply_together(repo_dir: Path, git: GitRepo, requests: list[PromoteRequest], results: list[Result], dry_run: bool = False) -> Result:
    """Apply each promotion on the one before, then validate every changed site once (and hydrate);
    on any failure the branch returns to where it was. A dry run commits nothing and puts every file back."""
    results.clear()
    base = git.head()
    kept: list[FileEdit] = []
    try:
        for request in requests:
            intent = resolve_intent(repo_dir, request)
            results.append(apply_promotion(repo_dir, git, intent, request, verify_effect=False, hydrate_it=False, dry_run=dry_run, kept=kept))
        changed = {name for r in results for name in r.changed}
        if changed:
            config = load_config(repo_dir)
            sites = tuple(s for s in discover_sites(repo_dir, config) if s.name in changed)
            failed = [r for r in validate_sites(repo_dir, config, sites, schemas=schemas_for(repo_dir, config)) if not r.ok]
            if failed:
                more = f" (and {len(failed) - 1} more sites)" if len(failed) > 1 else ""
                raise RenderError(f"validation failed, nothing changed: {failed[0].errors[0]}{more}")
            if not dry_run:
                with RenderCache(repo_dir) as cache:
                    also = hydrate.after_commit(repo_dir, git, config, git.head(), base, changed, cache)
                if also:  # pushed with the last commit
                    last = max(i for i, r in enumerate(results) if r.commit)
                    results[last] = replace(results[last], also=also)
    except BaseException as exc:  # put back; what cannot be (a full disk) is left, with the journal, to the next run
        steps = [lambda: git.reset_keep(base)] if base and git.head() != base else []
        recovery.undo(exc, *steps, lambda: restore(repo_dir, kept[::-1]))
        raise
    restore(repo_dir, kept[::-1])  # a dry run's files, the last written first: each file as it was
    return next((r for r in reversed(results) if r.commit), results[-1])


def _as_published(git: GitRepo, commits: list[str | None], published: str | None) -> list[str | None]:
    """Each promotion's commit as published: this run's, or, where ``--branch`` found a branch with
    the same whole change and reused it, the branch's commit in the same place (its last one for
    each, when the branch holds the change in another number of commits)."""
    made = [c for c in commits if c]
    if not made or published is None or published == made[-1]:
        return commits
    fork = git.run("merge-base", published, f"{made[0]}^").strip()
    theirs = git.run("rev-list", "--reverse", f"{fork}..{published}").split()
    mapped = iter(theirs if len(theirs) == len(made) else [published] * len(made))
    return [next(mapped) if c else None for c in commits]


def together_text(results: list[Result], base: str, branch: str) -> tuple[str, str]:
    """One pull request's title and body for several promotions (``update``): a section per promotion."""
    made = [r for r in results if r.commit]
    if len(made) == 1:
        return pull_request_text(made[0], base, branch)
    title = "Update " + ", ".join(f"{r.model} {r.version}" for r in made)
    sections = [f"### {_title(r)}\n\n{_summary(r)}" for r in made]
    return title, "\n\n".join([*sections, _review(base, branch)])


def _result(intent: Intent, plan: Plan, **extra) -> Result:
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
        **extra,
    )


def unified_diff(files: list[FileEdit]) -> str:
    out = []
    for edit in files:
        out.extend(
            difflib.unified_diff(
                edit.before.splitlines(keepends=True), edit.after.splitlines(keepends=True), fromfile=f"a/{edit.file}", tofile=f"b/{edit.file}"
            )
        )
    return "".join(out)


def pull_request_text(result: Result, base: str, branch: str) -> tuple[str, str]:
    """A pull request's title and markdown body for one promotion or rollback."""
    return _title(result), f"{_summary(result)}\n\n{_review(base, branch)}"


def _title(result: Result) -> str:
    sites = result.changed
    verb = "Roll back" if result.action == "rollback" else "Promote"
    return f"{verb} {result.model} {result.version} to {sites[0] if len(sites) == 1 else f'{len(sites)} sites'}"


def _summary(result: Result) -> str:
    """What it pins, and a row per site: version and digest before and after."""
    verb = "Rolls back" if result.action == "rollback" else "Promotes"
    rows = ["| site | version | digest |", "| --- | --- | --- |"]
    for change in result.changes:
        old = change.old
        old_version = (old.new_tag if old else None) or "-"
        old_digest = old.digest[:19] if old and old.digest else "-"
        rows.append(f"| {change.site} | {old_version} → {change.new_version or '-'} | `{old_digest}` → `{change.new_digest[:19]}` |")
    return "\n".join([f"{verb} **{result.model}** to `{result.image}`.", "", *rows])


def _review(base: str, branch: str) -> str:
    return f"Review the rendered change per site:\n\n    gitops-mlops diff --base {base} --head {branch} --markdown\n"
