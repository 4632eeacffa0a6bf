"""The closed loop: verify models in production against their checks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gitops_mlops.cli.kit import ModelArg, Output, OutputOpt, PushOpt, RepoOpt, SitesOpt, app, emit, err, example, table
from gitops_mlops.cli.releases import OptionalModelArg, verify_release
from gitops_mlops.core.errors import InputError, MonitoringError, PolicyError
from gitops_mlops.core.present import count, grouped, short, some


@app.command(
    epilog=example(
        "gitops-mlops verify fraud-detector --site datacenter",
        "gitops-mlops verify fraud-detector --site edge --push -o json",
    )
)
def verify(
    model: OptionalModelArg = None,
    site: SitesOpt = [],
    release: Annotated[str | None, typer.Option("--release", metavar="NAME", help="Verify every member of this release the sites run, one report.")] = None,
    push: PushOpt = False,
    no_record: Annotated[bool, typer.Option("--no-record", help="Only report: record nothing in Git.")] = False,
    act: Annotated[bool, typer.Option("--act", help="Do what failed checks say: roll the sites back (held), send retraining triggers.")] = False,
    repo: RepoOpt = Path("."),
    output: OutputOpt = Output.table,
) -> None:
    """Run the checks of each selected site's stage against the digest it renders; record the verdicts in Git.

    Exit 0 when every check passed, 3 when one failed or stayed inconclusive, 7 when monitoring
    could not be reached or answered an error."""
    from gitops_mlops.loop.verify import Run
    from gitops_mlops.loop.verify import verify as run

    if not site:
        raise InputError("verify: name the sites with --site (a site, a stage or a glob)")
    if act and no_record:
        raise InputError("--act: not with --no-record (what is acted on is recorded)")
    if release is not None or model is None:
        return verify_release(repo, release, model, tuple(site), not no_record, push, act, output)
    report = run(repo, model, tuple(site), Run(record=not no_record, push=push))
    data = {
        "model": report.model,
        "verdict": report.verdict,
        "requests": report.requests,
        "recorded": report.recorded,
        "pushed": report.pushed,
        "sites": [s.site for s in report.sites],
        "results": [s.as_json() for s in report.sites],
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
            f"recorded {count(len(report.sites), 'verification')} in commit {report.recorded[:12]} on gitops-mlops/verifications"
            + (", pushed" if report.pushed else "")
        )
    if act:
        _act(repo, report, push)
    if report.errors:
        raise MonitoringError(report.errors[0] + (f" (and {len(report.errors) - 1} more)" if len(report.errors) > 1 else ""))
    bad = [s for s in report.sites if s.verdict != "successful"]
    if bad:
        groups = grouped(((c.check, c.verdict), s.site) for s in bad for c in s.checks if c.verdict != "successful")
        why = "; ".join(f"{check} {verdict} at {some(sites)}" for (check, verdict), sites in groups)
        raise PolicyError(f"{len(bad)} of {count(len(report.sites), 'site')} did not pass: {why}")
    err(f"{count(len(report.sites), 'site')} verified: {report.model} passed every check ({count(report.requests, 'query', 'queries')})")


def _act(repo: Path, report, push: bool) -> None:
    from gitops_mlops.loop.act import act

    done = act(repo, report, push=push)
    if done.rolled_back:
        err(f"rolled back {', '.join(done.rolled_back)} in commit {done.commit[:12]} and held the failing digest" + (", pushed" if done.pushed else ""))
    for line in done.not_rolled_back:
        err(f"note: {line}")
    if done.triggered:
        err(f"sent {len(done.triggered)} retraining trigger(s): {', '.join(done.triggered)}")
    if done.already_triggered:
        err(f"note: {len(done.already_triggered)} retraining trigger(s) were sent before; not sent again")


@app.command(epilog=example("gitops-mlops watch fraud-detector --site edge --interval 5m --push"))
def watch(
    model: ModelArg,
    site: SitesOpt = [],
    interval: Annotated[str, typer.Option("--interval", metavar="DURATION", help="Time between runs: 30s, 5m, 1h.")] = "5m",
    times: Annotated[int | None, typer.Option("--times", metavar="N", min=1, help="Stop after N runs (default: run until stopped).")] = None,
    push: PushOpt = False,
    repo: RepoOpt = Path("."),
) -> None:
    """verify --act in a loop: each run verifies, records and acts; a run that fails is reported and the loop goes on."""
    import time

    from gitops_mlops.config.checks import parse_duration
    from gitops_mlops.core.errors import GitOpsError
    from gitops_mlops.loop.verify import Run
    from gitops_mlops.loop.verify import verify as run

    if not site:
        raise InputError("watch: name the sites with --site (a site, a stage or a glob)")
    pause = parse_duration(interval, "--interval")
    done = 0
    while times is None or done < times:
        try:
            report = run(repo, model, tuple(site), Run(push=push))
            err(f"{model}: {report.verdict} at {count(len(report.sites), 'site')}, {count(report.requests, 'query', 'queries')}")
            _act(repo, report, push)
            for error in report.errors:
                err(f"error: {error}")
        except GitOpsError as exc:
            err(f"error: {exc}")
        done += 1
        if times is None or done < times:
            time.sleep(pause)
