"""Promotion: plan -> check policy -> write -> validate -> commit -> push (retrying from intent).

A promotion is one model, one digest, a set of sites, one commit. The edit is
planned in memory first; nothing to change is a normal result ("already up to
date"). Files are written atomically and restored byte for byte if rendering
fails. A push rejected because the remote moved is retried: fetch, reset to the
new tip, re-plan the same intent, re-validate, push again; never force.
"""

from __future__ import annotations

import difflib
import itertools
import os
import random
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from gitops_mlops import journal, kustomization, policy, registry
from gitops_mlops.config import CONFIG_FILE, Config, Hold, Model, env_number, load_config
from gitops_mlops.errors import GitError, PushRejected, RenderError
from gitops_mlops.gitrepo import GitRepo
from gitops_mlops.holds import add_holds, remove_holds
from gitops_mlops.imageref import ImageRef, parse_image
from gitops_mlops.kustomization import Pin
from gitops_mlops.rollback import rollback_targets
from gitops_mlops.sites import Site, discover_sites, kustomization_of, select
from gitops_mlops.validate import validate_sites

# Sized for 8 pipelines promoting at once (tests/test_concurrency.py): every rejection means
# another promotion landed, so the count is bounded by what lands meanwhile. 8 racers x 6
# promotions on 2 busy cores needed up to 15 attempts for one promotion (with the old bound
# of 12, one gave up). A 0.5 s base (about one attempt's duration, so the first retries already spread out)
# cut the total attempts (175 with 0.2 s; 145 and 158 with 0.5 s). 30 leaves a wide margin; the backoff
# (full jitter, capped) keeps the worst case near two minutes.
MAX_PUSH_ATTEMPTS = int(env_number("GITOPS_MLOPS_PUSH_ATTEMPTS", 30, minimum=1))
BACKOFF_BASE = 0.5
BACKOFF_CAP = 5.0
WRITE_THREADS = 4
_TEMP_TAG = secrets.token_hex(4)  # temp names: pid, this tag and a counter; no random draw per file
_temp_count = itertools.count()


@dataclass(frozen=True)
class Request:
    """What the pipeline asked for: the intent re-applied on every retry."""

    model: str
    image: str
    selectors: tuple[str, ...]
    version: str | None = None
    action: str = "promote"
    message: str = ""
    force_order: bool = False
    allow_downgrade: bool = False
    force_hold: bool = False
    dry_run: bool = False
    push: bool = False
    remote: str | None = None
    target_branch: str | None = None
    branch: str | None = None
    to: str | None = None  # rollback: the version or digest to return to (default: the previous one)
    insecure_registries: tuple[str, ...] = ()  # HOST[:PORT] reached over plain HTTP (loopback, labs)
    registry_checked: bool = False  # the image's digest was already resolved/verified by this command


@dataclass(frozen=True)
class PinChange:
    site: str
    file: str  # repository-relative path of the kustomization
    old: Pin | None
    new_version: str
    new_digest: str
    before: str = field(repr=False, default="")
    after: str = field(repr=False, default="")


@dataclass(frozen=True)
class FileEdit:
    """Another file the same commit changes (gitops-mlops.yaml holds)."""

    file: str
    before: str = field(repr=False)
    after: str = field(repr=False)


@dataclass(frozen=True)
class Plan:
    changes: tuple[PinChange, ...]
    unchanged: tuple[str, ...]
    edits: tuple[FileEdit, ...] = ()


@dataclass(frozen=True)
class Result:
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
    timings: tuple[tuple[str, float], ...] = ()  # phase -> seconds, for benchmarks
    recovered: str = ""  # what was undone of an interrupted earlier run before this one

    def as_json(self) -> dict:
        return {
            "model": self.model,
            "version": self.version,
            "image": self.image,
            "digest": self.digest,
            "changed": list(self.changed),
            "unchanged": list(self.unchanged),
            "commit": self.commit,
            "pushed": self.pushed,
            "branch": self.branch,
        }


@dataclass(frozen=True)
class _Intent:
    config: Config
    model: Model
    image: ImageRef
    version: str
    targets: tuple[Site, ...]
    all_sites: tuple[Site, ...]


