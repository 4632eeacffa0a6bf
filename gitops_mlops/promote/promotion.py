"""The promote command: settle the image in the registry, then plan -> write -> render and verify
-> commit -> publish (retrying from intent), as one change transaction.

A promotion is one model, one digest, a set of sites, one commit. The steps live in
their own modules: ``plan`` (intent -> pin edits, judged on renders), ``apply`` (one
promotion's change: its files, verify hook, message, hydration), ``change.effect`` (render
and verify the effect at every target and nothing past it), ``change.transaction`` (guard,
journal, write, commit, restore on failure, dry run, publish or propose) and ``result``
(what it returns, the pull request's text). Nothing to change is a normal result
("already up to date").
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gitops_mlops.change.intents import PromoteRequest, Publish
from gitops_mlops.change.transaction import guard, run_change
from gitops_mlops.core import settings
from gitops_mlops.core.imageref import parse_image
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.promote import policy, registered, wavegate
from gitops_mlops.promote.apply import apply_promotion
from gitops_mlops.promote.plan import resolve_intent
from gitops_mlops.promote.result import Result, change_json, pull_request_text
from gitops_mlops.promote.settle import settle_image
from gitops_mlops.promote.together import promote_together
from gitops_mlops.registry import mirrors, scan

__all__ = ["Result", "apply_promotion", "change_json", "promote", "promote_together", "pull_request_text"]


def promote(repo_dir: Path, request: PromoteRequest, options: Publish = Publish()) -> Result:
    """Run one promotion end to end."""
    repo_dir = Path(repo_dir).resolve()
    request = registered.resolve(repo_dir, request)  # a registered version's artifact becomes the image, before the plan
    intent = resolve_intent(repo_dir, request)  # bad input fails here, before the registry or any fetch
    wavegate.check_request(intent, request)
    policy.check_alone(intent.config, intent.model, request.member_only)
    if not request.registry_checked:
        request = settle_image(intent.config, intent.image, request)  # once: retries reuse the digest
        intent = replace(intent, image=parse_image(request.image))
    intent = wavegate.narrow(repo_dir, intent, request)  # the wave's sites, once the digest is known
    scan.check(intent.config, intent.image, Path(request.scan_report) if request.scan_report else None)  # before a file is written
    if request.verify and not settings.no_verify():
        mirrors.check(intent.config, intent.image, intent.targets, request.insecure_registries)
    git = GitRepo(repo_dir)
    recovered = guard(git, [site.path for site in intent.targets] + ["gitops-mlops.yaml"])
    resolved_at = git.head()

    def apply(dry_run: bool) -> Result:  # the intent read above holds while HEAD has not moved; after a reset it is read again
        fresh = (
            intent
            if dry_run or git.head() == resolved_at
            else wavegate.narrow(repo_dir, replace(resolve_intent(repo_dir, request), image=intent.image), request)
        )
        return apply_promotion(repo_dir, git, fresh, request, dry_run=dry_run)

    result = run_change(git, options, intent.config, apply, "promote", pull_request_text)
    return replace(result, recovered=recovered)
