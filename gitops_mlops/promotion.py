"""Promotion: plan -> check policy -> write -> validate -> commit -> push (retrying from intent).

A promotion is one model, one digest, a set of sites, one commit. The edit is
planned in memory first; nothing to change is a normal result ("already up to
date"). Files are written atomically and restored byte for byte if rendering
fails. A push rejected because the remote moved is retried: fetch, reset to the
new tip, re-plan the same intent, re-validate, push again; never force.
"""

from __future__ import annotations

import difflib
import os
import random
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from gitops_mlops import kustomization, policy
from gitops_mlops.config import Config, Model, load_config
from gitops_mlops.errors import GitError, InputError, PushRejected, RenderError
from gitops_mlops.gitrepo import GitRepo
from gitops_mlops.imageref import ImageRef, parse_image
from gitops_mlops.kustomization import Pin
from gitops_mlops.sites import Site, discover_sites, kustomization_of, select
from gitops_mlops.validate import validate_sites

MAX_PUSH_ATTEMPTS = int(os.environ.get("GITOPS_MLOPS_PUSH_ATTEMPTS", "12"))
BACKOFF_BASE = 0.2
BACKOFF_CAP = 5.0


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
    per_site_digest: tuple[tuple[str, str, str], ...] = ()  # rollback: (site, digest, version)


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
    intent = _resolve_intent(repo_dir, request)
    git = GitRepo(repo_dir)
    remote = request.remote or intent.config.remote
    target = request.target_branch or intent.config.target_branch
    if request.dry_run:
        changes, unchanged = _plan(repo_dir, intent, request)
        return _result(intent, changes, unchanged, diff=_unified_diff(changes))
    _refuse_dirty(git, repo_dir, intent)
    if request.branch:
        return _promote_on_new_branch(repo_dir, git, request, remote, target)
    if not request.push:
        return _apply_and_commit(repo_dir, git, request)
    return _promote_and_push(repo_dir, git, request, remote, target)


def _resolve_intent(repo_dir: Path, request: Request) -> _Intent:
    config = load_config(repo_dir)
    model = config.model(request.model)
    image = parse_image(request.image)
    all_sites = discover_sites(repo_dir, config)
    targets = select(all_sites, request.selectors)
    version = policy.promotion_version(image, request.version) if request.action == "promote" else (request.version or "")
    if request.action == "promote":
        policy.check_image(config, model, image)
    return _Intent(config=config, model=model, image=image, version=version, targets=targets, all_sites=all_sites)


def _refuse_dirty(git: GitRepo, repo_dir: Path, intent: _Intent) -> None:
    paths = [site.path for site in intent.targets] + ["gitops-mlops.yaml"]
    dirty = git.dirty(paths)
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise GitError(f"uncommitted changes under the sites to promote: {shown}; commit or stash them first")


def _target_for(intent: _Intent, request: Request, site: str) -> tuple[str, str]:
    for name, digest, version in request.per_site_digest:
        if name == site:
            return digest, version
    return intent.image.digest or "", intent.version


def _plan(repo_dir: Path, intent: _Intent, request: Request) -> tuple[list[PinChange], list[str]]:
    """Read current pins, check policy, compute new file texts. Writes nothing."""
    root = repo_dir
    model = intent.model
    texts: dict[str, tuple[Path, str]] = {}
    pins: dict[str, Pin | None] = {}
    needed = {s.name for s in intent.targets}
    if request.action == "promote" and not request.force_order:
        target_stages = {intent.config.stage_index(s.stage) for s in intent.targets}
        needed |= {s.name for s in intent.all_sites if intent.config.stage_index(s.stage) < max(target_stages)}
    for site in intent.all_sites:
        if site.name not in needed:
            continue
        path = kustomization_of(root, site)
        rel = path.relative_to(root).as_posix()
        text = kustomization.read_text(path, rel)
        texts[site.name] = (path, text)
        pins[site.name] = kustomization.parse(text, rel).pin(model.image)
    digest = intent.image.digest or ""
    if request.action == "promote":
        if not request.force_order:
            policy.check_stage_order(intent.config, model, digest, intent.targets, pins, intent.all_sites)
        if not request.allow_downgrade:
            policy.check_downgrade(model, intent.version, pins, intent.targets)
        if not request.force_hold:
            policy.check_holds(intent.config, model, digest, intent.targets)
    changes, unchanged = [], []
    for site in intent.targets:
        path, text = texts[site.name]
        rel = path.relative_to(root).as_posix()
        new_digest, new_version = _target_for(intent, request, site.name)
        values = {"newName": _new_name(intent, request), "newTag": new_version, "digest": new_digest}
        if not new_version:
            values.pop("newTag")
        after = kustomization.set_pin(text, rel, model.image, values)
        if after == text:
            unchanged.append(site.name)
        else:
            changes.append(PinChange(site.name, rel, pins[site.name], new_version, new_digest, before=text, after=after))
    return changes, unchanged