def promote(repo_dir: Path, request: Request) -> Result:
    """Run one promotion (or rollback) end to end."""
    repo_dir = Path(repo_dir).resolve()
    intent = _resolve_intent(repo_dir, request)  # bad input fails here, before the registry or any fetch; apply re-reads the tip
    if request.action == "promote" and not request.registry_checked:
        request = settle_image(intent.config, intent.image, request)  # once: retries after a rejected push reuse the digest
        intent = replace(intent, image=parse_image(request.image))
    git = GitRepo(repo_dir)
    if request.dry_run:
        plan = _plan(repo_dir, intent, request)
        return _result(intent, plan, diff=_unified_diff(plan))
    recovered = journal.recover(git)
    _refuse_dirty(git, [site.path for site in intent.targets] + [CONFIG_FILE])
    resolved_at = git.head()

    def apply() -> Result:  # the intent read above holds while HEAD has not moved; after a reset it is read again
        return _apply_and_commit(repo_dir, git, request, intent if git.head() == resolved_at else None)

    return replace(_journaled(git, lambda: publish(git, request, intent.config, apply)), recovered=recovered)


def _journaled(git: GitRepo, run: Callable[[], Result]) -> Result:
    """Run a publish; its journal (written by apply) goes once it has finished, well or not."""
    try:
        return run()
    finally:
        journal.clear(git)


def publish(git: GitRepo, request: Request, config: Config, apply: Callable[[], Result]) -> Result:
    """Commit locally, on a new branch, or on the remote's tip with push and retries."""
    remote = request.remote or config.remote
    target = request.target_branch or config.target_branch
    if request.branch:
        return _on_new_branch(git, request, remote, target, apply)
    if not request.push:
        return apply()
    head = git.head()
    try:
        return _push_with_retries(git, remote, target, apply)
    except BaseException:
        if head:  # a failed push leaves the checkout where it was: the unpushed commit is dropped
            git.reset_keep(head)
        raise


def settle_image(config: Config, image: ImageRef, request: Request) -> Request:
    """Ask the registry before anything is written: a tag becomes its digest; a digest must exist.

    A tag without a digest always needs the registry. A digest is checked only in
    registries the config lists under ``registries:`` or ``--insecure-registry``
    names; others are not contacted, so promoting a known digest works offline.
    """
    endpoints = registry.endpoints_for(config.registries, request.insecure_registries)
    if image.digest and image.registry not in endpoints:
        return request
    with registry.RegistryClient(endpoints.values()) as client:
        if image.digest:
            client.verify(image)
            return replace(request, registry_checked=True)
        found = client.resolve(image)
    return replace(request, image=str(replace(image, digest=found.digest)), registry_checked=True)


def _resolve_intent(repo_dir: Path, request: Request) -> _Intent:
    config = load_config(repo_dir)
    model = config.model(request.model)
    image = parse_image(request.image)
    all_sites = discover_sites(repo_dir, config)
    targets = select(all_sites, request.selectors)
    version = ""
    if request.action == "promote":
        version = policy.promotion_version(image, request.version)
        if image.digest or request.registry_checked or not image.tag:
            policy.check_image(config, model, image)
        else:  # a tag: the registry resolves it next (promote), after the policy checks that need no digest
            policy.check_source(config, model, image)
    return _Intent(config=config, model=model, image=image, version=version, targets=targets, all_sites=all_sites)


def _refuse_dirty(git: GitRepo, paths: list[str]) -> None:
    dirty = git.dirty(paths)
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise GitError(f"uncommitted changes under the paths to change: {shown}; commit or stash them first")


def _plan(repo_dir: Path, intent: _Intent, request: Request) -> Plan:
    """Read current pins, check policy, compute new file texts. Writes nothing."""
    model = intent.model
    texts: dict[str, tuple[str, str]] = {}
    pins: dict[str, Pin | None] = {}
    needed = {s.name for s in intent.targets}
    if request.action == "promote" and not request.force_order:
        last_stage = max(intent.config.stage_index(s.stage) for s in intent.targets)
        needed |= {s.name for s in intent.all_sites if intent.config.stage_index(s.stage) < last_stage}
    targets = {s.name for s in intent.targets}
    for site in intent.all_sites:
        if site.name in needed:
            path = kustomization_of(repo_dir, site)
            rel = path.relative_to(repo_dir).as_posix()
            texts[site.name] = (rel, kustomization.read_text(path, rel))
            if site.name not in targets:  # a target's pin is read by its edit below
                pins[site.name] = _pin_in(texts[site.name][1], rel, model.image)
    digest = intent.image.digest or ""
    values = {"newName": model.repository if request.action == "rollback" else intent.image.repository, "newTag": intent.version, "digest": digest}
    edited = {}
    for site in intent.targets:
        rel, text = texts[site.name]
        pins[site.name], edited[site.name] = kustomization.edit_pin(text, rel, model.image, values) if request.action == "promote" else (_pin_in(text, rel, model.image), None)
    if request.action == "promote":
        if not request.force_order:
            policy.check_stage_order(intent.config, model, digest, intent.targets, pins, intent.all_sites)
        if not request.allow_downgrade:
            policy.check_downgrade(model, intent.version, pins, intent.targets)
        if not request.force_hold:
            policy.check_holds(intent.config, model, digest, intent.targets)
        goals = {site.name: (digest, intent.version) for site in intent.targets}
    else:
        files = {name: rel for name, (rel, _) in texts.items()}
        goals = {t.site: (t.digest, t.version) for t in rollback_targets(repo_dir, intent.config, model, intent.targets, pins, files, request.to)}
    changes, unchanged = [], []
    for site in intent.targets:
        rel, text = texts[site.name]
        new_digest, new_version = goals[site.name]
        after = edited[site.name]
        if after is None:  # rollback: each site has its own target
            site_values = {**values, "newTag": new_version, "digest": new_digest}
            if not new_version:
                site_values.pop("newTag")
            after = kustomization.set_pin(text, rel, model.image, site_values)
        if after == text:
            unchanged.append(site.name)
        else:
            changes.append(PinChange(site.name, rel, pins[site.name], new_version, new_digest, before=text, after=after))
    edits: tuple[FileEdit, ...] = ()
    if request.action == "rollback" and changes:
        edits = (_hold_edit(repo_dir, model, changes),)
    return Plan(tuple(changes), tuple(unchanged), edits)


