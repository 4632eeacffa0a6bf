"""Commands that write: init, promote, update, rollback, release-hold, hydrate."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Annotated

import typer

from gitops_mlops.change.intents import Publish
from gitops_mlops.cli.kit import (
    AuthorOpt,
    InsecureOpt,
    MessageOpt,
    ModelArg,
    NoVerifyOpt,
    Output,
    OutputOpt,
    RepoOpt,
    SitesOpt,
    app,
    complete_site,
    emit,
    err,
    example,
    publish_options,
    say_unverified,
    table,
    use_author,
)
from gitops_mlops.cli.modelregistry import write_back
from gitops_mlops.cli.promotion import (
    CanaryOpt,
    FinishCanaryOpt,
    ImageArg,
    RegistryVersionOpt,
    ScanReportOpt,
    ToOpt,
    report_promotion,
)
from gitops_mlops.cli.releases import (
    MemberOnlyOpt,
    MembersArg,
    OptionalModelArg,
    ReleaseOpt,
    UpdateReleaseOpt,
    promote_release,
    rollback_release,
    update_release,
)
from gitops_mlops.core.errors import InputError, RenderError
from gitops_mlops.core.present import count, short, some


@app.command(
    epilog=example(
        "gitops-mlops init fleet --edge-sites 200 --model fraud-detector=quay.io/acme/fraud-detector",
        "gitops-mlops init fleet --model fraud-detector=quay.io/acme/fraud-detector --model churn=quay.io/acme/churn --modelcar fraud-detector",
    )
)
def init(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Directory for the new repository.")],
    model: Annotated[list[str], typer.Option("--model", metavar="NAME=REPOSITORY", help="A model and where its builds are pushed, repeatable.")] = [],
    modelcar: Annotated[
        list[str],
        typer.Option(
            "--modelcar",
            metavar="NAME",
            help="Serve this model as a KServe InferenceService whose model is an OCI image (storageUri: oci://), repeatable; the others are Deployments.",
        ),
    ] = [],
    edge_site: Annotated[list[str], typer.Option("--edge-site", metavar="NAME", help="An edge site name, repeatable.")] = [],
    edge_sites: Annotated[int | None, typer.Option("--edge-sites", metavar="N", min=0, help="Generate N edge sites site-0001...")] = None,
    repo_url: Annotated[
        str | None, typer.Option("--repo-url", metavar="URL", help="The URL Argo CD pulls this repository from; also added as the remote.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Write into a non-empty directory, or inside another git repository.")] = False,
    author: AuthorOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Write the example layout (config, base, overlays, environments) into a new git repository and commit it."""
    use_author(author)
    from gitops_mlops.config.scaffold import ScaffoldSpec, edge_site_names
    from gitops_mlops.fleet.init import init_repository

    defaults = ScaffoldSpec()
    models = []
    for item in model:
        name, sep, repository = item.partition("=")
        if not sep or not name or not repository:
            raise InputError(f"--model {item!r}: expected NAME=REPOSITORY")
        models.append((name, repository))
    models = models or [m[:2] for m in defaults.models] if modelcar else models or list(defaults.models)
    unknown = sorted(set(modelcar) - {m[0] for m in models})
    if unknown:
        raise InputError(f"--modelcar {unknown[0]}: not one of the models ({', '.join(m[0] for m in models)})")
    if modelcar:
        models = [(*m[:2], "modelcar") if m[0] in modelcar else m[:2] for m in models]
    if edge_site and edge_sites is not None:
        raise InputError("use either --edge-site or --edge-sites, not both")
    sites = tuple(edge_site) if edge_site else (edge_site_names(edge_sites) if edge_sites is not None else defaults.edge_sites)
    spec = ScaffoldSpec(models=tuple(models), edge_sites=sites, repo_url=repo_url or defaults.repo_url)
    root, sha, files = init_repository(directory, spec, force=force, remote_url=repo_url)
    if output is not Output.table:
        from gitops_mlops.config.load import load_config
        from gitops_mlops.config.sites import discover_sites

        names = [s.name for s in discover_sites(root, load_config(root))]
        emit(output, {"directory": str(root), "commit": sha, "files": list(files), "remote": repo_url, "sites": names})
    err(f"initialized {root}: {count(len(files), 'file')}, commit {sha[:12]}" + (f", remote origin {repo_url}" if repo_url else ""))
    err("its pins are placeholders ('validate' says so) until a first promotion: gitops-mlops promote MODEL IMAGE --to STAGE")


