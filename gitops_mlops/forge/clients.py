"""Pull requests on forges: GitHub, GitLab (merge requests) and Gitea/Forgejo, by their REST APIs.

Which forge, its API base and the repository come from ``forge: {type, url, repository,
tokenEnv}`` in the config, each defaulting from the remote's URL: github.com is GitHub
(``https://api.github.com``), a host with "gitlab" in its name is GitLab (``/api/v4``); any
other host needs ``forge.type`` (a GitHub Enterprise host gets ``/api/v3``, Gitea ``/api/v1``).
The token is read from ``forge.tokenEnv``, else GITOPS_MLOPS_FORGE_TOKEN, else the forge's
usual variable (GITHUB_TOKEN, GITLAB_TOKEN, GITEA_TOKEN); it goes in a header and nowhere else.

``check`` asks for the repository before anything is pushed, so a wrong token (401) or a wrong
repository (404) fails first; ``open`` opens the pull request for a branch, or updates the one
already open for it (title, body, labels).
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from dataclasses import dataclass

from gitops_mlops.config.services import FORGE_TYPES, ForgeSpec
from gitops_mlops.core import httpclient
from gitops_mlops.core.errors import GitError, InputError

TOKEN_ENV = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN", "gitea": "GITEA_TOKEN"}
API_PATH = {"github": "/api/v3", "gitlab": "/api/v4", "gitea": "/api/v1"}
TIMEOUT = 30


@dataclass(frozen=True)
class Target:
    """A resolved forge: its kind, API base URL, repository (owner/name) and the variable holding the token."""

    type: str
    api: str
    repository: str
    token_env: str


@dataclass(frozen=True)
class PullRequest:
    url: str  # the page a reviewer opens
    number: int
    created: bool  # False: the one already open for the branch was updated


def split_remote(url: str) -> tuple[str, str, str]:
    """(scheme, host[:port], owner/name) of a git remote URL (https, ssh or scp-like); credentials dropped."""
    scp = re.match(r"^(?:[^@/]+@)?([^:/]+):(?!//)(.+)$", url)
    if scp and "://" not in url:
        scheme, host, path = "https", scp.group(1), scp.group(2)
    else:
        parts = urllib.parse.urlsplit(url)
        if not parts.hostname:
            raise InputError(f"remote URL {_safe(url)!r} names no host: set forge.url and forge.repository")
        scheme = parts.scheme if parts.scheme in ("http", "https") else "https"
        host = parts.hostname + (f":{parts.port}" if parts.port and parts.scheme in ("http", "https") else "")
        path = parts.path
    return scheme, host, path.strip("/").removesuffix(".git")


def resolve(spec: ForgeSpec | None, remote_url: str | None) -> Target:
    """The forge to ask, from the config and the remote's URL."""
    spec = spec or ForgeSpec()
    scheme = host = path = ""
    if remote_url and not (spec.type and spec.url and spec.repository):
        scheme, host, path = split_remote(remote_url)
    kind = "gitea" if spec.type == "forgejo" else spec.type
    if not kind:
        if host == "github.com":
            kind = "github"
        elif "gitlab" in host:
            kind = "gitlab"
        else:
            where = f"remote URL host {host!r}" if host else "no remote URL"
            raise InputError(f"cannot tell which forge serves {where}: set forge.type to one of {', '.join(FORGE_TYPES)}")
    api = spec.url or ("https://api.github.com" if host == "github.com" else f"{scheme}://{host}{API_PATH[kind]}" if host else "")
    repository = spec.repository or path
    if not api:
        raise InputError("forge.url is not set and there is no remote URL to derive the API base from")
    if not repository or (kind != "gitlab" and repository.count("/") != 1):
        raise InputError(f"forge.repository {repository!r} is not owner/name: set forge.repository")
    return Target(kind, api.rstrip("/"), repository, spec.token_env)


def token_names(target: Target) -> list[str]:
    return [target.token_env] if target.token_env else ["GITOPS_MLOPS_FORGE_TOKEN", TOKEN_ENV[target.type]]


