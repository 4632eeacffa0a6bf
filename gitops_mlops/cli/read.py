"""Commands that read: sites, models, validate, status, history, diff, render, holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gitops_mlops.cli.kit import Output, OutputOpt, RepoOpt, SitesOpt, app, complete_site, emit, err, example, table
from gitops_mlops.cli.releases import OptionalModelArg, release_history, release_status
from gitops_mlops.core.errors import InputError, RenderError
from gitops_mlops.core.present import count, grouped, short, some


def _context(repo: Path):
    from gitops_mlops.config.load import load_config
    from gitops_mlops.config.sites import discover_sites

    config = load_config(repo)
    return config, discover_sites(repo, config)


@app.command(epilog=example("gitops-mlops sites", "gitops-mlops sites -o json"))
def sites(repo: RepoOpt = Path("."), output: OutputOpt = Output.table) -> None:
    """List the sites (overlay folders) and their stages."""
    _, found = _context(repo)
    if not emit(output, [{"site": s.name, "stage": s.stage, "path": s.path} for s in found]):
        table([[s.name, s.stage, s.path] for s in found], ["SITE", "STAGE", "PATH"])


@app.command(epilog=example("gitops-mlops models -o yaml"))
def models(repo: RepoOpt = Path("."), output: OutputOpt = Output.table) -> None:
    """List the configured models: what they are (an image or a modelcar), the name the manifests use, where builds are pushed."""
    from gitops_mlops.config.sites import matches

    config, found = _context(repo)
    data = [
        {
            "model": m.name,
            "artifact": m.artifact,
            "imageName": m.image,
            "pin": m.pin_name,
            "repository": m.repository,
            "sites": [s.name for s in found if any(matches(s.name, sel) for sel in m.sites)] if m.sites else None,  # null: everywhere
        }
        for m in config.models
    ]
    if not emit(output, data):
        table([[m.name, m.artifact, m.pin_name, m.repository] for m in config.models], ["MODEL", "ARTIFACT", "PIN", "REPOSITORY"])


@app.command(
    epilog=example(
        "gitops-mlops validate",
        "gitops-mlops validate --site edge --verbose",
        "gitops-mlops validate --crds crds/ --strict",
        "gitops-mlops validate --shard 2/4 -o json",
    )
)
def validate(
    files: Annotated[
        list[Path] | None,
        typer.Argument(metavar="[FILE]...", help="Only the sites whose build reads these files' folders, as pre-commit passes changed files."),
    ] = None,
    site: SitesOpt = [],
    shard_of: Annotated[
        str | None, typer.Option("--shard", metavar="K/N", help="Only the K-th of N shards of the sites (the N shards together are every site once).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="A line for every site, not only the failures.")] = False,
    crds: Annotated[
        list[Path],
        typer.Option("--crds", metavar="PATH", help="CRDs to check custom resources against (a file or folder, e.g. 'oc get crd -o yaml'), repeatable."),
    ] = [],
    strict: Annotated[bool, typer.Option("--strict", help="A rendered kind no schema covers is an error, not a note.")] = False,
    no_schemas: Annotated[bool, typer.Option("--no-schemas", help="Skip the schema checks (digests and serving sense are still checked).")] = False,
    repo: RepoOpt = Path("."),
    output: OutputOpt = Output.table,
) -> None:
    """Render the selected sites with kustomize; check every model is pinned by digest, every object against its schema, KServe serving sense."""
    from gitops_mlops.config.sites import select, shard
    from gitops_mlops.render.validate import repository_problems, schemas_for, validate_sites

    config, found = _context(repo)
    if files:
        from gitops_mlops.render.validate import sites_reading

        found = sites_reading(repo, config, found, files)
        if not found:
            err("no site reads the files given: nothing to validate")
            return
    chosen = shard(select(found, site) if site else found, shard_of)
    if no_schemas and (crds or strict):
        raise InputError("--no-schemas: not with --crds or --strict")
    schemas = None if no_schemas else schemas_for(repo, config, tuple(crds))
    reports = validate_sites(repo, config, chosen, schemas=schemas, strict=strict)
    failed = [r for r in reports if not r.ok]
    whole = not files and not site and (shard_of is None or shard_of.split("/")[0].strip() == "1")  # once, not per shard
    problems = repository_problems(repo, config, found) if whole else []
    stages = {s.name: s.stage for s in chosen}
    if not emit(output, [{"site": r.site, "stage": stages.get(r.site), **r.as_json()} for r in reports]):
        for r in reports if verbose else failed:
            typer.echo(f"ok    {r.site}" if r.ok else f"FAIL  {r.site}: {'; '.join(r.errors)}")
    for problem in problems:
        err(f"error: {problem}")
    for model, names in grouped((m, r.site) for r in reports for m in r.placeholders):
        err(
            f"note: {model} at {count(len(names), 'site')} ({some(names)}) still runs the placeholder digest (as 'gitops-mlops init' writes it): not yet promoted"
        )
    if not strict:
        for kind, names in grouped((k, r.site) for r in reports for k in r.unchecked):
            err(f"note: {kind} at {count(len(names), 'site')} ({some(names)}) not checked: no schema (give its CRD with --crds or schemas.crds)")
    if failed or problems:
        raise RenderError(f"{len(failed)} of {len(reports)} sites failed validation" + (f"; {count(len(problems), 'repository problem')}" if problems else ""))
    err(f"{count(len(reports), 'site')} valid")


@app.command(epilog=example("gitops-mlops status", "gitops-mlops status --summary", "gitops-mlops status --model fraud-detector --site edge -o json"))
def status(
    model: Annotated[list[str], typer.Option("--model", metavar="MODEL", help="Only these models (repeatable).")] = [],
    site: SitesOpt = [],
    summary: Annotated[bool, typer.Option("--summary", help="Counts of sites per model, stage and version instead of a row per site.")] = False,
    mirrors: Annotated[bool, typer.Option("--mirrors", help="Ask each site's mirror registry whether it has the digest the site runs.")] = False,
    release: Annotated[
        str | None,
        typer.Option("--release", metavar="NAME", help="One row per site: each member's version, and whether the combination was promoted together."),
    ] = None,
    repo: RepoOpt = Path("."),
    output: OutputOpt = Output.table,
) -> None:
    """What runs where, read from each site's render: version and digest of each model; drift, lagging stages and holds marked."""
    from gitops_mlops.views.status import read_status

    if release is not None:
        return release_status(repo, release, tuple(model), tuple(site), summary, mirrors, output)

    report = read_status(repo, tuple(model), tuple(site), mirrors=mirrors)
    rollouts = {(r.model, r.stage): r.as_json() for r in report.rollouts}
    if summary:
        groups = grouped(((r.model, r.stage, r.version, r.digest, r.image, r.placeholder), r.site) for r in report.rows)
        data = [
            {"model": k[0], "stage": k[1], "version": k[2] or None, "digest": k[3] or None, "image": k[4], "placeholder": k[5], "count": len(v)}
            | {"rollout": rollouts.get((k[0], k[1]))}
            for k, v in groups
        ]
        if not emit(output, data):
            table(
                [[d["model"], d["stage"], "placeholder" if d["placeholder"] else d["version"] or "-", short(d["digest"] or ""), str(d["count"])] for d in data],
                ["MODEL", "STAGE", "VERSION", "DIGEST", "SITES"],
            )
    elif not emit(output, [r.as_json() for r in report.rows]):
        rows = []
        for r in report.rows:
            marks = ",".join(
                m
                for m, on in (
                    ("drift", r.drift),
                    ("behind", r.behind),
                    ("hold", bool(r.hold)),
                    ("unpinned", not r.pinned),
                    (f"verify:{r.verified}", bool(r.verified)),
                    ("unmirrored", r.mirrored is False),
                    (f"canary:{r.canary}/{100 - (r.canary or 0)}", r.canary is not None),
                    (f"wave:{r.wave}", bool(r.wave)),
                )
                if on
            )
            rows.append([r.model, r.site, r.stage, "placeholder" if r.placeholder else r.version or "-", short(r.digest), r.source, marks])
        table(rows, ["MODEL", "SITE", "STAGE", "VERSION", "DIGEST", "SET IN", "NOTE"])
    if report.rollouts and output is Output.table:
        typer.echo("")
        table([rollout_row(r) for r in report.rollouts], ["MODEL", "STAGE", "DIGEST", "WAVES DONE", "AT DIGEST", "SOAK LEFT", "LAST VERIFICATION", "HALTED"])
    for problem in report.unread:
        err(f"warning: {problem}; the rows of that site are read from its render, its pins are not")
    for error in report.errors:
        err(f"error: {error}")
    if report.errors:
        raise RenderError(f"{count(len(report.errors), 'site')} did not render; their rows are missing")


