"""Stand-ins for the forges the pull-request code talks to. No forge runs here, so these are
contract tests, and say so:

- GitHub: GitHub's published OpenAPI description (npm ``@octokit/openapi``), cut to the operations
  the tool calls, served by Prism (npm ``@stoplight/prism-cli``), which checks every request
  against the description and answers with the description's own examples. A small proxy in
  front records each request with Prism's verdict on it (``sl-violations``), answers 401 for a
  wrong token (GitHub's description lists no 401), and can make Prism answer with a documented
  status (``Prefer: code=N``) or an empty list.
- GitLab and Gitea/Forgejo: loopback servers written to their documented REST endpoints
  (merge requests in GitLab's API v4; pulls, labels and issue labels in Gitea's API v1), keeping
  state so a second run finds the pull request the first one opened.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from testing.loopback_http import LoopbackServer, QuietHandler

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TOOLS = PROJECT_ROOT / ".tools" / "github-contract"  # scripts/bootstrap.sh installs Prism and the description here
OPERATIONS = {
    "/repos/{owner}/{repo}": ["get"],
    "/repos/{owner}/{repo}/pulls": ["get", "post"],
    "/repos/{owner}/{repo}/pulls/{pull_number}": ["patch"],
    "/repos/{owner}/{repo}/issues/{issue_number}/labels": ["post"],
}


@dataclass
class Seen:
    method: str
    path: str  # with the query
    body: object
    headers: dict  # names in lower case
    violations: list = field(default_factory=list)  # Prism's findings about the request


class Recorder:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.fail: dict[tuple[str, str], int] = {}  # (method, path prefix) -> status to answer

    def forced(self, method: str, path: str) -> int | None:
        return next((code for (m, p), code in self.fail.items() if m == method and path.split("?")[0] == p), None)


def _handler(recorder: Recorder, respond):
    class Handler(QuietHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            seen = Seen(self.command, self.path, body, {k.lower(): v for k, v in self.headers.items()})
            recorder.seen.append(seen)
            status, payload = respond(self.command, self.path, seen, raw)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

    return Handler


# ------------------------------------------------------------------ GitHub: Prism over the published description


def github_tools() -> Path | None:
    """Where Prism and the description are installed, or None."""
    prism = TOOLS / "node_modules" / ".bin" / "prism"
    spec = TOOLS / "node_modules" / "@octokit" / "openapi" / "generated" / "api.github.com.json"
    return TOOLS if prism.exists() and spec.exists() and shutil.which("node") else None


def cut_description(target: Path) -> Path:
    """GitHub's description with only the operations the tool calls, and every component they reference."""
    spec = json.loads((TOOLS / "node_modules/@octokit/openapi/generated/api.github.com.json").read_text())
    paths = {p: {m: spec["paths"][p][m] for m in methods} for p, methods in OPERATIONS.items()}
    components, need, todo = spec["components"], set(), [paths]
    while todo:
        text = json.dumps(todo.pop())
        for ref in set(part.split('"', 1)[0] for part in text.split('"$ref": "#/components/')[1:]):
            if ref not in need:
                need.add(ref)
                kind, name = ref.split("/", 1)
                todo.append(components[kind][name.replace("~1", "/")])
    cut = {key: value for key, value in spec.items() if key not in ("paths", "components", "webhooks", "x-webhooks")}
    cut["paths"], cut["components"] = paths, {}
    for ref in need:
        kind, name = ref.split("/", 1)
        cut["components"].setdefault(kind, {})[name.replace("~1", "/")] = components[kind][name.replace("~1", "/")]
    target.write_text(json.dumps(cut))
    return target


