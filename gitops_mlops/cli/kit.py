"""What every command shares: the application, its common options, completion and output.

Output to a terminal may use Rich for help; anywhere else (a pipe, a Tekton log),
or with ``NO_COLOR`` set, help and errors are plain text: no colour, no boxes.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from gitops_mlops.change.intents import Publish
from gitops_mlops.core.present import dump


def plain() -> bool:
    """No colour and no box drawing: stdout is not a terminal, ``NO_COLOR`` is set, or TERM is dumb."""
    return bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb" or not sys.stdout.isatty()


app = typer.Typer(
    name="gitops-mlops",
    help="Own a Kustomize GitOps repository of ML model serving; promote image digests with one validated commit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None if plain() else "rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Output(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


def _repo(value: Path) -> Path:
    from gitops_mlops.config.load import find_repo

    return find_repo(value) if value == Path(".") else value


def _config_here():
    """The configuration of the repository around the working directory, or None (completion never fails loudly)."""
    from gitops_mlops.config.load import find_repo, load_config
    from gitops_mlops.core.errors import GitOpsError

    try:
        repo = find_repo(Path("."))
        return repo, load_config(repo)
    except (GitOpsError, OSError):
        return None


def complete_model(incomplete: str) -> list[str]:
    found = _config_here()
    return [m.name for m in found[1].models if m.name.startswith(incomplete)] if found else []


def complete_site(incomplete: str) -> list[str]:
    from gitops_mlops.config.sites import discover_sites
    from gitops_mlops.core.errors import GitOpsError

    found = _config_here()
    if not found:
        return []
    try:
        sites = discover_sites(*found)
    except GitOpsError:
        return []
    names = [s.name for s in sites] + sorted({s.stage for s in sites})
    return [n for n in names if n.startswith(incomplete)]


RepoOpt = Annotated[
    Path, typer.Option("--repo", metavar="DIR", callback=_repo, help="The GitOps repository (default: found upward from the current directory, as git does).")
]
OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="table (for people), json or yaml (for machines; README: JSON output).")]
InsecureOpt = Annotated[
    list[str], typer.Option("--insecure-registry", metavar="HOST[:PORT]", help="A registry reached over plain HTTP (loopback, labs); repeatable.")
]
SitesOpt = Annotated[
    list[str],
    typer.Option("--site", metavar="SITE", autocompletion=complete_site, help="Site selector, repeatable: a name, a stage (edge) or a glob (edge/eu-*)."),
]
ModelArg = Annotated[str, typer.Argument(metavar="MODEL", autocompletion=complete_model, help="A model name from gitops-mlops.yaml.")]
PushOpt = Annotated[bool, typer.Option("--push", help="Push to the remote (retrying if it moved; never force).")]
RemoteOpt = Annotated[str | None, typer.Option("--remote", metavar="NAME", help="Remote name (default: the config's remote, else origin).")]
TargetOpt = Annotated[str | None, typer.Option("--target-branch", metavar="BRANCH", help="The branch Argo CD watches (default: the config's targetBranch).")]
BranchOpt = Annotated[
    str | None, typer.Option("--branch", metavar="BRANCH", help="Commit on this branch for a pull request (re-running the same change reuses it).")
]
OpenPrOpt = Annotated[
    bool,
    typer.Option(
        "--open-pr",
        help="With --branch: push the branch and open its pull request (GitLab: merge request) on the forge, or update the open one (see 'forge:' in the config).",
    ),
]
LabelOpt = Annotated[list[str], typer.Option("--label", metavar="LABEL", help="With --open-pr: a label for the pull request (repeatable).")]
AuthorOpt = Annotated[
    str | None, typer.Option("--author", metavar="'NAME <EMAIL>'", help="Commit as this author (default: git's own identity; none is refused).")
]
NoVerifyOpt = Annotated[bool, typer.Option("--no-verify", help="Do not check the digest exists in its registry (an offline lab); said on stderr.")]
MessageOpt = Annotated[str, typer.Option("--message", "-m", metavar="TEXT", help="Extra text for the commit message body.")]


def _dry_run_opt(help: str):
    return Annotated[bool, typer.Option("--dry-run", help=help)]


# Where a write command's commit goes, declared once: name -> (the parameter's type with its option, default).
_PUBLISH_OPTIONS = {
    "push": (PushOpt, False),
    "remote": (RemoteOpt, None),
    "target_branch": (TargetOpt, None),
    "branch": (BranchOpt, None),
    "open_pr": (OpenPrOpt, False),
    "label": (LabelOpt, []),
}


def publish_options(*names: str, dry_run: str) -> Callable[[Callable], Callable]:
    """Give a write command the publish options ``names`` (of push, remote, target_branch, branch,
    open_pr, label) and ``--dry-run`` (with the command's own ``dry_run`` help), in the place of its
    ``publish`` parameter and in that order; the command receives them as one ``Publish``."""
    unknown = sorted(set(names) - set(_PUBLISH_OPTIONS) - {"dry_run"})
    if unknown:
        raise ValueError(f"not a publish option: {unknown[0]}")
    order = names if "dry_run" in names else ("dry_run", *names)
    options = {name: (_dry_run_opt(dry_run), False) if name == "dry_run" else _PUBLISH_OPTIONS[name] for name in order}

    def wrap(command: Callable) -> Callable:
        signature = inspect.signature(command, eval_str=True)
        params: list[inspect.Parameter] = []
        for param in signature.parameters.values():
            if param.name != "publish":
                params.append(param)
                continue
            params += [
                inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=kind) for name, (kind, default) in options.items()
            ]

        @functools.wraps(command)
        def run(*args, **kwargs):
            given = {name: kwargs.pop(name, default) for name, (_, default) in options.items()}
            labels = tuple(given.pop("label", ()))
            return command(*args, publish=Publish(**given, labels=labels), **kwargs)

        run.__signature__ = signature.replace(parameters=params)
        run.__annotations__ = {p.name: p.annotation for p in params}
        return run

    return wrap


_AUTHOR_RE = re.compile(r"^\s*([^<>]*[^<>\s])\s*<([^<>\s]+@[^<>\s]+)>\s*$")


def use_author(author: str | None) -> None:
    """``--author 'NAME <EMAIL>'`` as git's author for this process (git's committer stays its own, else the author)."""
    if author is None:
        return
    found = _AUTHOR_RE.match(author)
    if found is None:
        from gitops_mlops.core.errors import InputError

        raise InputError(f"--author {author!r}: expected 'NAME <EMAIL>'")
    os.environ["GIT_AUTHOR_NAME"], os.environ["GIT_AUTHOR_EMAIL"] = found.group(1), found.group(2)


def say_unverified(no_verify: bool) -> None:
    from gitops_mlops.core import settings

    if no_verify or settings.no_verify():
        err("note: the digest was not checked in its registry (" + ("--no-verify" if no_verify else "GITOPS_MLOPS_NO_VERIFY") + ")")


def err(message: str) -> None:
    typer.echo(message, err=True)


def emit(output: Output, data) -> bool:
    """Print ``data`` as JSON or YAML when asked for; False for table output (the caller prints)."""
    if output is Output.table:
        return False
    typer.echo(dump(data, output.value), nl=False)
    return True


def table(rows: list[list[str]], header: list[str]) -> None:
    """Columns of cells; a control character in a cell (read from a commit anyone can write) is shown escaped."""
    rows = [[shown(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(x) for x in col) for col in zip(*rows, strict=True)]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def shown(value: object) -> str:
    """``value`` as text for a terminal: characters that are not printable (ESC, BEL, newlines) as escapes."""
    text = str(value)
    return text if text.isprintable() else "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def example(*lines: str) -> str:
    """A help epilog of example command lines, kept as written (click's \\b: no re-wrapping)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  $ {line}" for line in lines)