@app.command(epilog=example("gitops-mlops history fraud-detector", "gitops-mlops history fraud-detector --site edge/austin-01 -n 5 -o json"))
def history(
    model: OptionalModelArg = None,
    site: SitesOpt = [],
    limit: Annotated[int | None, typer.Option("--limit", "-n", metavar="N", min=1, help="At most N entries.")] = None,
    release: Annotated[str | None, typer.Option("--release", metavar="NAME", help="The combinations a release was promoted and rolled back as.")] = None,
    repo: RepoOpt = Path("."),
    output: OutputOpt = Output.table,
) -> None:
    """Promotions and rollbacks of MODEL, newest first: from commit trailers, or for one site from its renders."""
    from gitops_mlops.views.history import read_history

    if release is not None or model is None:
        return release_history(repo, release, model, tuple(site), limit, output)

    entries = read_history(repo, model, tuple(site), limit)
    if emit(output, [e.as_json() for e in entries]):
        return
    if not entries:
        err(f"no promotion or rollback of {model}" + (f" at {', '.join(site)}" if site else ""))
        return
    rows = []
    for e in entries:
        rows.append(
            [
                e.commit[:12],
                e.date[:19],
                e.action + ("!" if e.forced else "") + (f" wave {e.wave}" if e.wave else ""),
                e.version or "-",
                short(e.digest) if e.digest else "several" if e.several else e.tag or "-",  # a tag-only image: its tag
                some(e.sites),
                e.author,
            ]
        )
    table(rows, ["COMMIT", "DATE", "ACTION", "VERSION", "DIGEST", "SITES", "AUTHOR"])


