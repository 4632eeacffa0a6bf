"""The release options of ``promote``, ``rollback``, ``history`` and ``status``: parse, call the library, print."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gitops_mlops.cli.kit import Output, complete_model, emit, err, say_unverified, table
from gitops_mlops.cli.modelregistry import write_back
from gitops_mlops.core.errors import InputError
from gitops_mlops.core.present import count, short, some

ReleaseOpt = Annotated[
    str | None, typer.Option("--release", metavar="NAME", help="Promote members of this release together (MEMBER=IMAGE ...), in one commit.")
]
MemberOnlyOpt = Annotated[bool, typer.Option("--member-only", help="Promote one member of a release alone (refused without it).")]
MembersArg = Annotated[
    list[str] | None, typer.Argument(metavar="[MEMBER=IMAGE]...", help="With --release: each member named as MEMBER=IMAGE.", show_default=False)
]
UpdateReleaseOpt = Annotated[
    str | None, typer.Option("--release", metavar="NAME", help="Per stage, the newest combination of the release's members that is allowed and compatible.")
]
OptionalModelArg = Annotated[str | None, typer.Argument(metavar="MODEL", autocompletion=complete_model, help="A model name from gitops-mlops.yaml.")]


def promote_release(repo: Path, release: str | None, named: list[str], single, publish, output: Output) -> None:
    """``promote --release NAME MEMBER=IMAGE ...``: the options of ``single`` (the command's request) apply to every member."""
    from gitops_mlops.promote.releaseresult import ReleaseRequest, parse_members
    from gitops_mlops.promote.releases import promote_release as run

    if release is None:
        raise InputError("promote needs MODEL IMAGE (one model), or --release NAME MEMBER=IMAGE ... (the members of a release together)")
    given = {
        "--member-only": single.member_only,
        "--version": single.version,
        "--scan-report": single.scan_report,
        "--registry-version": single.registry_version,
        "--canary": single.canary is not None,
        "--wave": single.wave,
    }
    for flag, value in given.items():
        if value:
            raise InputError(
                f"{flag} is for one model's promotion, not with --release" + (" (each member's version is its image tag)" if flag == "--version" else "")
            )
    flags = dict(
        force_order=single.force_order, allow_downgrade=single.allow_downgrade, force_hold=single.force_hold, verify=single.verify, all_waves=single.all_waves
    )
    request = ReleaseRequest(
        release, parse_members([n for n in named if n]), single.selectors, single.message, insecure_registries=single.insecure_registries, **flags
    )
    result = run(repo, request, publish)
    if result.changed and any("@" in image for _, image in request.members):
        say_unverified(not request.verify)
    report_release(result, output, publish.dry_run)
    write_back(repo, result, publish.branch)


def rollback_release(repo: Path, release, model, to, sites, message, verify, insecure, publish, output: Output) -> None:
    from gitops_mlops.promote.releaserollback import ReleaseRollbackRequest
    from gitops_mlops.promote.releaserollback import rollback_release as run

    if release is None:
        raise InputError("rollback needs MODEL, or --release NAME (every member of a release together)")
    if model is not None or to is not None:
        raise InputError(f"{'MODEL' if model else '--to'} is for one model's rollback, not with --release (it returns to the combination before the latest)")
    result = run(repo, ReleaseRollbackRequest(release, sites, message, verify=verify, insecure_registries=insecure), publish)
    if result.changed:
        say_unverified(not verify)
    report_release(result, output, publish.dry_run)
    write_back(repo, result, publish.branch)


def report_release(result, output: Output, dry_run: bool) -> None:
    if result.recovered:
        err(f"note: {result.recovered}")
    for note in result.notes:
        err(f"note: {note}")
    if dry_run:
        if not emit(output, {**result.as_json(), "dryRun": True, "diff": result.diff}):
            typer.echo(result.diff, nl=False)
        err(f"dry run: release {result.release}: {count(len(result.changed), 'site')} would change; nothing written")
        return
    emit(output, {**result.as_json(), "dryRun": False})
    if not result.changed:
        err(f"release {result.release}: already up to date; no commit")
        return
    where = f"pushed to {result.branch}" if result.pushed else f"committed on {result.branch or 'detached HEAD'}"
    tries = f" after {result.attempts} attempts" if result.attempts > 1 else ""
    moved = ", ".join(f"{r.model} {r.version}" for r in result.members if r.changed)
    verb = "rolled back" if result.action == "rollback" else "promoted"
    err(f"release {result.release} {verb} ({moved}) -> {count(len(result.changed), 'site')}, commit {result.commit[:12]}, {where}{tries}")
    if output is Output.table:
        for member in result.members:
            for change in member.changes:
                typer.echo(f"{change.site}  {member.model}  {(change.old.new_tag if change.old else None) or '-'} -> {change.new_version or '-'}")
    if result.pull_request:
        err(f"pull request: {result.pull_request}")
    elif result.pr_title:
        err("")
        typer.echo(f"# {result.pr_title}\n\n{result.pr_body}", err=output is not Output.table)


def release_history(repo: Path, release, model, sites, limit, output: Output) -> None:
    from gitops_mlops.views.releases import release_history as read

    if release is None:
        raise InputError("history needs MODEL, or --release NAME")
    if model is not None or sites:
        raise InputError(f"{'MODEL' if model else '--site'} is for one model's history, not with --release")
    entries = read(repo, release, limit)
    if emit(output, [e.as_json() for e in entries]):
        return
    if not entries:
        err(f"release {release} was never promoted together")
        return
    rows = [[e.commit[:12], e.date[:19], e.action, ", ".join(f"{r.model} {r.version or '-'}" for r in e.members), some(e.sites), e.author] for e in entries]
    table(rows, ["COMMIT", "DATE", "ACTION", "COMBINATION", "SITES", "AUTHOR"])


def release_status(repo: Path, release: str, models, sites, summary: bool, mirrors: bool, output: Output) -> None:
    from gitops_mlops.views.releases import release_status as read

    for given, flag in ((models, "--model"), (summary, "--summary"), (mirrors, "--mirrors")):
        if given:
            raise InputError(f"{flag} is not for status --release (a row per site, a column per member)")
    rows = read(repo, release, sites)
    if emit(output, [r.as_json() for r in rows]):
        return
    names = [m.model for m in rows[0].members] if rows else []
    body = [[r.site, r.stage, *(m.version or (short(m.digest) if m.digest else "-") for m in r.members), "yes" if r.together else "no"] for r in rows]
    table(body, ["SITE", "STAGE", *(n.upper() for n in names), "TOGETHER"])


def update_release(repo: Path, release: str, models, sites, insecure, publish, output: Output) -> None:
    """``update --release NAME``: a row per stage, the combination it takes (or why not)."""
    from gitops_mlops.promote.releaseupdate import update_release as run

    if models:
        raise InputError("--model is not for update --release (the release names its members)")
    updates = run(repo, release, sites, insecure, publish)
    if not emit(output, {"updates": [u.as_json() for u in updates], "dryRun": publish.dry_run}):
        rows = [
            [u.stage, u.status, ", ".join(f"{m} {v}" for m, v, _ in u.members) or "-", f"{len(u.sites)}: {some(u.sites)}" if u.sites else "-", u.note]
            for u in updates
        ]
        table(rows, ["STAGE", "STATUS", "COMBINATION", "SITES", "NOTE"])
        if publish.dry_run:
            typer.echo("".join(u.diff for u in updates), nl=False)
    for note in dict.fromkeys(n for u in updates for n in u.notes):
        err(f"note: {note}")
    changed = [u for u in updates if u.status in ("updated", "would-update") and u.sites]
    err(
        f"update --release {release}: {count(len(changed), 'stage')} {'would change' if publish.dry_run else 'changed'}"
        + ("; nothing written" if publish.dry_run else "")
    )


def verify_release(repo: Path, release: str | None, model, sites, record: bool, push: bool, act: bool, output: Output) -> None:
    """``verify --release NAME``: every member's checks at the sites, one report; exit 7, 3 or 0 as ``verify``."""
    from gitops_mlops.core.errors import MonitoringError, PolicyError
    from gitops_mlops.loop.releaseverify import verify_release as run
    from gitops_mlops.loop.verify import Run

    if release is None:
        raise InputError("verify needs MODEL, or --release NAME (every member of a release)")
    if model is not None or act:
        raise InputError(f"{'MODEL' if model else '--act'} is for one model's verification, not with --release")
    report = run(repo, release, sites, Run(record=record, push=push))
    if not emit(output, report.as_json()):
        rows = [
            [m.model, s.site, s.stage, s.version or "-", short(s.digest), c.check, c.verdict, c.message or c.condition]
            for m in report.members
            for s in m.sites
            for c in s.checks
        ]
        table(rows, ["MODEL", "SITE", "STAGE", "VERSION", "DIGEST", "CHECK", "VERDICT", "CONDITION / WHY"])
    for member in report.members:
        if member.recorded:
            err(f"{member.model}: recorded in commit {member.recorded[:12]} on gitops-mlops/verifications" + (", pushed" if member.pushed else ""))
    if report.not_running:
        err(f"note: no selected site runs {', '.join(report.not_running)}; not verified")
    if report.errors:
        raise MonitoringError(report.errors[0] + (f" (and {len(report.errors) - 1} more)" if len(report.errors) > 1 else ""))
    bad = sorted({f"{m.model} at {s.site}" for m in report.members for s in m.sites if s.verdict != "successful"})
    if bad:
        raise PolicyError(f"release {report.release}: {count(len(bad), 'member site')} did not pass: {some(bad)}")
    done = ", ".join(m.model for m in report.members)
    err(f"release {report.release} verified: {done} passed every check ({count(report.requests, 'query', 'queries')})")
