"""What a failed check does: roll the failed sites back (``action: rollback``) or send a retraining
trigger (``action: retrain``).

A rollback is one commit for every site whose check failed, with a ``Reason:`` trailer naming
check, values and condition; the rolled-back digest goes on hold; it is pushed with the usual
retries. A site is rolled back only when its newest record is the promotion of the digest that
failed: at most once per failing digest, and never past the digest it ran before that promotion.

A trigger is an HTTP POST of JSON (model, version, digest, sites, check, values, condition,
commit) signed with HMAC-SHA256 of the body (header ``X-Hub-Signature-256: sha256=…``, as
GitHub sends and Tekton's interceptors verify) from the secret in the variable the config
names, with an ``Idempotency-Key`` that is the same for the same (model, digest, check,
sites); sent keys are recorded on the verifications branch, so a run that is repeated sends
nothing twice. It is retried with backoff and always comes after the rollbacks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gitops_mlops.change.intents import Publish, RollbackRequest
from gitops_mlops.config.load import load_config
from gitops_mlops.core import httpclient
from gitops_mlops.core.errors import InputError, MonitoringError
from gitops_mlops.gitstore import verifications
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.loop.verify import VerifyReport
from gitops_mlops.promote.rollback import rollback
from gitops_mlops.views.history import read_history

TRIGGERS = "triggers.jsonl"
ATTEMPTS = 3


@dataclass(frozen=True)
class Acted:
    rolled_back: tuple[str, ...] = ()
    commit: str | None = None
    pushed: bool = False
    not_rolled_back: tuple[str, ...] = ()  # 'site: why'
    triggered: tuple[str, ...] = ()  # the idempotency keys sent
    already_triggered: tuple[str, ...] = ()


def act(repo_dir: Path, report: VerifyReport, push: bool = False, sleep: Callable[[float], None] = time.sleep) -> Acted:
    repo_dir = Path(repo_dir).resolve()
    config = load_config(repo_dir)
    model = config.model(report.model)
    failing = [(s, c) for s in report.sites for c in s.checks if c.verdict == "failed"]
    to_roll = {s.site: (s, c) for s, c in failing if c.action == "rollback"}
    rolled, skipped, commit, pushed = [], [], None, False
    if to_roll:
        newest = _newest_records(repo_dir, model.name, set(to_roll))
        for site, (result, _) in to_roll.items():
            entry = newest.get(site)
            if entry is None or entry.action != "promote" or entry.digest != result.digest:
                skipped.append(f"{site}: {result.digest[:19]} is not what its latest promotion brought; not rolled back")
            else:
                rolled.append(site)
    if rolled:
        first_site, (result, check) = rolled[0], to_roll[rolled[0]]
        more = f" (and {len(rolled) - 1} more sites)" if len(rolled) > 1 else ""
        reason = f"check {check.check} failed at {first_site}{more}: values {list(check.values)}, condition {check.condition}"
        outcome = rollback(repo_dir, RollbackRequest(model.name, tuple(rolled), reason=reason, verify=False), Publish(push=push))
        commit, pushed = outcome.commit, outcome.pushed
    sent, already = _triggers(repo_dir, config, report, [(s, c) for s, c in failing if c.action == "retrain"], commit, push, sleep)
    return Acted(tuple(rolled), commit, pushed, tuple(skipped), sent, already)


def _newest_records(repo_dir: Path, model: str, sites: set[str]):
    newest = {}
    try:
        entries = read_history(repo_dir, model)
    except InputError:  # no history at all
        return newest
    for entry in entries:  # newest first
        for site in entry.sites:
            if site in sites and site not in newest:
                newest[site] = entry
    return newest


def _triggers(repo_dir, config, report: VerifyReport, failing, commit, push, sleep) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not failing:
        return (), ()
    model = config.model(report.model)
    target = config.retrain_for(model)
    if target is None:
        raise InputError(f"model {model.name}: a failed 'retrain' check needs retrain.url in the config (top level or the model's)")
    groups: dict[tuple[str, str], list] = {}
    for site, check in failing:
        groups.setdefault((check.check, site.digest), []).append((site, check))
    git = GitRepo(repo_dir)
    done = {row.get("key") for row in verifications.read_lines(git, config, TRIGGERS, fetch=push and git.has_remote(config.remote))}
    sent, already, rows = [], [], []
    for (check_name, digest), members in groups.items():
        sites = sorted(s.site for s, _ in members)
        key = hashlib.sha256("\0".join((model.name, digest, check_name, *sites)).encode()).hexdigest()[:32]
        if key in done:
            already.append(key)
            continue
        first_site, first_check = members[0]
        payload = {
            "model": model.name,
            "version": first_site.version,
            "digest": digest,
            "sites": sites,
            "check": check_name,
            "values": {s.site: [v if v == v else "NaN" for v in c.values] for s, c in members},
            "condition": first_check.condition,
            "commit": commit or git.head() or "",
            "idempotencyKey": key,
        }
        _post(target, payload, key, sleep)
        sent.append(key)
        rows.append({"key": key, "model": model.name, "digest": digest, "check": check_name, "sites": sites, "url": _shown(target.url)})
    if rows:
        verifications.append(git, config, {TRIGGERS: rows}, f"retrain {model.name}: {len(rows)} trigger(s) sent", push)
    return tuple(sent), tuple(already)


def _shown(url: str) -> str:
    return httpclient.redact_url(url).split("?")[0].replace("***@", "")


def _post(target, payload: dict, key: str, sleep) -> None:
    body = json.dumps(payload, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key, "User-Agent": "gitops-mlops"}
    if target.secret_env:
        secret = os.environ.get(target.secret_env, "")
        if not secret:
            raise InputError(f"retrain: secretEnv names {target.secret_env}, which is not set")
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    where = _shown(target.url)
    cause = ""
    for attempt in range(ATTEMPTS):
        if attempt:
            sleep(0.5 * 2 ** (attempt - 1))
        try:  # the signature stays with the listener's origin: a redirect elsewhere is refused
            response = httpclient.send("POST", target.url, headers=headers, body=body, timeout=30, limit=1024 * 1024)
        except httpclient.HttpFailure as exc:
            cause = str(exc)
            if not exc.retryable:
                break
            continue
        if 200 <= response.status < 300:
            return
        cause = f"HTTP {response.status}"
        if response.status < 500 and response.status != 429:
            break  # the listener refused it: asking again will not help
    raise MonitoringError(f"retrain trigger {where}: {cause} (after {attempt + 1} attempt(s))")