def _pin_in(text: str, source: str, image: str) -> Pin | None:
    fields = kustomization.fast_pin_fields(text)
    if fields is None:
        return kustomization.parse(text, source).pin(image)
    return next((Pin(*f) for f in fields if f[0] == image), None)


def _hold_edit(repo_dir: Path, model: Model, changes: list[PinChange]) -> FileEdit:
    """Put each rolled-back (model, site, digest) on hold, so automation does not undo the rollback."""
    path = repo_dir / CONFIG_FILE
    before = path.read_bytes().decode("utf-8")
    new = [
        Hold(model.name, c.site, c.old.digest, f"rolled back from {c.old.new_tag or c.old.digest[:19]} to {c.new_version or c.new_digest[:19]}")
        for c in changes
        if c.old is not None and c.old.digest
    ]
    return FileEdit(CONFIG_FILE, before, add_holds(before, new))


def _result(intent: _Intent, plan: Plan, **extra) -> Result:
    digests = sorted({c.new_digest for c in plan.changes})
    version = intent.version or ", ".join(sorted({c.new_version for c in plan.changes if c.new_version}))
    return Result(
        model=intent.model.name,
        version=version,
        image=str(intent.image) if intent.version else f"{intent.model.repository}@{', '.join(digests)}",
        digest=intent.image.digest if intent.version else ", ".join(digests),
        changed=tuple(c.site for c in plan.changes),
        unchanged=plan.unchanged,
        changes=plan.changes,
        **extra,
    )


def _unified_diff(plan: Plan) -> str:
    out = []
    files = [(c.file, c.before, c.after) for c in plan.changes] + [(e.file, e.before, e.after) for e in plan.edits]
    for name, before, after in files:
        out.extend(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), fromfile=f"a/{name}", tofile=f"b/{name}"))
    return "".join(out)


