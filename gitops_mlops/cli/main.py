"""The command line: parse, call one library function, print. Nothing else.

JSON or YAML goes to stdout, messages to stderr. Exit codes: 0 done, 1 differences
found (``diff --exit-code`` only), 2 bad input, 3 refused by policy,
4 rendering/validation failed, 5 git or remote failed, 6 registry failed, 7 monitoring failed.
The commands live in ``cli_read``, ``cli_write``, ``cli_fleet`` and ``cli_verify``; what they share in ``clikit``.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
import typer.main

from gitops_mlops import __version__
from gitops_mlops.cli.kit import app, err
from gitops_mlops.core import progress

# isort: off
from gitops_mlops.cli import write, read, fleet, verify, rollout, modelregistry  # noqa: F401 (registers the commands, in this order in --help)

# isort: on
from gitops_mlops.core.errors import GitOpsError


def _version(value: bool) -> None:
    if not value:
        return
    import platform

    from gitops_mlops.gitstore.repo import git_version
    from gitops_mlops.render.kustomize import Kustomize

    typer.echo(f"gitops-mlops {__version__}")
    typer.echo(f"python {platform.python_version()} ({sys.executable})")
    typer.echo(git_version())
    try:
        typer.echo(Kustomize.find().describe())
    except GitOpsError as exc:
        typer.echo(f"kustomize: {exc}")
    raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool | None, typer.Option("--version", callback=_version, is_eager=True, help="Print the tool, Python, git and kustomize in use.")
    ] = None,
) -> None:
    """gitops-mlops: promote ML model images through a Kustomize GitOps repository."""


@functools.cache
def command() -> Callable[..., Any]:
    """The click command Typer makes of ``app`` (some 35 ms of work): made once per process.
    Calling it is what ``app()`` does, less Typer's exception hook, which pretty_exceptions_enable=False makes the default one."""
    return typer.main.get_command(app)


def main() -> None:
    """Entry point: usage errors exit 2 (Typer); a GitOpsError prints one line and exits with its code."""
    progress.enable()
    try:
        command()(prog_name="gitops-mlops")
    except GitOpsError as exc:
        err(f"error: {exc}")
        sys.exit(exc.exit_code)
