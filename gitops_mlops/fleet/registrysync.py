"""``registry sync``: record in the model registry where each registered version runs, from renders.

Only what reached the remote is recorded: the target branch is fetched, and its tip is rendered
(the checkout itself when it is that tip and clean, else a scratch worktree at it). Which
ModelVersion a digest is comes from the commits that promoted it from the registry
(``Registered-Model:``/``Model-Version-Id:`` trailers, the newest first); a site running a build
that was not promoted from the registry runs no registered version. A serving environment is a
stage (or a site, with ``modelRegistry.environments: site``); when its sites run several
registered versions, the environment's record points at the one most of them run.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from gitops_mlops.config.load import Config, load_config
from gitops_mlops.config.sites import discover_sites
from gitops_mlops.core import scratch
from gitops_mlops.core.errors import GitOpsError, InputError
from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.modelregistry.client import Client
from gitops_mlops.modelregistry.writeback import Desired, Outcome, WriteBackError, reconcile
from gitops_mlops.render.state import ModelMatcher, render_state, split_image


def sync(repo_dir: Path, remote: str | None = None, branch: str | None = None) -> Outcome:
    """Reconcile the registry with what the remote's target branch renders; bad input exit 2, git exit 5, the registry exit 7."""
    repo_dir = Path(repo_dir).resolve()
    config = load_config(repo_dir)
    if config.model_registry is None:
        raise InputError("registry sync needs modelRegistry: {url, tokenEnv} in gitops-mlops.yaml")
    git = GitRepo(repo_dir)
    tip = git.fetch(remote or config.remote, branch or config.target_branch)
    if git.head() == tip and not git.dirty():
        desired = desired_state(repo_dir, config, git, tip)
    else:
        with scratch.folder("registry-sync") as tmp:
            tree = Path(tmp) / "tree"
            git.add_worktree(tree, tip)
            try:
                desired = desired_state(tree, load_config(tree), git, tip)
            finally:
                git.remove_worktree(tree)
    try:
        client = Client(config.model_registry, repo_dir)
    except GitOpsError as exc:
        raise WriteBackError(f"writing back to the model registry failed: {exc}") from None
    with client:
        return reconcile(client, desired)


def after_push(repo_dir: Path) -> Outcome | None:
    """The write-back after a promotion or rollback was pushed; None when no model registry is configured."""
    if load_config(Path(repo_dir).resolve()).model_registry is None:
        return None
    try:
        return sync(repo_dir)
    except WriteBackError:
        raise
    except GitOpsError as exc:  # the push happened: whatever stops the record is the write-back's failure
        raise WriteBackError(f"writing back to the model registry failed: {exc}; 'gitops-mlops registry sync' catches up") from None


def desired_state(root: Path, config: Config, git: GitRepo, tip: str) -> Desired:
    """What the registry should hold, from the renders of ``root`` (the remote's tip)."""
    registered = trailers.registered_digests(git, tip)
    sites = discover_sites(root, config)
    state = render_state(root, config, sites)
    matcher = ModelMatcher(config)
    by_env = config.model_registry.environments if config.model_registry else "stage"
    runs: dict[tuple[str, str], Counter] = {}
    for site in sites:
        env = site.name if by_env == "site" else site.stage
        for model in config.models:
            runs.setdefault((env, model.registered_name), Counter())
        render = state[site.name]
        if not render.ok:
            raise InputError(f"registry sync: site {site.name} does not render: {render.error}")
        seen = set()
        for container in render.containers:
            repository, _, digest = split_image(container.image)
            model, _ = matcher.model_of(site.name, repository)
            if model is None or model.name in seen:
                continue
            seen.add(model.name)
            version = registered.get((model.name, digest))
            if version is not None and version[0] == model.registered_name:
                runs[(env, model.registered_name)][version[1]] += 1
    return Desired({key: (counter.most_common(1)[0][0] if counter else None) for key, counter in runs.items()})
