"""Several promotions as one: one commit each (each with its own trailers), rendered and validated
together once on the final tree, published together; used by ``update``."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path

from gitops_mlops.change.intents import PromoteRequest, Publish
from gitops_mlops.change.transaction import all_or_nothing, guard, run_change
from gitops_mlops.config.load import load_config
from gitops_mlops.config.sites import discover_sites
from gitops_mlops.core.errors import RenderError
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.promote.apply import apply_promotion
from gitops_mlops.promote.plan import resolve_intent
from gitops_mlops.promote.result import Result, together_text
from gitops_mlops.render import hydrate
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.validate import schemas_for, validate_sites


def promote_together(repo_dir: Path, requests: list[PromoteRequest], options: Publish = Publish()) -> list[Result]:
    """Several promotions, one commit each (each with its own trailers), rendered and validated
    together once on the final tree before anything is pushed; if that fails, the branch
    returns to where it was. With push, all commits go in one push, re-applied from intent
    if the remote moved. Used by ``update``: one kustomize run instead of one per model.
    A dry run takes the same steps up to the first commit, each promotion planned on the files
    of the one before, then puts every file back: it exits as the real run would.
    """
    repo_dir = Path(repo_dir).resolve()
    intents = [resolve_intent(repo_dir, r) for r in requests]
    git = GitRepo(repo_dir)
    guard(git, sorted({site.path for i in intents for site in i.targets}) + ["gitops-mlops.yaml"])
    results: list[Result] = []
    if not requests:
        return []
    apply = partial(_apply_together, repo_dir, git, requests, results)
    last = run_change(git, options, intents[0].config, apply, "update", lambda _, base, head: together_text(results, base, head))
    if options.dry_run:
        return results
    commits = _as_published(git, [r.commit for r in results], last.commit)
    return [
        replace(r, commit=commit, pushed=last.pushed and r.commit is not None, branch=last.branch, attempts=last.attempts, pull_request=last.pull_request)
        for r, commit in zip(results, commits, strict=True)
    ]


def _apply_together(repo_dir: Path, git: GitRepo, requests: list[PromoteRequest], results: list[Result], dry_run: bool = False) -> Result:
    """Apply each promotion on the one before, then validate every changed site once (and hydrate);
    on any failure the branch returns to where it was. A dry run commits nothing and puts every file back."""
    results.clear()
    kept: list = []
    with all_or_nothing(git, kept) as base:
        for request in requests:
            intent = resolve_intent(repo_dir, request)
            results.append(apply_promotion(repo_dir, git, intent, request, verify_effect=False, hydrate_it=False, dry_run=dry_run, kept=kept))
        changed = {name for r in results for name in r.changed}
        if changed:
            config = load_config(repo_dir)
            sites = tuple(s for s in discover_sites(repo_dir, config) if s.name in changed)
            failed = [r for r in validate_sites(repo_dir, config, sites, schemas=schemas_for(repo_dir, config)) if not r.ok]
            if failed:
                more = f" (and {len(failed) - 1} more sites)" if len(failed) > 1 else ""
                raise RenderError(f"validation failed, nothing changed: {failed[0].errors[0]}{more}")
            if not dry_run:
                with RenderCache(repo_dir) as cache:
                    also = hydrate.after_commit(repo_dir, git, config, git.head(), base, changed, cache)
                if also:  # pushed with the last commit
                    last = max(i for i, r in enumerate(results) if r.commit)
                    results[last] = replace(results[last], also=also)
    for put_back in reversed(kept):  # a dry run's files, the last written first: each file as it was
        put_back()
    return next((r for r in reversed(results) if r.commit), results[-1])


def _as_published(git: GitRepo, commits: list[str | None], published: str | None) -> list[str | None]:
    """Each promotion's commit as published: this run's, or, where ``--branch`` found a branch with
    the same whole change and reused it, the branch's commit in the same place (its last one for
    each, when the branch holds the change in another number of commits)."""
    made = [c for c in commits if c]
    if not made or published is None or published == made[-1]:
        return commits
    fork = git.run("merge-base", published, f"{made[0]}^").strip()
    theirs = git.run("rev-list", "--reverse", f"{fork}..{published}").split()
    mapped = iter(theirs if len(theirs) == len(made) else [published] * len(made))
    return [next(mapped) if c else None for c in commits]
