"""What a promotion, a rollback or a release-hold returns: its typed change set (what changed,
where, the commit and where it went), and the pull request's text written from it."""

from __future__ import annotations

from dataclasses import dataclass

from gitops_mlops.promote.plan import PinChange
from gitops_mlops.render.state import split_image


@dataclass(frozen=True)
class Result:
    action: str
    model: str
    version: str
    image: str
    digest: str
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]
    commit: str | None = None
    pushed: bool = False
    branch: str | None = None
    attempts: int = 0
    diff: str = ""
    changes: tuple[PinChange, ...] = ()
    pr_title: str = ""
    pr_body: str = ""
    pull_request: str = ""  # the pull request's URL, when --open-pr opened or updated one
    also: tuple[tuple[str, str], ...] = ()  # (sha, branch) pushed with the commit, atomically (the hydrated branch)
    timings: tuple[tuple[str, float], ...] = ()  # phase -> seconds, for benchmarks
    recovered: str = ""  # what was undone of an interrupted earlier run before this one
    notes: tuple[str, ...] = ()  # what the user is told on stderr (a tag resolved in the registry, a tag pinned offline)
    not_running: tuple[str, ...] = ()  # selected by a stage, group or glob, but the model does not live there
    wave: str = ""  # "N/M": the wave of its stage a promotion took ('' when its stage has no waves, or --all-waves)

    def as_json(self) -> dict:
        return {
            "action": self.action,
            "model": self.model,
            "version": self.version or None,
            "image": self.image or None,
            "digest": self.digest or None,
            "sites": list(self.changed),
            "unchanged": list(self.unchanged),
            "notRunning": list(self.not_running),
            "commit": self.commit,
            "pushed": self.pushed,
            "branch": self.branch if self.commit else None,  # where the commit is; nothing committed, no branch
            "pullRequestUrl": self.pull_request or None,
            "changes": [change_json(c) for c in self.changes],
            "wave": self.wave or None,
        }


def change_json(change: PinChange) -> dict:
    """One site's change in the shared vocabulary: what it rendered before and what it renders now."""
    old_version = (change.old.new_tag if change.old else None) or split_image(change.old_image)[1] or None
    old_digest = split_image(change.old_image)[2] or (change.old.digest if change.old else "") or None
    return {
        "site": change.site,
        "stage": change.stage,
        "from": {"version": old_version, "digest": old_digest, "image": change.old_image or None},
        "to": {"version": change.new_version or None, "digest": change.new_digest, "image": change.new_image or None},
    }


def together_text(results: list[Result], base: str, branch: str) -> tuple[str, str]:
    """One pull request's title and body for several promotions (``update``): a section per promotion."""
    made = [r for r in results if r.commit]
    if len(made) == 1:
        return pull_request_text(made[0], base, branch)
    title = "Update " + ", ".join(f"{r.model} {r.version}" for r in made)
    sections = [f"### {_title(r)}\n\n{_summary(r)}" for r in made]
    return title, "\n\n".join([*sections, _review(base, branch)])


def pull_request_text(result: Result, base: str, branch: str) -> tuple[str, str]:
    """A pull request's title and markdown body for one promotion or rollback."""
    return _title(result), f"{_summary(result)}\n\n{_review(base, branch)}"


def _title(result: Result) -> str:
    sites = result.changed
    verb = "Roll back" if result.action == "rollback" else "Promote"
    return f"{verb} {result.model} {result.version} to {sites[0] if len(sites) == 1 else f'{len(sites)} sites'}"


def _summary(result: Result) -> str:
    """What it pins, and a row per site: version and digest before and after."""
    verb = "Rolls back" if result.action == "rollback" else "Promotes"
    rows = ["| site | version | digest |", "| --- | --- | --- |"]
    for change in result.changes:
        old = change.old
        old_version = (old.new_tag if old else None) or "-"
        old_digest = old.digest[:19] if old and old.digest else "-"
        rows.append(f"| {change.site} | {old_version} → {change.new_version or '-'} | `{old_digest}` → `{change.new_digest[:19]}` |")
    return "\n".join([f"{verb} **{result.model}** to `{result.image}`.", "", *rows])


def _review(base: str, branch: str) -> str:
    return f"Review the rendered change per site:\n\n    gitops-mlops diff --base {base} --head {branch} --markdown\n"
