"""``gitops-mlops check``: what would stop a promotion, found before one runs (offline, but for
asking the remote whether it has the target branch).

One line per problem: the configuration, stages without sites, registries whose named
credentials or CA file are missing, the model registry (its token variable and CA file; then one
request, tried once: does it answer and take the token), the git identity, the remote, records on
the verifications branch not written by the tool, kustomize.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gitops_mlops.config.load import load_config
from gitops_mlops.config.sites import discover_sites
from gitops_mlops.core.errors import GitOpsError
from gitops_mlops.gitstore import verifications
from gitops_mlops.gitstore.identity import identity_env
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.modelregistry.client import Client
from gitops_mlops.render.kustomize import Kustomize

PROBE_TIMEOUT = 5  # seconds the model registry has to answer check's one request


@dataclass(frozen=True)
class Problem:
    check: str  # config, stages, registries, model-registry, git, verifications, kustomize
    problem: str

    def as_json(self) -> dict:
        return {"check": self.check, "problem": self.problem}


def problems(repo_dir: Path) -> list[Problem]:
    repo_dir = Path(repo_dir).resolve()
    found: list[Problem] = []
    try:
        config = load_config(repo_dir)
    except GitOpsError as exc:
        return [Problem("config", str(exc)), *_git(repo_dir, None), *_kustomize()]
    try:
        sites = discover_sites(repo_dir, config)
        used = {s.stage for s in sites}
        found += [Problem("stages", f"stage {stage.name!r} has no sites") for stage in config.stages if stage.name not in used]
    except GitOpsError as exc:
        found.append(Problem("stages", str(exc)))
    for spec in config.registries:
        for variable in (spec.username_env, spec.password_env):
            if variable and not os.environ.get(variable):
                found.append(Problem("registries", f"registry {spec.host}: the variable {variable} named for its credentials is not set"))
        if spec.ca_file and not (repo_dir / spec.ca_file).is_file() and not Path(spec.ca_file).is_file():
            found.append(Problem("registries", f"registry {spec.host}: CA file {spec.ca_file} does not exist"))
    found += _model_registry(repo_dir, config)
    return [*found, *_git(repo_dir, config.remote, config.target_branch), *_records(repo_dir, config), *_kustomize()]


def _model_registry(repo_dir: Path, config) -> list[Problem]:
    """The model registry promotions start from and write back to: its token, CA file, and one answer."""
    if config.model_registry is None:
        return []
    try:
        with Client(config.model_registry, repo_dir) as client:
            client.probe(PROBE_TIMEOUT)
    except GitOpsError as exc:
        return [Problem("model-registry", str(exc))]
    return []


def _records(repo_dir: Path, config) -> list[Problem]:
    """Commits on the verifications branch the tool did not make: their records gate nothing."""
    try:
        return [Problem("verifications", line) for line in verifications.hand_made(GitRepo(repo_dir), config)]
    except GitOpsError:
        return []  # no repository: the git check says so


def _git(repo_dir: Path, remote: str | None, target: str | None = None) -> list[Problem]:
    out = []
    try:
        git = GitRepo(repo_dir)
    except GitOpsError as exc:
        return [Problem("git", str(exc))]
    try:
        identity_env(repo_dir)
    except GitOpsError as exc:
        out.append(Problem("git", str(exc)))
    if remote and git.remote_url(remote) is None:
        out.append(Problem("git", f"no remote {remote!r} (the config's remote): --push and diff's default base need it; git remote add {remote} URL"))
    elif remote and target:
        try:
            if not git.remote_branch_exists(remote, target):
                out.append(Problem("git", f"remote {remote!r} has no branch {target!r} yet: publish this repository's commits with 'gitops-mlops push'"))
        except GitOpsError as exc:
            out.append(Problem("git", str(exc)))
    return out


def _kustomize() -> list[Problem]:
    try:
        Kustomize.find()
    except GitOpsError as exc:
        return [Problem("kustomize", str(exc))]
    return []
