"""Commands that look after the repository itself: push, check, add-site, remove-site."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gitops_mlops.change.intents import Publish
from gitops_mlops.cli.kit import (
    AuthorOpt,
    Output,
    OutputOpt,
    RepoOpt,
    app,
    complete_site,
    emit,
    err,
    example,
    publish_options,
    use_author,
)
from gitops_mlops.core.errors import InputError
from gitops_mlops.core.present import count


@app.command(
    epilog=example("gitops-mlops push", "gitops-mlops push --remote upstream --target-branch main", "gitops-mlops push --dry-run"),
)
@publish_options(
    "remote", "target_branch", "dry_run", dry_run="Say what would be pushed, judged on the remote's branch as last fetched; fetch and push nothing."
)
def push(
    repo: RepoOpt = Path("."),
    publish: Publish = Publish(),
    author: AuthorOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Publish the promotions, rollbacks and site changes committed locally: replayed on the remote's tip, pushed, never forced."""
    from gitops_mlops.fleet.push import push_local

    use_author(author)
    result = push_local(repo, publish)
    if publish.dry_run:
        if not emit(output, {**result.as_json(), "dryRun": True, "diff": result.diff}):
            typer.echo(result.diff, nl=False)
        err(f"dry run: would push {count(len(result.commits), 'commit')} to {result.branch} (as last fetched); nothing written, fetched or pushed")
        return
    emit(output, result.as_json())
    if not result.commits:
        err(f"nothing to push: {result.branch} has every commit")
        return
    tries = f" after {result.attempts} attempts" if result.attempts > 1 else ""
    err(f"pushed {count(len(result.commits), 'commit')} to {result.branch}{tries}, now at {result.commit[:12]}")


@app.command(epilog=example("gitops-mlops check", "gitops-mlops check -o json"))
def check(repo: RepoOpt = Path("."), output: OutputOpt = Output.table) -> None:
    """Find what would stop a promotion, offline: config, stages, registries, git identity and remote, kustomize."""
    from gitops_mlops.fleet.preflight import problems

    found = problems(repo)
    if not emit(output, [p.as_json() for p in found]):
        for p in found:
            typer.echo(f"{p.check}: {p.problem}")
    if found:
        raise InputError(f"{count(len(found), 'problem')} found")
    err("no problems found")


_SITE_DRY_RUN = "Take the real run's steps up to the commit, print the diff; then put every file back and commit nothing."


def _report(result, output: Output, dry_run: bool) -> None:
    if result.recovered:
        err(f"note: {result.recovered}")
    if dry_run:
        if not emit(output, {**result.as_json(), "dryRun": True, "diff": result.diff}):
            typer.echo(result.diff, nl=False)
        verb = "add" if result.action == "add-site" else "remove"
        err(f"dry run: would {verb} site {result.site} ({result.path}, {count(len(result.files), 'file')}); nothing written")
        return
    emit(output, result.as_json())
    where = f"pushed to {result.branch}" if result.pushed else f"committed on {result.branch or 'detached HEAD'}"
    verb = "added" if result.action == "add-site" else "removed"
    err(f"{verb} site {result.site} ({result.path}), commit {result.commit[:12]}, {where}")
    if result.action == "add-site" and not result.covered:
        err(f"note: no ApplicationSet git generator under environments/ covers {result.path}; Argo CD will not deploy it until one does")
    if result.holds_removed:
        err(f"removed {count(result.holds_removed, 'hold')} of the site")


@app.command(
    "add-site",
    epilog=example("gitops-mlops add-site edge/paris-01 --like edge/berlin-01 --dry-run", "gitops-mlops add-site edge/paris-01 --like edge/berlin-01 --push"),
)
@publish_options("push", "remote", "target_branch", "branch", "dry_run", dry_run=_SITE_DRY_RUN)
def add_site(
    name: Annotated[str, typer.Argument(metavar="SITE", help="The new site's name (its folder is the like site's sibling).")],
    like: Annotated[str, typer.Option("--like", metavar="SITE", autocompletion=complete_site, help="The site to copy: its overlay and its current pins.")],
    repo: RepoOpt = Path("."),
    publish: Publish = Publish(),
    author: AuthorOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Add a site: a copy of another site's overlay, rendered before it is committed."""
    from gitops_mlops.fleet.siteadmin import add_site as run

    use_author(author)
    _report(run(repo, name, like, publish), output, publish.dry_run)


@app.command("remove-site", epilog=example("gitops-mlops remove-site edge/paris-01 --push", "gitops-mlops remove-site edge/singapore-01 --dry-run"))
@publish_options("push", "remote", "target_branch", "branch", "dry_run", dry_run=_SITE_DRY_RUN)
def remove_site(
    name: Annotated[str, typer.Argument(metavar="SITE", autocompletion=complete_site, help="The site to remove.")],
    repo: RepoOpt = Path("."),
    publish: Publish = Publish(),
    author: AuthorOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Remove the last site of a stage too (the commit message records it).")] = False,
    output: OutputOpt = Output.table,
) -> None:
    """Remove a site's overlay, its holds and the Argo CD Application that syncs it, in one commit (refused while another site builds on it, or when it is its stage's last)."""
    from gitops_mlops.fleet.siteadmin import remove_site as run

    use_author(author)
    _report(run(repo, name, publish, force=force), output, publish.dry_run)
