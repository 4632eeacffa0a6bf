"""The command line: parse, call one library function, print. Nothing else.

JSON goes to stdout, messages to stderr. Exit codes: 0 done, 2 bad input,
3 refused by policy, 4 rendering/validation failed, 5 git or remote failed,
6 registry failed.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from gitops_mlops import __version__
from gitops_mlops.errors import GitOpsError, InputError, RenderError

app = typer.Typer(
    name="gitops-mlops",
    help="Own a Kustomize GitOps repository of ML model serving; promote image digests with one validated commit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class Output(str, Enum):
    table = "table"
    json = "json"


def _repo(value: Path) -> Path:
    from gitops_mlops.config import find_repo

    return find_repo(value) if value == Path(".") else value


RepoOpt = Annotated[Path, typer.Option("--repo", callback=_repo, help="The GitOps repository (default: found upward from the current directory, as git does).")]
OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="table or json")]
InsecureOpt = Annotated[list[str], typer.Option("--insecure-registry", help="HOST[:PORT] reached over plain HTTP (loopback, labs); repeatable.")]


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _json(data) -> None:
    typer.echo(json.dumps(data, indent=2))


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in [header, *rows]:
        typer.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


def _version(value: bool) -> None:
    if value:
        import platform
        import subprocess

        from gitops_mlops.kustomize import Kustomize

        typer.echo(f"gitops-mlops {__version__}")
        typer.echo(f"python {platform.python_version()} ({sys.executable})")
        try:
            git = subprocess.run(["git", "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
        except OSError:
            git = "git: not found"
        typer.echo(git)
        try:
            kustomize = Kustomize.find()
            import shutil

            typer.echo(f"{kustomize.version()} ({' '.join(kustomize.command)}, {shutil.which(kustomize.command[0])})")
        except GitOpsError as exc:
            typer.echo(f"kustomize: {exc}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = None,
) -> None:
    """gitops-mlops: promote ML model images through a Kustomize GitOps repository."""


def _context(repo: Path):
    from gitops_mlops.config import load_config
    from gitops_mlops.sites import discover_sites

    config = load_config(repo)
    return config, discover_sites(repo, config)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Directory for the new repository.")],
    model: Annotated[list[str], typer.Option("--model", help="NAME=REPOSITORY, repeatable.")] = [],
    edge_site: Annotated[list[str], typer.Option("--edge-site", help="An edge site name, repeatable.")] = [],
    edge_sites: Annotated[Optional[int], typer.Option("--edge-sites", min=0, help="Generate N edge sites site-0001...")] = None,
    repo_url: Annotated[Optional[str], typer.Option("--repo-url", help="The URL Argo CD pulls this repo from.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Write into a non-empty directory.")] = False,
) -> None:
    """Write the example layout (config, base, overlays, environments) into a new git repository and commit it."""
    from gitops_mlops.initrepo import init_repository
    from gitops_mlops.scaffold import ScaffoldSpec, edge_site_names

    defaults = ScaffoldSpec()
    models = []
    for item in model:
        name, sep, repository = item.partition("=")
        if not sep or not name or not repository:
            raise InputError(f"--model {item!r}: expected NAME=REPOSITORY")
        models.append((name, repository))
    if edge_site and edge_sites is not None:
        raise InputError("use either --edge-site or --edge-sites, not both")
    sites = tuple(edge_site) if edge_site else (edge_site_names(edge_sites) if edge_sites is not None else defaults.edge_sites)
    spec = ScaffoldSpec(models=tuple(models) or defaults.models, edge_sites=sites, repo_url=repo_url or defaults.repo_url)
    root, sha, count = init_repository(directory, spec, force=force)
    _err(f"initialized {root}: {count} files, commit {sha[:12]}")


@app.command()
def sites(repo: RepoOpt = Path("."), output: OutputOpt = Output.table) -> None:
    """List the sites (overlay directories) and their stages."""
    _, found = _context(repo)
    if output is Output.json:
        _json([{"name": s.name, "path": s.path, "stage": s.stage} for s in found])
    else:
        _table([[s.name, s.stage, s.path] for s in found], ["SITE", "STAGE", "PATH"])


@app.command()
def models(repo: RepoOpt = Path("."), output: OutputOpt = Output.table) -> None:
    """List the configured models."""
    from gitops_mlops.config import load_config

    config = load_config(repo)
    if output is Output.json:
        _json([{"name": m.name, "image": m.image, "repository": m.repository} for m in config.models])
    else:
        _table([[m.name, m.image, m.repository] for m in config.models], ["MODEL", "IMAGE", "REPOSITORY"])


@app.command()
def validate(
    site: Annotated[list[str], typer.Option("--site", help="Site selector (name, group or glob); default all.")] = [],
    shard_of: Annotated[Optional[str], typer.Option("--shard", metavar="K/N", help="Only the K-th of N shards of the sites (the N shards together are every site once).")] = None,
    repo: RepoOpt = Path("."),
    output: OutputOpt = Output.table,
) -> None:
    """Render the selected sites with kustomize and check every model is pinned by digest."""
    from gitops_mlops.sites import select, shard
    from gitops_mlops.validate import validate_sites

    config, found = _context(repo)
    chosen = shard(select(found, site) if site else found, shard_of)
    reports = validate_sites(repo, config, chosen)
    if output is Output.json:
        _json([r.as_json() for r in reports])
    else:
        for r in reports:
            typer.echo(f"ok    {r.site}" if r.ok else f"FAIL  {r.site}: {'; '.join(r.errors)}")
    failed = [r for r in reports if not r.ok]
    if failed:
        raise RenderError(f"{len(failed)} of {len(reports)} sites failed validation")
    _err(f"{len(reports)} sites valid")


@app.command()
def promote(
    model: Annotated[str, typer.Argument(help="Model name from gitops-mlops.yaml.")],
    image: Annotated[str, typer.Argument(help="registry[:port]/path:tag (resolved in the registry) or path[:tag]@sha256:<digest>")],
    to: Annotated[list[str], typer.Option("--to", help="Site selector, repeatable: name, group (edge) or glob.")],
    version: Annotated[Optional[str], typer.Option("--version", help="Semantic version (default: the image tag).")] = None,
    repo: RepoOpt = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check, edit, render and verify as the real run, print the diff; then put every file back and commit nothing.")] = False,
    push: Annotated[bool, typer.Option("--push", help="Push to the remote (retrying if it moved; never force).")] = False,
    remote: Annotated[Optional[str], typer.Option("--remote", help="Remote name (default: config remote, origin).")] = None,
    target_branch: Annotated[Optional[str], typer.Option("--target-branch", help="Branch Argo CD watches (default: config).")] = None,
    branch: Annotated[Optional[str], typer.Option("--branch", help="Commit on this new branch (pull-request mode).")] = None,
    message: Annotated[str, typer.Option("--message", "-m", help="Extra text for the commit message.")] = "",
    allow_downgrade: Annotated[bool, typer.Option("--allow-downgrade", help="Allow a lower semantic version.")] = False,
    force_order: Annotated[bool, typer.Option("--force-order", help="Skip the stage-order gate (recorded as Forced: true).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Promote a digest that is on hold after a rollback.")] = False,
    insecure_registry: InsecureOpt = [],
    output: OutputOpt = Output.table,
) -> None:
    """Pin MODEL to IMAGE at the selected sites: one validated commit, optionally pushed.

    A tag without a digest is resolved in the registry; a digest is checked to exist
    in registries listed under 'registries:' in the config or named with --insecure-registry.
    """
    from gitops_mlops.promotion import promote as run
    from gitops_mlops.requests import PromoteRequest, Publish

    request = PromoteRequest(
        model=model, image=image, selectors=tuple(to), version=version, message=message,
        force_order=force_order, allow_downgrade=allow_downgrade, force_hold=force, insecure_registries=tuple(insecure_registry),
    )
    result = run(repo, request, Publish(push=push, remote=remote, target_branch=target_branch, branch=branch, dry_run=dry_run))
    _report_promotion(result, output, dry_run)


@app.command()
def update(
    model: Annotated[list[str], typer.Option("--model", help="Only these models (repeatable; default all).")] = [],
    site: Annotated[list[str], typer.Option("--site", help="Only these sites (selector, repeatable).")] = [],
    repo: RepoOpt = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would change; write nothing.")] = False,
    push: Annotated[bool, typer.Option("--push", help="Push each promotion (retrying if the remote moved; never force).")] = False,
    remote: Annotated[Optional[str], typer.Option("--remote", help="Remote name (default: config remote, origin).")] = None,
    target_branch: Annotated[Optional[str], typer.Option("--target-branch", help="Branch Argo CD watches (default: config).")] = None,
    insecure_registry: InsecureOpt = [],
    output: OutputOpt = Output.table,
) -> None:
    """Promote each model's highest semver tag allowed by each stage's constraint to the sites running an older one."""
    from gitops_mlops.update import Options, update as run

    options = Options(
        models=tuple(model), selectors=tuple(site), push=push, dry_run=dry_run, remote=remote,
        target_branch=target_branch, insecure_registries=tuple(insecure_registry),
    )
    report = run(repo, options)
    if output is Output.json:
        _json({**report.as_json(), "dryRun": dry_run})
    else:
        rows = []
        for u in report.updates:
            sites = ", ".join(u.sites) if len(u.sites) <= 3 else f"{len(u.sites)} sites ({u.sites[0]}, ...)"
            note = u.note or (f"held at {', '.join(u.held)}" if u.held else "")
            rows.append([u.model, u.stage, u.status, u.version or "-", u.digest[:19] or "-", sites or "-", note])
        _table(rows, ["MODEL", "STAGE", "STATUS", "VERSION", "DIGEST", "SITES", "NOTE"])
        if dry_run:
            typer.echo("".join(u.diff for u in report.updates), nl=False)
    changed = [u for u in report.updates if u.status in ("updated", "would-update") and u.sites]
    verb = "would change" if dry_run else "changed"
    _err(f"update: {len(changed)} promotion(s) {verb}, {report.requests} registry request(s)" + ("; nothing written" if dry_run else ""))


@app.command()
def status(
    model: Annotated[list[str], typer.Option("--model", help="Only these models (repeatable).")] = [],
    site: Annotated[list[str], typer.Option("--site", help="Site selector (repeatable).")] = [],
    repo: RepoOpt = Path("."),
    output: OutputOpt = Output.table,
) -> None:
    """What runs where: version and digest of each model at each site; drift and lagging stages marked."""
    from gitops_mlops.status import read_status

    report = read_status(repo, tuple(model), tuple(site))
    if output is Output.json:
        _json([r.as_json() for r in report.rows])
    else:
        table = []
        for r in report.rows:
            marks = ",".join(m for m, on in (("drift", r.drift), ("behind", r.behind), ("hold", bool(r.hold)), ("unpinned", not r.pinned)) if on)
            table.append([r.model, r.site, r.stage, r.version or "-", r.digest[:19] or "-", r.source, marks])
        _table(table, ["MODEL", "SITE", "STAGE", "VERSION", "DIGEST", "SET IN", "NOTE"])
    for error in report.errors:
        _err(f"error: {error}")
    if report.errors:
        raise RenderError(f"{len(report.errors)} site(s) did not render; their rows are missing")


@app.command()
def history(
    model: Annotated[str, typer.Argument(help="Model name.")],
    site: Annotated[list[str], typer.Option("--site", help="Only entries touching these sites.")] = [],
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", min=1, help="At most N entries.")] = None,
    repo: RepoOpt = Path("."),
    output: OutputOpt = Output.table,
) -> None:
    """Promotions and rollbacks of MODEL, newest first, read from commit trailers."""
    from gitops_mlops.history import read_history

    entries = read_history(repo, model, tuple(site), limit)
    if output is Output.json:
        _json([e.as_json() for e in entries])
        return
    rows = []
    for e in entries:
        sites = ", ".join(e.sites) if len(e.sites) <= 3 else f"{len(e.sites)} sites ({e.sites[0]}, ...)"
        rows.append([e.commit[:12], e.date[:19], e.action + ("!" if e.forced else ""), e.version or "-", (e.digest or "several")[:19], sites, e.author])
    _table(rows, ["COMMIT", "DATE", "ACTION", "VERSION", "DIGEST", "SITES", "AUTHOR"])


@app.command()
def rollback(
    model: Annotated[str, typer.Argument(help="Model name.")],
    site: Annotated[list[str], typer.Option("--site", help="Site selector, repeatable.")],
    to: Annotated[Optional[str], typer.Option("--to", help="VERSION or sha256 DIGEST (12+ hex) the site ran before (default: undo the latest promotion).")] = None,
    repo: RepoOpt = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the diff; change nothing.")] = False,
    push: Annotated[bool, typer.Option("--push", help="Push to the remote (retrying if it moved; never force).")] = False,
    remote: Annotated[Optional[str], typer.Option("--remote")] = None,
    target_branch: Annotated[Optional[str], typer.Option("--target-branch")] = None,
    branch: Annotated[Optional[str], typer.Option("--branch", help="Commit on this new branch (pull-request mode).")] = None,
    message: Annotated[str, typer.Option("--message", "-m")] = "",
    output: OutputOpt = Output.table,
) -> None:
    """Pin the previously deployed digest at the sites, and hold the rolled-back one against re-promotion."""
    from gitops_mlops.requests import Publish, RollbackRequest
    from gitops_mlops.rollback import rollback as run

    request = RollbackRequest(model=model, selectors=tuple(site), to=to, message=message)
    _report_promotion(run(repo, request, Publish(push=push, remote=remote, target_branch=target_branch, branch=branch, dry_run=dry_run)), output, dry_run)


@app.command("release-hold")
def release_hold(
    model: Annotated[str, typer.Argument(help="Model name.")],
    site: Annotated[list[str], typer.Option("--site", help="Site selector, repeatable.")],
    digest: Annotated[Optional[str], typer.Option("--digest", help="Only the hold of this digest.")] = None,
    repo: RepoOpt = Path("."),
    push: Annotated[bool, typer.Option("--push")] = False,
    remote: Annotated[Optional[str], typer.Option("--remote")] = None,
    target_branch: Annotated[Optional[str], typer.Option("--target-branch")] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Clear rollback holds so the held digest may be promoted again."""
    from gitops_mlops.release import release_hold as run
    from gitops_mlops.requests import Publish, ReleaseHoldRequest

    request = ReleaseHoldRequest(model=model, selectors=tuple(site), digest=digest)
    result = run(repo, request, Publish(push=push, remote=remote, target_branch=target_branch))
    if output is Output.json:
        _json({"model": result.model, "released": list(result.changed), "commit": result.commit, "pushed": result.pushed})
    if not result.changed:
        _err(f"no hold of {model} at the selected sites; nothing to release")
    else:
        _err(f"released {len(result.changed)} hold(s) on {model}, commit {result.commit[:12]}" + (" (pushed)" if result.pushed else ""))