# ------------------------------------------------------------------ write, validate, commit


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` via a temp file + rename: a crash never leaves it half-written."""
    tmp = f"{path.parent}/.{path.name}.{os.getpid()}.{_TEMP_TAG}.{next(_temp_count)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, path.stat().st_mode & 0o7777)
    try:
        try:
            data = memoryview(text.encode("utf-8"))
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_all(repo_dir: Path, edits: list[FileEdit], written: list[FileEdit]) -> None:
    """Write every edit (in a few threads: each file costs a create and a rename, mostly kernel
    time); ``written`` collects those that landed, for the caller to restore on failure."""

    def write(edit: FileEdit) -> None:
        write_atomic(repo_dir / edit.file, edit.after)
        written.append(edit)

    if len(edits) < 64:
        for edit in edits:
            write(edit)
        return
    with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
        futures = [pool.submit(write, edit) for edit in edits]
    for future in futures:
        future.result()  # the first failure, once every write has finished or failed


def promote_together(repo_dir: Path, requests: list[Request], push: bool = False, remote: str | None = None, target_branch: str | None = None) -> list[Result]:
    """Several promotions, one commit each (each with its own trailers), rendered and validated
    together once on the final tree before anything is pushed; if that fails, the branch
    returns to where it was. With ``push``, all commits go in one push, re-applied from
    intent if the remote moved. Used by ``update``: one kustomize run instead of one per model.
    """
    repo_dir = Path(repo_dir).resolve()
    intents = [_resolve_intent(repo_dir, r) for r in requests]
    git = GitRepo(repo_dir)
    journal.recover(git)
    _refuse_dirty(git, sorted({site.path for i in intents for site in i.targets}) + [CONFIG_FILE])
    results: list[Result] = []

    def apply() -> Result:
        results.clear()
        base = git.head()
        try:
            for request in requests:
                results.append(_apply_and_commit(repo_dir, git, request, validate=False))
            changed = {name for r in results for name in r.changed}
            if changed:
                config = load_config(repo_dir)
                sites = tuple(s for s in discover_sites(repo_dir, config) if s.name in changed)
                failed = [r for r in validate_sites(repo_dir, config, sites) if not r.ok]
                if failed:
                    more = f" (and {len(failed) - 1} more sites)" if len(failed) > 1 else ""
                    raise RenderError(f"validation failed, nothing changed: {failed[0].errors[0]}{more}")
        except BaseException:
            if base and git.head() != base:
                git.reset_keep(base)
            raise
        return next((r for r in reversed(results) if r.commit), results[-1])

    if not requests:
        return []
    last = _journaled(git, lambda: publish(git, replace(requests[0], push=push, remote=remote, target_branch=target_branch, branch=None), intents[0].config, apply))
    return [replace(r, pushed=last.pushed and r.commit is not None, branch=last.branch, attempts=last.attempts) for r in results]


def _apply_and_commit(repo_dir: Path, git: GitRepo, request: Request, intent: _Intent | None = None, validate: bool = True) -> Result:
    clock = [("start", time.perf_counter())]
    intent = intent or _resolve_intent(repo_dir, request)
    plan = _plan(repo_dir, intent, request)
    clock.append(("plan", time.perf_counter()))
    if not plan.changes:
        return _result(intent, plan)
    files = [FileEdit(c.file, c.before, c.after) for c in plan.changes] + list(plan.edits)
    written: list[FileEdit] = []
    note = journal.begin(git, [(f.file, f.before, f.after) for f in files])
    try:
        _write_all(repo_dir, files, written)
        clock.append(("write", time.perf_counter()))
        config = load_config(repo_dir) if plan.edits else intent.config  # an edited config must still load
        changed_sites = tuple(s for s in intent.targets if s.name in {c.site for c in plan.changes})
        failed = [r for r in validate_sites(repo_dir, config, changed_sites) if not r.ok] if validate else []
        if failed:
            more = f" (and {len(failed) - 1} more sites)" if len(failed) > 1 else ""
            raise RenderError(f"validation failed, nothing changed: {failed[0].errors[0]}{more}")
        clock.append(("validate", time.perf_counter()))
        sha = git.commit([f.file for f in files], commit_message(intent, request, plan))
        journal.committed(git, note, sha)
        clock.append(("commit", time.perf_counter()))
    except BaseException:
        for edit in written:
            write_atomic(repo_dir / edit.file, edit.before)
        raise
    timings = tuple((name, t - clock[i][1]) for i, (name, t) in enumerate(clock[1:]))
    return _result(intent, plan, commit=sha, branch=git.branch(), timings=timings)


def commit_message(intent: _Intent, request: Request, plan: Plan) -> str:
    """Subject, optional body, then the trailers ``history`` reads (Image/Sites pairs, one per digest)."""
    changes = plan.changes
    sites = [c.site for c in changes]
    where = sites[0] if len(sites) == 1 else f"{len(sites)} sites"
    version = intent.version or ", ".join(sorted({c.new_version for c in changes if c.new_version}))
    subject = f"{request.action} {intent.model.name} {version} to {where}".replace("  ", " ")
    body = " ".join(request.message.replace("\x00", "").split("\n\n")).strip()
    trailers = [f"Model: {intent.model.name}", f"Model-Version: {version}"]
    by_digest: dict[tuple[str, str], list[str]] = {}
    for change in changes:
        by_digest.setdefault((change.new_digest, change.new_version), []).append(change.site)
    for (digest, version_at), group in by_digest.items():
        image = str(intent.image) if request.action == "promote" else f"{intent.model.repository}{':' + version_at if version_at else ''}@{digest}"
        trailers += [f"Image: {image}", f"Sites: {', '.join(group)}"]
    trailers.append(f"Action: {request.action}")
    if request.force_order and request.action == "promote":
        trailers.append("Forced: true")
    return subject + "\n\n" + (body + "\n\n" if body else "") + "\n".join(trailers) + "\n"


# ------------------------------------------------------------------ push


def _push_with_retries(git: GitRepo, remote: str, target: str, apply: Callable[[], Result]) -> Result:
    """Apply on the remote tip and push; when the remote moved, reset to the new tip and apply the intent again."""
    head = git.head()
    tip = git.fetch(remote, target)
    if head and not git.is_ancestor(head, tip):
        raise GitError(f"HEAD has commits that {remote}/{target} does not; push or drop them before using --push")
    for attempt in range(1, MAX_PUSH_ATTEMPTS + 1):
        git.reset_keep(tip)
        result = apply()
        if result.commit is None:
            return replace(result, attempts=attempt, branch=target)
        try:
            git.push(remote, result.commit, target)
            return replace(result, pushed=True, attempts=attempt, branch=target)
        except PushRejected:
            if attempt == MAX_PUSH_ATTEMPTS:
                raise GitError(f"push to {remote}/{target} still rejected after {attempt} attempts: the branch keeps moving; nothing was pushed") from None
            time.sleep(random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))))
            tip = git.fetch(remote, target)
    raise AssertionError("unreachable")


def _on_new_branch(git: GitRepo, request: Request, remote: str, target: str, apply: Callable[[], Result]) -> Result:
    name = request.branch
    if git.local_branch_exists(name):
        raise GitError(f"branch {name!r} already exists locally; choose another --branch")
    base = git.head()
    if request.push:
        if git.remote_branch_exists(remote, name):
            raise GitError(f"branch {name!r} already exists on {remote}; choose another --branch")
        base = git.fetch(remote, target)
    if base is None:
        raise GitError("the repository has no commit yet")
    git.checkout_new_branch(name, base)
    result = apply()
    if result.commit is None:
        return replace(result, branch=name)
    if request.push:
        git.push(remote, result.commit, name)
    title, body = pull_request_text(result, remote, target, name)
    return replace(result, pushed=request.push, branch=name, pr_title=title, pr_body=body)


def pull_request_text(result: Result, remote: str, target: str, branch: str) -> tuple[str, str]:
    sites = result.changed
    title = f"Promote {result.model} {result.version} to {sites[0] if len(sites) == 1 else f'{len(sites)} sites'}"
    rows = ["| site | version | digest |", "| --- | --- | --- |"]
    for change in result.changes:
        old = change.old
        old_version = (old.new_tag if old else None) or "-"
        old_digest = (old.digest[:19] if old and old.digest else "-")
        rows.append(f"| {change.site} | {old_version} → {change.new_version} | `{old_digest}` → `{change.new_digest[:19]}` |")
    body = "\n".join(
        [
            f"Promotes **{result.model}** to `{result.image}`.",
            "",
            *rows,
            "",
            "Review the rendered change per site:",
            "",
            f"    gitops-mlops diff --base {remote}/{target} --head {branch} --markdown",
        ]
    )
    return title, body + "\n"


def release_hold(repo_dir: Path, request: Request, digest: str | None = None) -> Result:
    """Remove holds of ``request.model`` at the selected sites (one commit, same publish path)."""
    repo_dir = Path(repo_dir).resolve()
    intent = _resolve_intent(repo_dir, request)
    git = GitRepo(repo_dir)
    recovered = "" if request.dry_run else journal.recover(git)
    if not request.dry_run:
        _refuse_dirty(git, [CONFIG_FILE])

    def apply() -> Result:
        fresh = _resolve_intent(repo_dir, request)
        before = (repo_dir / CONFIG_FILE).read_bytes().decode("utf-8")
        after, removed = remove_holds(before, fresh.model.name, {s.name for s in fresh.targets}, digest)
        released = tuple(f"{h.site}@{h.digest[:19]}" for h in removed)
        result = Result(model=fresh.model.name, version="", image="", digest=digest or "", changed=released, unchanged=())
        if not removed or request.dry_run:
            return replace(result, diff="".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), f"a/{CONFIG_FILE}", f"b/{CONFIG_FILE}")))
        note = journal.begin(git, [(CONFIG_FILE, before, after)])
        write_atomic(repo_dir / CONFIG_FILE, after)
        try:
            load_config(repo_dir)
            sites = ", ".join(sorted({h.site for h in removed}))
            message = f"release {len(removed)} hold(s) on {fresh.model.name}\n\nModel: {fresh.model.name}\nSites: {sites}\nAction: release-hold\n"
            sha = git.commit([CONFIG_FILE], message)
            journal.committed(git, note, sha)
        except BaseException:
            write_atomic(repo_dir / CONFIG_FILE, before)
            raise
        return replace(result, commit=sha, branch=git.branch())

    if request.dry_run:
        return apply()
    return replace(_journaled(git, lambda: publish(git, request, intent.config, apply)), recovered=recovered)
