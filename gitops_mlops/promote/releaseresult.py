"""What a release's promotion or rollback asks for and returns: the request, one result per member
moved and the commit they share, and the pull request's text written from it."""

from __future__ import annotations

from dataclasses import dataclass, field

from gitops_mlops.change.intents import PromoteRequest
from gitops_mlops.config.load import Config
from gitops_mlops.config.releases import Release
from gitops_mlops.core.errors import InputError
from gitops_mlops.promote.result import Result


@dataclass(frozen=True)
class ReleaseRequest:
    release: str
    members: tuple[tuple[str, str], ...]  # (model, image) for each member named; the others keep what they run
    selectors: tuple[str, ...]
    message: str = ""
    force_order: bool = False
    allow_downgrade: bool = False
    force_hold: bool = False
    insecure_registries: tuple[str, ...] = ()
    verify: bool = True
    all_waves: bool = False  # a stage with waves takes the whole selection at once; else a staged stage is refused
    labels: dict[str, dict[str, str]] | None = field(default=None, compare=False, repr=False)  # image digest -> labels already read this command

    def member_requests(self) -> list[PromoteRequest]:
        extra = dict(
            force_order=self.force_order, allow_downgrade=self.allow_downgrade, force_hold=self.force_hold, verify=self.verify, all_waves=self.all_waves
        )
        return [PromoteRequest(m, image, self.selectors, insecure_registries=self.insecure_registries, member_only=True, **extra) for m, image in self.members]


@dataclass(frozen=True)
class ReleaseResult:
    release: str
    members: tuple[Result, ...]  # one per member named (moved, for a rollback), in the release's order
    commit: str | None = None
    pushed: bool = False
    branch: str | None = None
    attempts: int = 0
    diff: str = ""
    also: tuple[tuple[str, str], ...] = ()
    pr_title: str = ""
    pr_body: str = ""
    pull_request: str = ""
    recovered: str = ""
    timings: tuple[tuple[str, float], ...] = ()  # phase -> seconds, for benchmarks
    notes: tuple[str, ...] = ()  # what the user is told on stderr (an image label not read)

    @property
    def changed(self) -> tuple[str, ...]:
        return tuple(sorted({site for r in self.members for site in r.changed}))

    @property
    def action(self) -> str:
        return self.members[0].action if self.members else "promote"

    def as_json(self) -> dict:
        return {
            "action": self.action,
            "release": self.release,
            "sites": list(self.changed),
            "commit": self.commit,
            "pushed": self.pushed,
            "branch": self.branch if self.commit else None,
            "pullRequestUrl": self.pull_request or None,
            "members": [{**r.as_json(), "commit": self.commit if r.changed else None, "pushed": self.pushed and bool(r.changed)} for r in self.members],
        }


def parse_members(items: list[str] | tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``MEMBER=IMAGE`` arguments as (model, image) pairs; a malformed one or a member named twice is bad input."""
    out: list[tuple[str, str]] = []
    for item in items:
        model, sep, image = item.partition("=")
        if not sep or not model or not image:
            raise InputError(f"{item!r}: name each member as MEMBER=IMAGE (e.g. fraud-detector=quay.io/example/fraud-detector:1.5.0)")
        if any(m == model for m, _ in out):
            raise InputError(f"member {model!r} is named twice")
        out.append((model, image))
    if not out:
        raise InputError("promote --release needs at least one MEMBER=IMAGE")
    return tuple(out)


def check_members(config: Config, request: ReleaseRequest) -> Release:
    """The release exists and every member named belongs to it, once (bad input, before anything else)."""
    release = config.release(request.release)
    parse_members([f"{m}={image}" for m, image in request.members])
    for model, _ in request.members:
        config.model(model)
        if model not in release.members:
            raise InputError(f"model {model!r} is not a member of release {release.name!r} (members: {', '.join(release.members)})")
    return release


def release_text(result: ReleaseResult, base: str, branch: str) -> tuple[str, str]:
    """A pull request's title and body: a row per member and site."""
    moved = [r for r in result.members if r.changed]
    verb = "Roll back" if result.action == "rollback" else "Promote"
    title = f"{verb} release {result.release}: " + ", ".join(f"{r.model} {r.version}" for r in moved)
    rows = ["| member | site | version | digest |", "| --- | --- | --- | --- |"]
    for r in moved:
        rows += [f"| {r.model} | {c.site} | {(c.old.new_tag if c.old else None) or '-'} → {c.new_version or '-'} | `{c.new_digest[:19]}` |" for c in r.changes]
    review = f"Review the rendered change per site:\n\n    gitops-mlops diff --base {base} --head {branch} --markdown\n"
    did = "Rolls back" if result.action == "rollback" else "Promotes"
    return title, "\n".join([f"{did} release **{result.release}** together, in one commit.", "", *rows, "", review])
