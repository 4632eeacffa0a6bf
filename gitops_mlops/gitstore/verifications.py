"""Verifications recorded in Git: which digest, which site, which checks, the verdict, values, when.

They live on their own branch (``gitops-mlops/verifications``), one JSON line per site and
verification in ``<model>.jsonl``, written without touching the work tree and pushed with the
usual retries, so Argo CD never sees them and a fresh clone has them (``origin/...``).

Only records the tool wrote count: a commit of the tool appends lines to each file it
touches and names, in one ``Records: FILE sha256:HEX`` trailer per file, the hash of the
lines it appended. Lines that came any other way (a commit by hand, an edit of earlier
lines, a commit whose trailer does not match what it added) are never read, and
``check`` lists the commits that made them. This recognises the tool's commits, it does
not authenticate them: whoever can push to the branch can write a commit of the same
shape, so the branch's push rights are the trust boundary of ``requireVerified``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from gitops_mlops.config.load import Config
from gitops_mlops.core import settings
from gitops_mlops.core.errors import GitError, PushRejected
from gitops_mlops.core.names import VERIFICATIONS_BRANCH
from gitops_mlops.gitstore.repo import GitRepo

BRANCH = VERIFICATIONS_BRANCH
RECORDS = "Records"  # the trailer of the tool's commits: "FILE sha256:HEX" of the lines appended to FILE


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
    """Every verification of the model the tool recorded, oldest first."""
    out = []
    for data in read_lines(git, config, f"{model}.jsonl", fetch):
        try:
            found = Verification(**{**data, "checks": tuple(data.get("checks") or ())})
        except TypeError:
            continue  # a line this version does not read is skipped, never trusted
        if _well_typed(found):
            out.append(found)
    return out


def _well_typed(found: Verification) -> bool:
    """Every field of the type the tool writes (a commit of the tool's shape may carry any JSON)."""
    texts = (found.model, found.site, found.stage, found.digest, found.version, found.verdict, found.at, found.source)
    return all(isinstance(t, str) for t in texts) and all(isinstance(c, dict) for c in found.checks)


def latest(records: list[Verification]) -> dict[str, Verification]:
    """The newest verification of each site."""
    return {r.site: r for r in records}


def record(git: GitRepo, config: Config, model: str, records: list[Verification], push: bool) -> tuple[str, bool]:
    """Append the records as one commit on the verifications branch; push it (re-applied on a moved
    remote, up to the usual attempts). The commit's sha, and whether it was pushed."""
    message = f"verify {model}: {len(records)} site(s)\n\n" + "".join(f"{r.site}: {r.verdict} {r.digest}\n" for r in records)
    return append(git, config, {f"{model}.jsonl": [r.as_json() for r in records]}, message, push)


def read_lines(git: GitRepo, config: Config, file: str, fetch: bool = False) -> list[dict]:
    """The JSON lines of ``file`` the tool's own commits appended, oldest first."""
    sha = _tip(git, config, fetch)
    out = []
    for line in tool_lines(git, sha, file)[0] if sha else ():
        try:
            out.append(json.loads(line))
        except (ValueError, RecursionError):
            continue
    return [row for row in out if isinstance(row, dict)]


def tool_lines(git: GitRepo, tip: str, file: str) -> tuple[list[str], list[str]]:
    """The lines of ``file`` appended by the tool's commits on the branch up to ``tip`` (oldest first),
    and the commits that changed it otherwise (their lines are not among the first)."""
    commits = git.log_trailers(tip, paths=[file], first_parent=True)[::-1]
    blobs = git.show_objects([f"{c.sha}{rev}:{file}" for c in commits for rev in ("", "^")])
    lines, by_hand = [], []
    for commit in commits:
        after, before = blobs.get(f"{commit.sha}:{file}", ""), blobs.get(f"{commit.sha}^:{file}", "")
        added = after[len(before) :] if after.startswith(before) else None
        claimed = [value for key, value in commit.trailers if key == RECORDS and value.split(" ", 1)[0] == file]
        if added is not None and claimed == [_claim(file, added)]:
            lines += added.splitlines()
        else:
            by_hand.append(commit.sha)
    return lines, by_hand


def hand_made(git: GitRepo, config: Config, fetch: bool = False) -> list[str]:
    """One line per commit on the branch that changed a file of records without being the tool's."""
    sha = _tip(git, config, fetch)
    files = [f for f in git.run("ls-tree", "--name-only", sha).splitlines() if f.endswith(".jsonl")] if sha else []
    return [
        f"{BRANCH}: commit {commit[:12]} changed {file} but was not made by gitops-mlops; its records are ignored"
        for file in files
        for commit in tool_lines(git, sha, file)[1]
    ]


def _claim(file: str, added: str) -> str:
    return f"{file} sha256:{hashlib.sha256(added.encode()).hexdigest()}"


def append(git: GitRepo, config: Config, additions: dict[str, list[dict]], message: str, push: bool) -> tuple[str, bool]:
    """Append JSON lines to files of the verifications branch in one commit, pushed with retries."""
    pushing = push and git.has_remote(config.remote)
    attempts = settings.push_attempts() if pushing else 1
    for attempt in range(attempts):
        parent = _tip(git, config, fetch=pushing)
        files, claims = {}, []
        for file, rows in additions.items():
            before = git.show_file(parent, file) if parent else None
            added = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
            files[file] = (before or "").encode() + added.encode()
            claims.append(f"{RECORDS}: {_claim(file, added)}\n")
        sha = git.commit_tree(parent, files, f"{message.rstrip()}\n\n{''.join(claims)}")
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