class GitHubContract:
    """Prism on loopback serving the cut description, behind a recording proxy that checks the token."""

    def __init__(self, workdir: Path, token: str) -> None:
        from testing.registry_server import free_port

        self.token, self.recorder, self.empty_lists = token, Recorder(), False
        port = free_port()
        spec = cut_description(workdir / "github-api.json")
        self.log = (workdir / "prism.log").open("w")
        self.process = subprocess.Popen(
            [str(TOOLS / "node_modules/.bin/prism"), "mock", "--host", "127.0.0.1", "--port", str(port), str(spec)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
        )
        self.prism = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.prism + "/repos/o/r", timeout=2).read()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"prism did not start: see {workdir / 'prism.log'}") from None
                time.sleep(0.2)
        self.server = LoopbackServer(_handler(self.recorder, self._respond))
        self.url = f"http://{self.server.host}"

    def _respond(self, method: str, path: str, seen: Seen, raw: bytes):
        if seen.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}
        headers = {k: v for k, v in seen.headers.items() if k.lower() not in ("host", "content-length", "connection")}
        if headers.get("accept") == "application/vnd.github+json":  # GitHub's media type; the description models it as application/json
            headers["accept"] = "application/json"
        code = self.recorder.forced(method, path)
        if code:
            headers["prefer"] = f"code={code}"
        request = urllib.request.Request(self.prism + path, data=raw or None, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, answer, verdict = response.status, json.loads(response.read() or b"null"), response.headers.get("sl-violations")
        except urllib.error.HTTPError as exc:
            status, answer, verdict = exc.code, json.loads(exc.read() or b"null"), exc.headers.get("sl-violations")
        seen.violations = [v for v in json.loads(verdict or "[]") if v.get("location", [""])[0] == "request"]
        if self.empty_lists and method == "GET" and isinstance(answer, list):
            answer = []
        return status, answer

    def close(self) -> None:
        self.server.close()
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()


# ------------------------------------------------------------------ GitLab and Gitea: loopback servers


class GitLabServer:
    """GitLab's API v4 for one project: get project, list / create / update merge requests."""

    def __init__(self, project: str, token: str) -> None:
        self.project, self.token, self.recorder = project, token, Recorder()
        self.merge_requests: list[dict] = []
        self.server = LoopbackServer(_handler(self.recorder, self._respond))
        self.url = f"http://{self.server.host}/api/v4"

    def _respond(self, method: str, path: str, seen: Seen, raw: bytes):
        if seen.headers.get("private-token") != self.token:
            return 401, {"message": "401 Unauthorized"}
        forced = self.recorder.forced(method, path)
        if forced:
            return forced, {"message": {"base": ["Validation failed: forced by the test"]}}
        url = urllib.parse.urlsplit(path)
        query = dict(urllib.parse.parse_qsl(url.query))
        prefix = "/api/v4/projects/" + urllib.parse.quote(self.project, safe="")
        if not url.path.startswith(prefix):
            return 404, {"message": "404 Project Not Found"}
        rest = url.path[len(prefix) :]
        body = seen.body if isinstance(seen.body, dict) else {}
        if method == "GET" and rest == "":
            return 200, {"id": 7, "path_with_namespace": self.project, "default_branch": "main"}
        if method == "GET" and rest == "/merge_requests":
            keep = [
                mr
                for mr in self.merge_requests
                if mr["state"] == query.get("state", mr["state"])
                and mr["source_branch"] == query.get("source_branch", mr["source_branch"])
                and mr["target_branch"] == query.get("target_branch", mr["target_branch"])
            ]
            return 200, keep
        if method == "POST" and rest == "/merge_requests":
            missing = [key for key in ("source_branch", "target_branch", "title") if not body.get(key)]
            if missing:
                return 400, {"error": f"{missing[0]} is missing"}
            if any(mr["source_branch"] == body["source_branch"] and mr["state"] == "opened" for mr in self.merge_requests):
                return 409, {"message": ["Another open merge request already exists for this source branch"]}
            iid = len(self.merge_requests) + 1
            labels = [name for name in body.get("labels", "").split(",") if name]
            mr = {
                "iid": iid,
                "state": "opened",
                "web_url": f"http://gitlab.test/{self.project}/-/merge_requests/{iid}",
                "labels": labels,
                **{k: body.get(k) for k in ("title", "description", "source_branch", "target_branch")},
            }
            self.merge_requests.append(mr)
            return 201, mr
        if method == "PUT" and rest.startswith("/merge_requests/"):
            iid = int(rest.rsplit("/", 1)[1])
            mr = next((m for m in self.merge_requests if m["iid"] == iid), None)
            if mr is None:
                return 404, {"message": "404 Not found"}
            mr.update({k: body[k] for k in ("title", "description") if k in body})
            mr["labels"] = sorted(set(mr["labels"]) | {name for name in body.get("add_labels", "").split(",") if name})
            return 200, mr
        return 404, {"message": "404 Not Found"}

    def close(self) -> None:
        self.server.close()


class GiteaServer:
    """Gitea's (and Forgejo's) API v1 for one repository: repository, labels, pulls, issue labels."""

    def __init__(self, repository: str, token: str, labels: tuple[str, ...] = ("gitops",)) -> None:
        self.repository, self.token, self.recorder = repository, token, Recorder()
        self.labels = [{"id": 10 + i, "name": name} for i, name in enumerate(labels)]
        self.pulls: list[dict] = []
        self.server = LoopbackServer(_handler(self.recorder, self._respond))
        self.url = f"http://{self.server.host}/api/v1"

    def _respond(self, method: str, path: str, seen: Seen, raw: bytes):
        if seen.headers.get("authorization") != f"token {self.token}":
            return 401, {"message": "user does not exist", "url": "http://gitea.test/api/swagger"}
        forced = self.recorder.forced(method, path)
        if forced:
            return forced, {"message": "forced by the test", "url": "http://gitea.test/api/swagger"}
        url = urllib.parse.urlsplit(path)
        query = dict(urllib.parse.parse_qsl(url.query))
        prefix = f"/api/v1/repos/{self.repository}"
        if not url.path.startswith(prefix):
            return 404, {"message": "The target couldn't be found.", "url": "http://gitea.test/api/swagger", "errors": []}
        rest = url.path[len(prefix) :]
        body = seen.body if isinstance(seen.body, dict) else {}
        page, limit = int(query.get("page", 1)), int(query.get("limit", 30))
        if method == "GET" and rest == "":
            return 200, {"id": 3, "full_name": self.repository, "default_branch": "main"}
        if method == "GET" and rest == "/labels":
            return 200, self.labels[(page - 1) * limit : page * limit]
        if method == "GET" and rest == "/pulls":
            keep = [p for p in self.pulls if query.get("state", "open") in ("all", p["state"])]
            return 200, keep[(page - 1) * limit : page * limit]
        if method == "POST" and rest == "/pulls":
            if not all(body.get(k) for k in ("head", "base", "title")):
                return 422, {"message": "head, base and title are required", "url": "http://gitea.test/api/swagger"}
            if any(p["head"]["ref"] == body["head"] and p["state"] == "open" for p in self.pulls):
                return 409, {"message": "pull request already exists for these targets", "url": "http://gitea.test/api/swagger"}
            number = len(self.pulls) + 1
            pull = {
                "number": number,
                "state": "open",
                "html_url": f"http://gitea.test/{self.repository}/pulls/{number}",
                "title": body["title"],
                "body": body.get("body", ""),
                "head": {"ref": body["head"]},
                "base": {"ref": body["base"]},
                "labels": [label for label in self.labels if label["id"] in body.get("labels", [])],
            }
            self.pulls.append(pull)
            return 201, pull
        if method == "PATCH" and rest.startswith("/pulls/"):
            pull = next((p for p in self.pulls if p["number"] == int(rest.rsplit("/", 1)[1])), None)
            if pull is None:
                return 404, {"message": "pull request does not exist", "url": "http://gitea.test/api/swagger"}
            pull.update({k: body[k] for k in ("title", "body") if k in body})
            return 201, pull
        if method == "POST" and rest.startswith("/issues/") and rest.endswith("/labels"):
            pull = next((p for p in self.pulls if p["number"] == int(rest.split("/")[2])), None)
            if pull is None:
                return 404, {"message": "issue does not exist", "url": "http://gitea.test/api/swagger"}
            ids = {label["id"] for label in pull["labels"]} | set(body.get("labels", []))
            pull["labels"] = [label for label in self.labels if label["id"] in ids]
            return 200, pull["labels"]
        return 404, {"message": "not found", "url": "http://gitea.test/api/swagger"}

    def close(self) -> None:
        self.server.close()
