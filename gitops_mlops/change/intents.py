"""What a command asks for: one typed request per action, and publish options apart.

A request is the intent re-applied on every retry after the remote moved; the
publish options say where the commit goes. Both are checked once, here, before
git or the registry is touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitops_mlops.core.errors import InputError
from gitops_mlops.core.names import check_branch, check_remote

if TYPE_CHECKING:  # a name in annotations only: every command parses its options without the model registry's HTTP client
    from gitops_mlops.modelregistry.versions import RegisteredVersion


@dataclass(frozen=True)
class PromoteRequest:
    model: str
    image: str  # registry/repo:TAG (resolved in the registry) or registry/repo[:TAG]@sha256:...
    selectors: tuple[str, ...]
    version: str | None = None
    message: str = ""
    force_order: bool = False
    allow_downgrade: bool = False
    force_hold: bool = False
    insecure_registries: tuple[str, ...] = ()  # HOST[:PORT] reached over plain HTTP (loopback, labs)
    registry_checked: bool = False  # the digest was already resolved or verified by this command
    verify: bool = True  # a digest is checked to exist in its registry (False: --no-verify)
    scan_report: str | None = None  # a Trivy JSON report of the image, instead of asking the registry
    registry_version: str | None = None  # a ModelVersion in the model registry whose artifact is the image (image: '')
    registered: RegisteredVersion | None = None  # that version, once looked up (the commit's Registered-Model: trailers)
    canary: int | None = None  # a modelcar's canaryTrafficPercent (1-99); 100: the canary finished (promote.canary)
    wave: str | None = None  # 'next' or N: only that wave of a stage with waves (--wave)
    all_waves: bool = False  # a stage with waves takes the whole selection at once (--all-waves)
    member_only: bool = False  # a member of a release moved alone (--member-only); else refused


@dataclass(frozen=True)
class RollbackRequest:
    model: str
    selectors: tuple[str, ...]
    to: str | None = None  # a version or digest the site ran before; default: undo the latest promotion
    message: str = ""
    reason: str = ""  # why (a failed check): the Reason: trailer, and the hold's reason
    verify: bool = True  # the digest gone back to is checked to still exist in its registry
    insecure_registries: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReleaseHoldRequest:
    model: str
    selectors: tuple[str, ...]
    digest: str | None = None


@dataclass(frozen=True)
class Publish:
    """Where a commit goes: the checkout (default), the remote's branch (push), or a new branch.
    Checked once, where it is made: bad options are bad input before anything else is read."""

    push: bool = False
    remote: str | None = None
    target_branch: str | None = None
    branch: str | None = None  # pull-request mode: commit on this new branch
    dry_run: bool = False
    open_pr: bool = False  # push the branch and open (or update) its pull request on the forge
    labels: tuple[str, ...] = ()  # the pull request's labels, besides the config's forge.labels

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> Publish:
        if self.open_pr and not self.branch:
            raise InputError("--open-pr needs --branch BRANCH: the branch the pull request proposes")
        if self.labels and not self.open_pr:
            raise InputError("--label needs --open-pr: labels go on the pull request")
        if self.branch is not None:
            check_branch(self.branch, "--branch")
        if self.target_branch is not None:
            check_branch(self.target_branch, "--target-branch")
        if self.remote is not None:
            check_remote(self.remote, "--remote")
        return self

    def check_for(self, hydrated_branch: str | None) -> Publish:
        """Also refuse a branch that is the config's hydrated branch (the tool's own)."""
        reserved = (hydrated_branch,) if hydrated_branch else ()
        for name, what in ((self.branch, "--branch"), (self.target_branch, "--target-branch")):
            if name is not None:
                check_branch(name, what, reserved)
        return self
