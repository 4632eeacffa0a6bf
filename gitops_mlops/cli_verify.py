"""The closed loop: verify models in production against their checks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gitops_mlops.clikit import ModelArg, Output, OutputOpt, PushOpt, RepoOpt, SitesOpt, app, emit, err, example, table
from gitops_mlops.errors import InputError, MonitoringError, PolicyError
from gitops_mlops.present import short


@app.command(
    epilog=example(
        "gitops-mlops verify fraud-detector --site datacenter",
        "gitops-mlops verify fraud-detector --site edge --push -o json",
    )
)
def verify(
    model: ModelArg,
    site: SitesOpt = [],
    push: PushOpt = False,
    no_record: Annotated[bool, typer.Option("--no-record", help="Only report: record nothing in Git.")] = False,
    repo: RepoOpt = Path("."),
    output: OutputOpt = Output.table,
) -> None:
    """Run the checks of each selected site's stage against the digest it renders; record the verdicts in Git.

    Exit 0 when every check passed, 3 when one failed or stayed inconclusive, 7 when monitoring
    could not be reached or answered an error."""
    from gitops_mlops.verify import verify as run

    if not site:
        raise InputError("verify: name the sites with --site (a site, a stage or a glob)")
    report = run(repo, model, tuple(site), record=not no_record, push=push)
    data = {
        "model": report.model,
        "verdict": report.verdict,
        "requests": report.requests,
        "recorded": report.recorded,
        "pushed": report.pushed,
        "sites": [s.as_json() for s in report.sites],
    }
    if not emit(output, data):
        rows = []
        for s in report.sites:
            for c in s.checks:
                shown = ", ".join("NaN" if v != v else f"{v:g}" for v in c.values) or "-"
                rows.append([s.site, s.stage, s.version or "-", short(s.digest), c.check, c.verdict, shown, c.message or c.condition])
        table(rows, ["SITE", "STAGE", "VERSION", "DIGEST", "CHECK", "VERDICT", "VALUES", "CONDITION / WHY"])
    if report.recorded:
        err(
            f"recorded {len(report.sites)} verification(s) in commit {report.recorded[:12]} on gitops-mlops/verifications"
            + (", pushed" if report.pushed else "")
        )
    if report.errors:
        raise MonitoringError(report.errors[0] + (f" (and {len(report.errors) - 1} more)" if len(report.errors) > 1 else ""))
    bad = [s for s in report.sites if s.verdict != "successful"]
    if bad:
        first = next(c for c in bad[0].checks if c.verdict != "successful")
        raise PolicyError(f"{len(bad)} of {len(report.sites)} site(s) did not pass: {bad[0].site} {first.check} {first.verdict}")
    err(f"{len(report.sites)} site(s) verified: {report.model} passed every check ({report.requests} queries)")