@app.command()
def diff(
    base: Annotated[Optional[str], typer.Option("--base", help="Base ref (default: merge-base with the remote target branch).")] = None,
    head: Annotated[Optional[str], typer.Option("--head", help="Head ref (default: HEAD).")] = None,
    site: Annotated[list[str], typer.Option("--site", help="Site selector (repeatable).")] = [],
    markdown: Annotated[bool, typer.Option("--markdown", help="A pull-request comment: summary table, one collapsible diff per site.")] = False,
    shard_of: Annotated[Optional[str], typer.Option("--shard", metavar="K/N", help="Render only the affected sites of the K-th of N shards.")] = None,
    repo: RepoOpt = Path("."),
) -> None:
    """Render every affected site at both refs and print the manifest diff per site."""
    from gitops_mlops.diff import diff_refs, to_markdown, to_text

    report = diff_refs(repo, base, head, tuple(site), shard_of)
    typer.echo(to_markdown(report) if markdown else to_text(report), nl=False)
    _err(f"{len(report.sites)} site(s) differ")


@app.command("hydrate")
def hydrate_command(
    check_only: Annotated[bool, typer.Option("--check", help="Only say whether the hydrated branch was made from HEAD (exit 4 when not).")] = False,
    push: Annotated[bool, typer.Option("--push", help="Push the hydrated branch.")] = False,
    repo: RepoOpt = Path("."),
    output: OutputOpt = Output.table,
) -> None:
    """Write every site's rendered manifests to the hydrated branch for HEAD, when it was not made from HEAD."""
    from gitops_mlops.hydrate import check, hydrate_head

    if check_only:
        state = check(repo)
        data = {"branch": state.branch, "tip": state.tip, "madeFrom": state.made_from, "source": state.source, "matches": state.matches}
        if output is Output.json:
            _json(data)
        if not state.matches:
            raise RenderError(f"hydrated branch {state.branch} was made from {(state.made_from or 'nothing')[:12]}, not from HEAD {state.source[:12]}: run 'gitops-mlops hydrate'")
        _err(f"hydrated branch {state.branch} matches HEAD {state.source[:12]}")
        return
    state, hydrated = hydrate_head(repo, push)
    if hydrated is None:
        _err(f"hydrated branch {state.branch} already matches HEAD {state.source[:12]}; nothing to do")
        return
    if output is Output.json:
        _json({"branch": hydrated.branch, "commit": hydrated.sha, "sites": list(hydrated.sites), "pushed": push})
    _err(f"hydrated {len(hydrated.sites)} site(s) on {hydrated.branch}: commit {hydrated.sha[:12]}" + (" (pushed)" if push else ""))


