"""``registry``: the model registry (Kubeflow Model Registry, OpenShift AI) the tool writes back to."""

from __future__ import annotations

from pathlib import Path

import typer

from gitops_mlops.cli.kit import Output, OutputOpt, RemoteOpt, RepoOpt, TargetOpt, app, emit, err, example
from gitops_mlops.core.present import count

registry_app = typer.Typer(
    help="The model registry: record where each registered model version runs.",
    no_args_is_help=True,
    epilog=example("gitops-mlops registry sync", "gitops-mlops registry sync -o json"),
)
app.add_typer(registry_app, name="registry")


@registry_app.command(epilog=example("gitops-mlops registry sync", "gitops-mlops registry sync -o json"))
def sync(repo: RepoOpt = Path("."), remote: RemoteOpt = None, target_branch: TargetOpt = None, output: OutputOpt = Output.table) -> None:
    """Record in the model registry, from what the remote's target branch renders, which version runs in each serving environment."""
    from gitops_mlops.fleet.registrysync import sync as run

    outcome = run(repo, remote, target_branch)
    emit(output, outcome.as_json())
    for name in outcome.unknown_models:
        err(f"note: the model registry has no registered model {name!r}: nothing recorded for it")
    for env in outcome.created_environments:
        err(f"serving environment {env}: created")
    for env, model, version in outcome.created + outcome.updated:
        err(f"{model} in {env}: {'model version ' + version if version != 'UNDEPLOYED' else 'UNDEPLOYED'}")
    err(f"registry sync: {count(outcome.changed, 'record')} written, {count(outcome.requests, 'request')}")


def write_back(repo: Path, result, branch: str | None) -> None:
    """After a promotion or rollback reached the target branch: record in the model registry where versions run (exit 7 when it fails)."""
    if not (result.pushed and result.changed and branch is None):
        return
    from gitops_mlops.fleet.registrysync import after_push

    outcome = after_push(repo)
    if outcome is not None:
        err(f"model registry: {count(outcome.changed, 'record')} written, {count(outcome.requests, 'request')}")
