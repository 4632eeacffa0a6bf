"""The rollout command: drive a digest through the waves of a stage, for a pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gitops_mlops.cli.kit import AuthorOpt, InsecureOpt, ModelArg, NoVerifyOpt, Output, OutputOpt, PushOpt, RepoOpt, app, emit, err, example, use_author
from gitops_mlops.cli.releases import MemberOnlyOpt
from gitops_mlops.core.errors import InputError


@app.command(
    epilog=example(
        "gitops-mlops rollout fraud-detector quay.io/acme/fraud-detector:1.4.0@sha256:64df0ee871bb... --to edge --push",
        "gitops-mlops rollout fraud-detector quay.io/acme/fraud-detector@sha256:64df0ee871bb... --to edge --watch --interval 5m --push",
    )
)
def rollout(
    model: ModelArg,
    image: Annotated[str, typer.Argument(metavar="IMAGE", help="registry/path[:tag]@sha256:DIGEST: the build every wave takes.")],
    to: Annotated[str, typer.Option("--to", metavar="STAGE", help="The stage with waves to roll out to.")],
    watch: Annotated[bool, typer.Option("--watch", help="Step again and again until the stage is done or halted.")] = False,
    interval: Annotated[str, typer.Option("--interval", metavar="DURATION", help="With --watch: the time between steps (30s, 5m, 1h).")] = "60s",
    push: PushOpt = False,
    repo: RepoOpt = Path("."),
    insecure_registry: InsecureOpt = [],
    no_verify: NoVerifyOpt = False,
    member_only: MemberOnlyOpt = False,
    author: AuthorOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Promote the next wave whose conditions hold, verify the waves out once they have soaked, and on a
    failed check roll the stage's changed sites back (held) and stop.

    Exit 0 while the rollout goes on or is done, 3 when it is halted (a failed check, a hold) or refused,
    7 when monitoring failed. Run again, it continues from what Git records."""
    use_author(author)
    from gitops_mlops.config.checks import parse_duration
    from gitops_mlops.loop.rollout import Options, step
    from gitops_mlops.loop.rollout import watch as run_watch

    seconds = parse_duration(interval, "--interval")
    if watch and seconds < 1:
        raise InputError(f"--interval {interval[:40]!r}: at least 1s between steps")
    options = Options(push=push, verify_registry=not no_verify, insecure_registries=tuple(insecure_registry), member_only=member_only)
    if watch:
        last = run_watch(repo, model, image, to, options, seconds, _say)
    else:
        last = step(repo, model, image, to, options)
        _say(last)
    emit(output, last.as_json())  # JSON: the last step's
    if last.state == "halted":
        raise typer.Exit(3)


def _say(found) -> None:
    """One step, in a few lines for people on stderr."""
    for action in found.actions:
        err(f"{found.model} {found.stage}: {action}")
    wait = ""
    if found.state == "waiting" and found.wait and "left" not in found.reason:
        from gitops_mlops.loop.rollout import shown_duration

        wait = f" (about {shown_duration(found.wait)})"
    err(f"{found.model} {found.stage}: {found.state}, waves done {found.waves_done}/{found.waves}" + (f": {found.reason}{wait}" if found.reason else ""))
