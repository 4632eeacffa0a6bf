"""Verifications recorded in Git: which digest, which site, which checks, the verdict, values, when.

They live on their own branch (``gitops-mlops/verifications``), one JSON line per site and
verification in ``<model>.jsonl``, written without touching the work tree and pushed with the
usual retries, so Argo CD never sees them and a fresh clone has them (``origin/...``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from gitops_mlops import settings
from gitops_mlops.config import Config
from gitops_mlops.errors import GitError, PushRejected
from gitops_mlops.gitrepo import GitRepo
from gitops_mlops.names import VERIFICATIONS_BRANCH

BRANCH = VERIFICATIONS_BRANCH


@dataclass(frozen=True)
class Verification:
    model: str
    site: str
    stage: str
    digest: str
    version: str
    verdict: str  # successful | failed | inconclusive
    checks: tuple[dict, ...]  # {name, verdict, values, condition}
    at: str  # ISO 8601, UTC
    source: str = ""  # the commit the site's render was read at

    def as_json(self) -> dict:
        return {**asdict(self), "checks": list(self.checks)}  # read() reads it back with Verification(**line)


def _tip(git: GitRepo, config: Config, fetch: bool) -> str | None:
    return git.branch_tip(config.remote, BRANCH, fetch)


def read(git: GitRepo, config: Config, model: str, fetch: bool = False) -> list[Verification]:
    """Every recorded verification of the model, oldest first."""
    sha = _tip(git, config, fetch)
    text = git.show_file(sha, f"{model}.jsonl") if sha else None
    out = []
    for line in (text or "").splitlines():
        try:
            data = json.loads(line)
            out.append(Verification(**{**data, "checks": tuple(data.get("checks") or ())}))
        except (ValueError, TypeError):
            continue  # a line this version does not read is skipped, never trusted
    return out


def latest(records: list[Verification]) -> dict[str, Verification]:
    """The newest verification of each site."""
    return {r.site: r for r in records}


def record(git: GitRepo, config: Config, model: str, records: list[Verification], push: bool) -> tuple[str, bool]:
    """Append the records as one commit on the verifications branch; push it (re-applied on a moved
    remote, up to the usual attempts). The commit's sha, and whether it was pushed."""
    message = f"verify {model}: {len(records)} site(s)\n\n" + "".join(f"{r.site}: {r.verdict} {r.digest}\n" for r in records)
    return append(git, config, {f"{model}.jsonl": [r.as_json() for r in records]}, message, push)


def read_lines(git: GitRepo, config: Config, file: str, fetch: bool = False) -> list[dict]:
    sha = _tip(git, config, fetch)
    out = []
    for line in ((git.show_file(sha, file) if sha else None) or "").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def append(git: GitRepo, config: Config, additions: dict[str, list[dict]], message: str, push: bool) -> tuple[str, bool]:
    """Append JSON lines to files of the verifications branch in one commit, pushed with retries."""
    pushing = push and git.has_remote(config.remote)
    attempts = settings.push_attempts() if pushing else 1
    for attempt in range(attempts):
        parent = _tip(git, config, fetch=pushing)
        files = {}
        for file, rows in additions.items():
            before = git.show_file(parent, file) if parent else None
            files[file] = (before or "").encode() + "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows).encode()
        sha = git.commit_tree(parent, files, message)
        local = git.try_resolve(f"refs/heads/{BRANCH}")
        git.run("update-ref", f"refs/heads/{BRANCH}", sha, *([local] if local else []))
        if not pushing:
            return sha, False
        try:
            git.push(config.remote, sha, BRANCH)
            return sha, True
        except PushRejected:
            if attempt == attempts - 1:
                raise
    raise GitError("unreachable")  # pragma: no cover