def _new_name(intent: _Intent, request: Request) -> str:
    return intent.image.repository if request.action == "promote" else intent.model.repository


def _result(intent: _Intent, changes: list[PinChange], unchanged: list[str], **extra) -> Result:
    return Result(
        model=intent.model.name,
        version=intent.version,
        image=str(intent.image),
        digest=intent.image.digest or "",
        changed=tuple(c.site for c in changes),
        unchanged=tuple(unchanged),
        changes=tuple(changes),
        **extra,
    )


def _unified_diff(changes: list[PinChange]) -> str:
    out = []
    for change in changes:
        out.extend(
            difflib.unified_diff(
                change.before.splitlines(keepends=True),
                change.after.splitlines(keepends=True),
                fromfile=f"a/{change.file}",
                tofile=f"b/{change.file}",
            )
        )
    return "".join(out)


# ------------------------------------------------------------------ write, validate, commit


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` via a temp file + rename: never half-written."""
    data = text.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _apply_and_commit(repo_dir: Path, git: GitRepo, request: Request) -> Result:
    clock = [("start", time.perf_counter())]
    intent = _resolve_intent(repo_dir, request)
    changes, unchanged = _plan(repo_dir, intent, request)
    clock.append(("plan", time.perf_counter()))
    if not changes:
        return _result(intent, changes, unchanged)
    written: list[PinChange] = []
    try:
        for change in changes:
            write_atomic(repo_dir / change.file, change.after)
            written.append(change)
        clock.append(("write", time.perf_counter()))
        changed_sites = tuple(s for s in intent.targets if s.name in {c.site for c in changes})
        reports = validate_sites(repo_dir, intent.config, changed_sites)
        failed = [r for r in reports if not r.ok]
        if failed:
            first = failed[0].errors[0]
            more = f" (and {len(failed) - 1} more sites)" if len(failed) > 1 else ""
            raise RenderError(f"validation failed, nothing changed: {first}{more}")
        clock.append(("validate", time.perf_counter()))
        sha = git.commit([c.file for c in changes], commit_message(intent, request, changes))
        clock.append(("commit", time.perf_counter()))
    except BaseException:
        for change in written:
            write_atomic(repo_dir / change.file, change.before)
        raise
    timings = tuple((name, t - clock[i][1]) for i, (name, t) in enumerate(clock[1:]))
    return _result(intent, changes, unchanged, commit=sha, branch=git.branch(), timings=timings)


def commit_message(intent: _Intent, request: Request, changes: list[PinChange]) -> str:
    sites = [c.site for c in changes]
    where = sites[0] if len(sites) == 1 else f"{len(sites)} sites"
    version = intent.version or ", ".join(sorted({c.new_version for c in changes if c.new_version}))
    subject = f"{request.action} {intent.model.name} {version} to {where}".replace("  ", " ")
    body = request.message.replace("\x00", "").strip()
    image = str(intent.image) if request.action == "promote" else ", ".join(sorted({f"{intent.model.repository}@{c.new_digest}" for c in changes}))
    trailers = [
        f"Model: {intent.model.name}",
        f"Model-Version: {version}",
        f"Image: {image}",
        f"Sites: {', '.join(sites)}",
        f"Action: {request.action}",
    ]
    if request.force_order and request.action == "promote":
        trailers.append("Forced: true")
    return subject + "\n\n" + (body + "\n\n" if body else "") + "\n".join(trailers) + "\n"


# ------------------------------------------------------------------ push


def _promote_and_push(repo_dir: Path, git: GitRepo, request: Request, remote: str, target: str) -> Result:
    head = git.head()
    tip = git.fetch(remote, target)
    if head and not git.is_ancestor(head, tip):
        raise GitError(f"HEAD has commits that {remote}/{target} does not; push or drop them before promoting with --push")
    for attempt in range(1, MAX_PUSH_ATTEMPTS + 1):
        git.reset_keep(tip)
        result = _apply_and_commit(repo_dir, git, request)
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


def _promote_on_new_branch(repo_dir: Path, git: GitRepo, request: Request, remote: str, target: str) -> Result:
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
    result = _apply_and_commit(repo_dir, git, request)
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


def parse_request_image(text: str) -> ImageRef:
    """Validate an image reference where it enters (the CLI)."""
    if text.startswith("-"):
        raise InputError(f"image reference {text!r}: must not start with '-'")
    return parse_image(text)
