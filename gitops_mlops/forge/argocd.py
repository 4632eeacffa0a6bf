"""Tell Argo CD at once: after a push, POST a GitHub push event to Argo CD's webhook endpoint
(``argocd: {webhook: https://argocd.example.com/api/webhook, secretEnv: NAME}``), so the sync starts
now rather than after the poll interval.

The event has the fields Argo CD reads: the ref, before and after, the repository's URL, and each
commit's added, modified and removed paths (which ``manifest-generate-paths`` filters on). It is
signed with the shared secret (``webhook.github.secret`` in Argo CD): ``X-Hub-Signature-256`` and,
for older Argo CD, ``X-Hub-Signature``. The push has happened by then: a webhook that fails is a
warning on stderr, never a failed promotion (Argo CD still polls).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys

from gitops_mlops.config.load import Config
from gitops_mlops.core import httpclient
from gitops_mlops.core.errors import GitOpsError
from gitops_mlops.gitstore.repo import GitRepo


def push_event(git: GitRepo, config: Config, before: str | None, after: str, branch: str) -> dict:
    shas = git.run("rev-list", "--reverse", f"{before}..{after}").split() if before else [after]
    commits = []
    for sha in shas:
        changes = git.run("diff-tree", "--no-commit-id", "--name-status", "-r", "--root", sha).splitlines()
        by = {"A": [], "M": [], "D": []}
        for line in changes:
            status, _, path = line.partition("\t")
            by.get(status[:1], by["M"]).append(path)
        commits.append({"id": sha, "added": by["A"], "modified": by["M"], "removed": by["D"]})
    url = config.repo_url
    name = url.rstrip("/").removesuffix(".git").rsplit("/", 1)[-1]
    return {
        "ref": f"refs/heads/{branch}",
        "before": before or "0" * 40,
        "after": after,
        "repository": {"html_url": url.removesuffix(".git"), "clone_url": url, "name": name, "default_branch": config.target_branch},
        "commits": commits,
        "head_commit": commits[-1] if commits else None,
    }


def notify(git: GitRepo, config: Config, before: str | None, after: str, branch: str) -> bool:
    """Send the push event when the config names a webhook; whether it was delivered."""
    hook = config.argocd
    if hook is None:
        return False
    try:
        body = json.dumps(push_event(git, config, before, after, branch), sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "X-GitHub-Event": "push", "User-Agent": "GitHub-Hookshot/gitops-mlops"}
        if hook.secret_env:
            secret = os.environ.get(hook.secret_env, "").encode()
            if not secret:
                raise GitOpsError(f"argocd.secretEnv names {hook.secret_env}, which is not set")
            headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature"] = "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest()
        # the signatures stay with Argo CD's origin: a redirect elsewhere is refused (a warning)
        response = httpclient.send("POST", hook.webhook, headers=headers, body=body, timeout=10, limit=1024 * 1024)
        if 200 <= response.status < 300:
            return True
        cause = f"HTTP {response.status}"
    except httpclient.HttpFailure as exc:
        cause = str(exc)
    except GitOpsError as exc:
        cause = str(exc)
    sys.stderr.write(
        f"warning: pushed, but Argo CD's webhook {httpclient.redact_url(hook.webhook)} was not told ({cause}); Argo CD will see it at its next poll\n"
    )
    return False