@app.command(epilog=example("gitops-mlops diff", "gitops-mlops diff --base origin/main --markdown > comment.md", "gitops-mlops diff --exit-code -o json"))
def diff(
    base: Annotated[str | None, typer.Option("--base", metavar="REF", help="Base ref (default: merge-base with the remote target branch).")] = None,
    head: Annotated[str | None, typer.Option("--head", metavar="REF", help="Head ref (default: HEAD).")] = None,
    site: SitesOpt = [],
    markdown: Annotated[bool, typer.Option("--markdown", help="A pull-request comment: summary table, one collapsible diff per distinct change.")] = False,
    shard_of: Annotated[str | None, typer.Option("--shard", metavar="K/N", help="Render only the affected sites of the K-th of N shards.")] = None,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 1 when any site's render differs, as git diff --exit-code does.")] = False,
    repo: RepoOpt = Path("."),
    output: OutputOpt = Output.table,
) -> None:
    """Render every affected site at both refs and print the manifest diff; identical changes are shown once with their sites."""
    from gitops_mlops.views.diff import diff_refs
    from gitops_mlops.views.diffreport import to_json, to_markdown, to_text

    report = diff_refs(repo, base, head, tuple(site), shard_of)
    if not emit(output, to_json(report)):
        typer.echo(to_markdown(report) if markdown else to_text(report), nl=False)
    err(f"{count(len(report.sites), 'site')} differ" if len(report.sites) != 1 else "1 site differs")
    if exit_code and report.sites:
        raise typer.Exit(1)


@app.command(epilog=example("gitops-mlops render edge/austin-01", "gitops-mlops render cloud > cloud.yaml"))
def render(
    site: Annotated[str, typer.Argument(metavar="SITE", autocompletion=complete_site, help="One site's name.")],
    repo: RepoOpt = Path("."),
    output: Annotated[
        Output, typer.Option("--output", "-o", help="yaml: the manifests as rendered (default); json: {site, manifests} with the same text.")
    ] = Output.yaml,
) -> None:
    """Print one site's manifests exactly as the tool renders them (kustomize, leashed; the render cache when unchanged)."""
    from gitops_mlops.views.rendered import render_one

    manifests = render_one(repo, site)
    if output is Output.json:
        emit(output, {"site": site, "manifests": manifests})
    else:
        typer.echo(manifests, nl=False)


@app.command(epilog=example("gitops-mlops holds", "gitops-mlops holds --model fraud-detector -o json"))
def holds(
    model: Annotated[list[str], typer.Option("--model", metavar="MODEL", help="Only these models (repeatable).")] = [],
    repo: RepoOpt = Path("."),
    output: OutputOpt = Output.table,
) -> None:
    """List the rollback holds: digests kept away from sites until 'release-hold' clears them."""
    from gitops_mlops.config.load import load_config
    from gitops_mlops.config.sites import discover_sites

    config = load_config(repo)
    for name in model:
        config.model(name)
    chosen = [h for h in config.holds if not model or h.model in model]
    repository = {m.name: m.repository for m in config.models}
    stages = {s.name: s.stage for s in discover_sites(repo, config)} if chosen else {}
    data = [
        {
            "model": h.model,
            "site": h.site,
            "stage": stages.get(h.site),
            "digest": h.digest,
            "image": f"{repository[h.model]}@{h.digest}" if h.model in repository else None,
            "reason": h.reason or None,
        }
        for h in chosen
    ]
    if emit(output, data):
        return
    if not chosen:
        err("no holds")
        return
    table([[h.model, h.site, short(h.digest), h.reason or "-"] for h in chosen], ["MODEL", "SITE", "DIGEST", "REASON"])


def rollout_row(r) -> list[str]:
    """A rollout through a stage with waves, as a row of the status table."""
    from gitops_mlops.promote.waves import shown_duration

    verification = r.verification.replace(" at ", " ", 1) if r.verification else "-"
    soak = shown_duration(r.soak_left) if r.soak_left else "-"
    return [r.model, r.stage, short(r.digest), f"{r.waves_done}/{r.waves}", f"{r.sites_at}/{r.sites}", soak, verification, "halted" if r.halted else "no"]
