"""What ``promote`` takes and prints: its options, declared once, and the report of a promotion or a
rollback (the result on stdout, as JSON or a table of changes; what happened on stderr)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gitops_mlops.cli.kit import Output, complete_site, emit, err
from gitops_mlops.core.present import count, grouped, rolled_back, short, some

ToOpt = Annotated[
    list[str], typer.Option("--to", metavar="SITE", autocompletion=complete_site, help="Site selector, repeatable: a name, a stage (edge) or a glob.")
]
ImageArg = Annotated[
    str, typer.Argument(metavar="[IMAGE]", help="registry[:port]/path:tag or registry/path[:tag]@sha256:DIGEST; none with --registry-version.")
]
CanaryOpt = Annotated[
    int | None, typer.Option("--canary", metavar="P", help="A modelcar on a Serverless InferenceService: the new model takes P % of the traffic (100: all).")
]
FinishCanaryOpt = Annotated[bool, typer.Option("--finish-canary", help="The canary takes all the traffic (as --canary 100).")]
RegistryVersionOpt = Annotated[
    str | None,
    typer.Option("--registry-version", metavar="VERSION", help="Promote this ModelVersion of the model's RegisteredModel (modelRegistry: in the config)."),
]
ScanReportOpt = Annotated[
    Path | None,
    typer.Option("--scan-report", metavar="FILE", help="The image's vulnerability report (Trivy JSON) for the scan gate, instead of asking Quay."),
]


def change_lines(changes) -> list[str]:
    """One line per (stage, from -> to): the count and the first few sites."""
    from gitops_mlops.promote.result import change_json

    keyed = []
    for change in changes:
        data = change_json(change)
        before, after = data["from"], data["to"]
        old = f"{before['version'] or '-'} {short(before['digest'] or '')}"
        new = f"{after['version'] or '-'} {short(after['digest'] or '')}"
        keyed.append(((data["stage"], old, new), change.site))
    lines = []
    for (stage, old, new), names in grouped(keyed):
        lines.append(f"{stage or '-'}: {old} -> {new}  {count(len(names), 'site')}: {some(names)}")
    return lines


def report_promotion(result, output: Output, dry_run: bool, selectors: tuple[str, ...] = ()) -> None:
    from gitops_mlops.promote.result import change_json

    for note in [*(change.note for change in result.changes if change.note), *getattr(result, "notes", ())]:
        err(f"note: {note}")
    if result.not_running:
        err(f"note: {result.model} does not run at {count(len(result.not_running), 'selected site')} ({some(result.not_running)}): left as they are")
    if result.recovered:  # a dry run undoes a dead run too: it says so
        err(f"note: {result.recovered}")
    if dry_run:
        if not emit(output, {**result.as_json(), "dryRun": True, "diff": result.diff}):
            typer.echo(result.diff, nl=False)
        err(f"dry run: {count(len(result.changed), 'site')} would change, {len(result.unchanged)} already up to date; nothing written")
        return
    emit(output, {**result.as_json(), "dryRun": False})
    if not result.changed:
        err(f"{result.model} {result.version}: already up to date at {count(len(result.unchanged), 'site')}; no commit".replace("  ", " "))
        return
    where = f"pushed to {result.branch}" if result.pushed else f"committed on {result.branch or 'detached HEAD'}"
    tries = f" after {result.attempts} attempts" if result.attempts > 1 else ""
    if result.action == "rollback":  # says it rolled back, and what it put on hold with the command that lifts it
        for line in rolled_back(result.model, [change_json(c) for c in result.changes], selectors):
            err(line)
        err(f"commit {result.commit[:12]}, {where}{tries}")
    else:
        err(f"{result.model} {result.version} -> {count(len(result.changed), 'site')}, commit {result.commit[:12]}, {where}{tries}")
    if output is Output.table:
        for line in change_lines(result.changes):
            typer.echo(line)
    if result.pull_request:
        err(f"pull request: {result.pull_request}")
    elif result.pr_title:
        err("")
        typer.echo(f"# {result.pr_title}\n\n{result.pr_body}", err=output is not Output.table)