@app.command(
    epilog=example(
        "gitops-mlops promote fraud-detector quay.io/acme/fraud-detector:1.4.0 --to datacenter",
        "gitops-mlops promote fraud-detector quay.io/acme/fraud-detector@sha256:64df0ee871bb... --to cloud --push",
        "gitops-mlops promote fraud-detector quay.io/acme/fraud-detector:1.4.0 --to edge --branch promote/fd-1.4.0 --push",
    )
)
@publish_options(
    "push",
    "remote",
    "target_branch",
    "branch",
    "open_pr",
    "label",
    dry_run="Check, edit, render and verify as the real run, print the diff; then put every file back and commit nothing.",
)
def promote(
    model: ModelArg,
    to: ToOpt,
    image: ImageArg = "",
    more: MembersArg = None,
    release: ReleaseOpt = None,
    member_only: MemberOnlyOpt = False,
    version: Annotated[str | None, typer.Option("--version", metavar="VERSION", help="Semantic version (default: the image tag).")] = None,
    registry_version: RegistryVersionOpt = None,
    repo: RepoOpt = Path("."),
    publish: Publish = Publish(),
    message: MessageOpt = "",
    allow_downgrade: Annotated[bool, typer.Option("--allow-downgrade", help="Allow a lower semantic version.")] = False,
    force_order: Annotated[bool, typer.Option("--force-order", help="Skip the stage-order gate (recorded as Forced: true).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Promote a digest that is on hold after a rollback.")] = False,
    wave: Annotated[str | None, typer.Option("--wave", metavar="NEXT|N", help="Only this wave of a stage with waves (--to STAGE).")] = None,
    all_waves: Annotated[bool, typer.Option("--all-waves", help="A stage with waves takes the whole selection at once.")] = False,
    insecure_registry: InsecureOpt = [],
    no_verify: NoVerifyOpt = False,
    scan_report: ScanReportOpt = None,
    canary: CanaryOpt = None,
    finish_canary: FinishCanaryOpt = False,
    author: AuthorOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Pin MODEL to IMAGE at the selected sites: one validated commit, optionally pushed.

    A tag without a digest is resolved in the registry; a digest is checked to exist in its registry (credentials and CA from 'registries:' in the config), unless --no-verify."""
    use_author(author)
    from gitops_mlops.change.intents import PromoteRequest
    from gitops_mlops.promote import canary as canaries
    from gitops_mlops.promote.promotion import promote as run

    request = PromoteRequest(
        model=model,
        image=image,
        selectors=tuple(to),
        version=version,
        message=message,
        force_order=force_order,
        allow_downgrade=allow_downgrade,
        force_hold=force,
        insecure_registries=tuple(insecure_registry),
        verify=not no_verify,
        scan_report=str(scan_report) if scan_report else None,
        registry_version=registry_version,
        canary=canaries.from_options(canary, finish_canary),
        wave=wave,
        all_waves=all_waves,
        member_only=member_only,
    )
    if release is not None or more or "=" in model:
        return promote_release(repo, release, [model, image, *(more or [])], request, publish, output)
    result = run(repo, request, publish)
    if "@" in image and result.changed:  # a tag alone is always resolved in the registry
        say_unverified(no_verify)
    report_promotion(result, output, publish.dry_run)
    write_back(repo, result, publish.branch)


@app.command(epilog=example("gitops-mlops update --dry-run", "gitops-mlops update --model fraud-detector --site edge --push"))
@publish_options(
    "push",
    "remote",
    "target_branch",
    "branch",
    "open_pr",
    "label",
    dry_run="Take the real run's steps up to the commit, print the diff; then put every file back and commit nothing.",
)
def update(
    model: Annotated[list[str], typer.Option("--model", metavar="MODEL", help="Only these models (repeatable; default all).")] = [],
    site: SitesOpt = [],
    release: UpdateReleaseOpt = None,
    repo: RepoOpt = Path("."),
    publish: Publish = Publish(),
    insecure_registry: InsecureOpt = [],
    author: AuthorOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Promote each model's highest semver tag allowed by each stage's constraint to the sites running an older one."""
    use_author(author)
    from gitops_mlops.promote.update import Options
    from gitops_mlops.promote.update import update as run

    if release is not None:
        return update_release(repo, release, tuple(model), tuple(site), tuple(insecure_registry), publish, output)
    dry_run = publish.dry_run
    report = run(repo, Options(models=tuple(model), selectors=tuple(site), insecure_registries=tuple(insecure_registry), publish=publish))
    if not emit(output, {**report.as_json(), "dryRun": dry_run}):
        rows = []
        for u in report.updates:
            note = u.note or (f"held at {', '.join(u.held)}" if u.held else "")
            rows.append([u.model, u.stage, u.status, u.version or "-", short(u.digest), f"{len(u.sites)}: {some(u.sites)}" if u.sites else "-", note])
        table(rows, ["MODEL", "STAGE", "STATUS", "VERSION", "DIGEST", "SITES", "NOTE"])
        if dry_run:
            typer.echo("".join(u.diff for u in report.updates), nl=False)
    for note in dict.fromkeys(n for u in report.updates for n in u.notes):
        err(f"note: {note}")
    changed = [u for u in report.updates if u.status in ("updated", "would-update") and u.sites]
    verb = "would change" if dry_run else "changed"
    err(f"update: {count(len(changed), 'promotion')} {verb}, {count(report.requests, 'registry request')}" + ("; nothing written" if dry_run else ""))
    opened = next((u.pull_request for u in changed if u.pull_request), "")
    if opened:
        err(f"pull request: {opened}")
    write_back(repo, SimpleNamespace(pushed=any(u.pushed for u in changed), changed=changed), publish.branch)


@app.command(epilog=example("gitops-mlops rollback fraud-detector --site edge/austin-01", "gitops-mlops rollback fraud-detector --site edge --to 1.3.0 --push"))
@publish_options("push", "remote", "target_branch", "branch", "open_pr", "label", dry_run="Render and verify as the real run, print the diff; change nothing.")
def rollback(
    site: Annotated[
        list[str], typer.Option("--site", metavar="SITE", autocompletion=complete_site, help="Site selector, repeatable: a name, a stage or a glob.")
    ],
    model: OptionalModelArg = None,
    release: Annotated[
        str | None, typer.Option("--release", metavar="NAME", help="Roll back every member the release's latest promotion moved, in one commit.")
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", metavar="VERSION|DIGEST", help="A version or sha256 digest (12+ hex) the site ran before (default: undo the latest change)."),
    ] = None,
    repo: RepoOpt = Path("."),
    publish: Publish = Publish(),
    message: MessageOpt = "",
    insecure_registry: InsecureOpt = [],
    no_verify: NoVerifyOpt = False,
    author: AuthorOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Pin what the sites rendered before, and hold the rolled-back digest against re-promotion."""
    use_author(author)
    from gitops_mlops.change.intents import RollbackRequest
    from gitops_mlops.promote.rollback import rollback as run

    if release is not None or model is None:
        return rollback_release(repo, release, model, to, tuple(site), message, not no_verify, tuple(insecure_registry), publish, output)
    request = RollbackRequest(model=model, selectors=tuple(site), to=to, message=message, verify=not no_verify, insecure_registries=tuple(insecure_registry))
    result = run(repo, request, publish)
    if result.changed:
        say_unverified(no_verify)
    report_promotion(result, output, publish.dry_run, tuple(site))
    write_back(repo, result, publish.branch)


@app.command(
    "release-hold",
    epilog=example(
        "gitops-mlops release-hold fraud-detector --site edge/austin-01 --digest sha256:64df0ee871bb",
        "gitops-mlops release-hold fraud-detector --site edge --dry-run",
    ),
)
@publish_options(
    "push", "remote", "target_branch", dry_run="Take the real run's steps up to the commit, print the diff; then put the file back and commit nothing."
)
def release_hold(
    model: ModelArg,
    site: Annotated[list[str], typer.Option("--site", metavar="SITE", autocompletion=complete_site, help="Site selector, repeatable.")],
    digest: Annotated[str | None, typer.Option("--digest", metavar="DIGEST", help="Only the hold of this digest (12+ hex characters are enough).")] = None,
    repo: RepoOpt = Path("."),
    publish: Publish = Publish(),
    author: AuthorOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Clear rollback holds so the held digest may be promoted again."""
    use_author(author)
    from gitops_mlops.change.intents import ReleaseHoldRequest
    from gitops_mlops.promote.release_hold import release_hold as run

    request = ReleaseHoldRequest(model=model, selectors=tuple(site), digest=digest)
    result = run(repo, request, publish)
    dry_run = publish.dry_run
    if result.recovered:
        err(f"note: {result.recovered}")
    data = {"model": result.model, **_released(repo, result), "commit": result.commit, "pushed": result.pushed}
    if not emit(output, {**data, "dryRun": True, "diff": result.diff} if dry_run else data) and dry_run:
        typer.echo(result.diff, nl=False)
    if not result.changed:
        err(f"no hold of {model} at the selected sites; nothing to release" + ("; dry run, nothing written" if dry_run else ""))
    elif dry_run:
        err(f"dry run: would release {count(len(result.changed), 'hold')} on {model}; nothing written")
    else:
        err(f"released {count(len(result.changed), 'hold')} on {model}, commit {result.commit[:12]}" + (" (pushed)" if result.pushed else ""))


def _released(repo: Path, result) -> dict:
    """The sites and holds a release-hold cleared, each hold with its site's stage and its image."""
    from gitops_mlops.config.load import load_config
    from gitops_mlops.config.sites import discover_sites

    config = load_config(repo)
    stages = {s.name: s.stage for s in discover_sites(repo, config)}
    repository = config.model(result.model).repository
    holds = []
    for item in result.changed:
        site, digest = item.rsplit("@", 1)
        holds.append({"site": site, "stage": stages.get(site), "digest": digest, "image": f"{repository}@{digest}"})
    return {"sites": sorted({h["site"] for h in holds}), "holds": holds}


@app.command("hydrate", epilog=example("gitops-mlops hydrate --push", "gitops-mlops hydrate --check"))
def hydrate_command(
    check_only: Annotated[bool, typer.Option("--check", help="Only say whether the hydrated branch was made from HEAD (exit 4 when not).")] = False,
    push: Annotated[bool, typer.Option("--push", help="Push the hydrated branch.")] = False,
    repo: RepoOpt = Path("."),
    author: AuthorOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Write every site's rendered manifests to the hydrated branch for HEAD, when it was not made from HEAD."""
    use_author(author)
    from gitops_mlops.render.hydrate import check, hydrate_head

    if check_only:
        state = check(repo)
        emit(output, {"branch": state.branch, "tip": state.tip, "madeFrom": state.made_from, "source": state.source, "matches": state.matches})
        if not state.matches:
            made = (state.made_from or "nothing")[:12]
            raise RenderError(f"hydrated branch {state.branch} was made from {made}, not from HEAD {state.source[:12]}: run 'gitops-mlops hydrate'")
        err(f"hydrated branch {state.branch} matches HEAD {state.source[:12]}")
        return
    state, hydrated = hydrate_head(repo, push)
    if hydrated is None:
        emit(output, {"branch": state.branch, "commit": state.tip, "sites": [], "pushed": False})
        err(f"hydrated branch {state.branch} already matches HEAD {state.source[:12]}; nothing to do")
        return
    emit(output, {"branch": hydrated.branch, "commit": hydrated.sha, "sites": list(hydrated.sites), "pushed": push})
    err(f"hydrated {count(len(hydrated.sites), 'site')} on {hydrated.branch}: commit {hydrated.sha[:12]}" + (" (pushed)" if push else ""))