def _report_promotion(result, output: Output, dry_run: bool) -> None:
    if dry_run:
        if output is Output.json:
            _json({**result.as_json(), "diff": result.diff})
        else:
            typer.echo(result.diff, nl=False)
        _err(f"dry run: {len(result.changed)} sites would change, {len(result.unchanged)} already up to date; nothing written")
        return
    if result.recovered:
        _err(f"note: {result.recovered}")
    if output is Output.json:
        _json(result.as_json())
    if not result.changed:
        _err(f"{result.model} {result.version}: already up to date at {len(result.unchanged)} sites; no commit".replace("  ", " "))
        return
    where = f"pushed to {result.branch}" if result.pushed else f"committed on {result.branch or 'detached HEAD'}"
    tries = f" after {result.attempts} attempts" if result.attempts > 1 else ""
    count = f"{len(result.changed)} site" + ("s" if len(result.changed) != 1 else "")
    _err(f"{result.model} {result.version} -> {count}, commit {result.commit[:12]}, {where}{tries}")
    if output is Output.table:
        for change in result.changes:
            old = change.old
            typer.echo(f"{change.site}: {(old.new_tag if old else None) or '-'} -> {change.new_version or '-'}  {change.new_digest[:19]}")
    if result.pr_title:
        _err("")
        typer.echo(f"# {result.pr_title}\n\n{result.pr_body}", err=output is Output.json)


def main() -> None:
    """Entry point: usage errors exit 2 (Typer); a GitOpsError prints one line and exits with its code."""
    try:
        app()
    except GitOpsError as exc:
        _err(f"error: {exc}")
        sys.exit(exc.exit_code)