def token(target: Target) -> str:
    names = token_names(target)
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    raise InputError(f"no token for {target.type} in {' or '.join(names)}: set it to a token that may open pull requests")


class Api:
    """JSON over HTTPS with the forge's auth header; every failure is one line naming the forge and the cause.

    The token goes to the API's origin only: a redirect to another origin is refused (exit 5)."""

    def __init__(self, target: Target, secret: str) -> None:
        self.target = target
        self.headers = {"Accept": "application/json", "User-Agent": "gitops-mlops"}
        if target.type == "github":
            self.headers |= {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
            self.secret = {"Authorization": f"Bearer {secret}"}
        elif target.type == "gitlab":
            self.secret = {"PRIVATE-TOKEN": secret}
        else:
            self.secret = {"Authorization": f"token {secret}"}

    def call(self, method: str, path: str, body: dict | None = None, query: dict | None = None, need: dict | list | None = None):
        """The answer's JSON; ``need``: the fields (``{"number": int}``) an object answer must have, or
        ``[fields]`` for a list of such objects (no answer: an empty list)."""
        url = self.target.api + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        headers = self.headers | ({"Content-Type": "application/json"} if data is not None else {})
        what = f"{self.target.type} {method} {httpclient.redact_url(self.target.api + path)}"
        try:
            response = httpclient.send(method, url, headers=headers, secret=self.secret, body=data, timeout=TIMEOUT)
        except httpclient.HttpFailure as exc:
            raise GitError(f"{what}: {exc}") from None
        if response.status >= 300:
            raise GitError(f"{what}: {response.status} {_cause(response.status, response.body, self.target)}")
        try:
            answer = json.loads(response.body) if response.body.strip() else None
        except (ValueError, RecursionError):
            raise GitError(f"{what}: the answer is not JSON") from None
        return answer if need is None else _checked(answer, need, what)


def _checked(answer, need: dict | list, what: str):
    """``answer`` when it has the fields ``need`` names, each of its type; else a GitError naming the first missing."""
    if isinstance(need, list):
        answer = [] if answer is None else answer
        if not isinstance(answer, list):
            raise GitError(f"{what}: the answer is not a list")
        return [_checked(item, need[0], what) for item in answer]
    for key, kind in need.items():
        value = answer
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise GitError(f"{what}: the answer has no {key} ({kind.__name__}); not the forge's API, or it changed")
    return answer


def _cause(status: int, body: bytes, target: Target) -> str:
    try:
        detail = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        detail = {}
    if not isinstance(detail, dict):
        detail = {}
    message = detail.get("message") or detail.get("error") or ""
    if isinstance(message, (dict, list)):
        message = json.dumps(message, sort_keys=True)
    message = str(message)
    errors = detail.get("errors")
    if isinstance(errors, list) and errors:
        first = errors[0]
        message += ": " + (first.get("message") or first.get("code") or json.dumps(first)) if isinstance(first, dict) else f": {first}"
    hint = {
        401: f"the token was refused (check {target.token_env or ' or '.join(token_names(target))})",
        403: "the token may not do this",
        404: f"no repository {target.repository} (or the token cannot see it)",
        422: "the forge refused the request",
    }.get(status, "")
    text = f"{hint}: {message}" if message else hint
    return " ".join(str(text).split())[:300]


def _safe(url: str) -> str:
    return httpclient.redact_url(url)


# ------------------------------------------------------------------ the three forges

PULL = {"number": int, "html_url": str}  # what the tool reads of a pull request (GitHub, Gitea)
MERGE = {"iid": int, "web_url": str}  # of a GitLab merge request


class GitHub:
    def __init__(self, api: Api) -> None:
        self.api, self.repo = api, "/repos/" + api.target.repository

    def check(self, labels: tuple[str, ...] = ()) -> None:  # labels: GitHub makes the ones missing
        self.api.call("GET", self.repo)

    def open(self, head: str, base: str, title: str, body: str, labels: tuple[str, ...]) -> PullRequest:
        owner = self.api.target.repository.split("/")[0]
        query = {"state": "open", "head": f"{owner}:{head}", "base": base}
        found = self.api.call("GET", self.repo + "/pulls", query=query, need=[{"number": int}])
        if found:
            pr = self.api.call("PATCH", f"{self.repo}/pulls/{found[0]['number']}", {"title": title, "body": body}, need=PULL)
        else:
            pr = self.api.call("POST", self.repo + "/pulls", {"title": title, "head": head, "base": base, "body": body}, need=PULL)
        if labels:
            self.api.call("POST", f"{self.repo}/issues/{pr['number']}/labels", {"labels": list(labels)})
        return PullRequest(pr["html_url"], pr["number"], created=not found)


class GitLab:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.project = "/projects/" + urllib.parse.quote(api.target.repository, safe="")

    def check(self, labels: tuple[str, ...] = ()) -> None:  # labels: GitLab makes the ones missing
        self.api.call("GET", self.project)

    def open(self, head: str, base: str, title: str, body: str, labels: tuple[str, ...]) -> PullRequest:
        query = {"state": "opened", "source_branch": head, "target_branch": base}
        found = self.api.call("GET", self.project + "/merge_requests", query=query, need=[{"iid": int}])
        fields = {"title": title, "description": body}
        if found:
            mr = self.api.call(
                "PUT", f"{self.project}/merge_requests/{found[0]['iid']}", fields | ({"add_labels": ",".join(labels)} if labels else {}), need=MERGE
            )
        else:
            fields |= {"source_branch": head, "target_branch": base, "remove_source_branch": True}
            mr = self.api.call("POST", self.project + "/merge_requests", fields | ({"labels": ",".join(labels)} if labels else {}), need=MERGE)
        return PullRequest(mr["web_url"], mr["iid"], created=not found)


class Gitea:
    def __init__(self, api: Api) -> None:
        self.api, self.repo = api, "/repos/" + api.target.repository
        self.label_ids: list[int] = []
        self.labels: tuple[str, ...] = ()

    def check(self, labels: tuple[str, ...] = ()) -> None:
        self.api.call("GET", self.repo)
        if labels:  # Gitea takes label ids: the names must exist in the repository
            known = {item["name"]: item["id"] for item in self._pages(self.repo + "/labels", need={"name": str, "id": int})}
            missing = [name for name in labels if name not in known]
            if missing:
                raise InputError(f"gitea repository {self.api.target.repository} has no label {missing[0]!r}: create it or drop it from the labels")
            self.labels, self.label_ids = labels, [known[name] for name in labels]

    def open(self, head: str, base: str, title: str, body: str, labels: tuple[str, ...]) -> PullRequest:
        if labels and labels != self.labels:
            self.check(labels)
        pulls = self._pages(self.repo + "/pulls", {"state": "open"}, need={"number": int, "head.ref": str, "base.ref": str})
        found = [p for p in pulls if p["head"]["ref"] == head and p["base"]["ref"] == base]
        if found:
            pr = self.api.call("PATCH", f"{self.repo}/pulls/{found[0]['number']}", {"title": title, "body": body}, need=PULL)
            if self.label_ids:
                self.api.call("POST", f"{self.repo}/issues/{pr['number']}/labels", {"labels": self.label_ids})
        else:
            pr = self.api.call("POST", self.repo + "/pulls", {"title": title, "head": head, "base": base, "body": body, "labels": self.label_ids}, need=PULL)
        return PullRequest(pr["html_url"], pr["number"], created=not found)

    def _pages(self, path: str, query: dict | None = None, need: dict | None = None) -> list[dict]:
        items: list[dict] = []
        for page in range(1, 101):
            chunk = self.api.call("GET", path, query={**(query or {}), "page": page, "limit": 50}, need=[need or {}])
            items += chunk
            if len(chunk) < 50:
                break
        return items


def connect(spec: ForgeSpec | None, remote_url: str | None, labels: tuple[str, ...] = ()):
    """The forge client for this repository, after asking the forge for the repository (and Gitea's labels)."""
    target = resolve(spec, remote_url)
    api = Api(target, token(target))
    forge = {"github": GitHub, "gitlab": GitLab, "gitea": Gitea}[target.type](api)
    forge.check(labels)
    return forge
