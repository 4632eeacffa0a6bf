"""A real git server on loopback: lighttpd running git's own ``git-http-backend`` (smart HTTP)
behind Basic auth, as a forge serves git. Repositories live under ``root``; a pre-receive hook
may be installed in each (the tests install one refusing non-fast-forward pushes)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

BACKEND_CANDIDATES = ("/usr/lib/git-core/git-http-backend", "/usr/libexec/git-core/git-http-backend")

REFUSE_NON_FAST_FORWARD = """#!/bin/sh
# Refuse any push that rewrites a branch (the tool must never force).
zero=0000000000000000000000000000000000000000
while read old new ref; do
  if [ "$old" != "$zero" ] && [ "$new" != "$zero" ] && ! git merge-base --is-ancestor "$old" "$new"; then
    echo "refused: $ref would not fast-forward ($old -> $new)" >&2
    exit 1
  fi
done
exit 0
"""


def missing() -> str | None:
    """What this machine lacks to run the server, or None."""
    if shutil.which("lighttpd") is None and not Path("/usr/sbin/lighttpd").exists():
        return "lighttpd"
    if not any(Path(p).exists() for p in BACKEND_CANDIDATES):
        return "git-http-backend"
    return None


class GitHttpServer:
    def __init__(self, root: Path, user: str, password: str) -> None:
        from testing.registry_server import free_port

        self.root = root / "repos"
        self.root.mkdir(parents=True)
        self.port = free_port()
        backend = next(p for p in BACKEND_CANDIDATES if Path(p).exists())
        htpasswd = root / "htpasswd"  # {SHA}: one of the formats lighttpd's htpasswd backend reads
        htpasswd.write_text(f"{user}:{{SHA}}{base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()}\n")
        self.log = root / "lighttpd-error.log"
        conf = root / "lighttpd.conf"
        conf.write_text(
            "\n".join(
                [
                    'server.modules = ("mod_alias", "mod_auth", "mod_authn_file", "mod_setenv", "mod_cgi")',
                    f'server.document-root = "{self.root}"',
                    'server.bind = "127.0.0.1"',
                    f"server.port = {self.port}",
                    f'server.errorlog = "{self.log}"',
                    f'server.pid-file = "{root / "lighttpd.pid"}"',
                    f'alias.url = ("/git/" => "{backend}/")',
                    '$HTTP["url"] =~ "^/git/" {',
                    '  cgi.assign = ("" => "")',
                    f'  setenv.add-environment = ("GIT_PROJECT_ROOT" => "{self.root}", "GIT_HTTP_EXPORT_ALL" => "")',
                    '  auth.backend = "htpasswd"',
                    f'  auth.backend.htpasswd.userfile = "{htpasswd}"',
                    '  auth.require = ("" => ("method" => "basic", "realm" => "git", "require" => "valid-user"))',
                    "}",
                    "",
                ]
            )
        )
        binary = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
        self.process = subprocess.Popen([binary, "-D", "-f", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/git/", timeout=2)
                break
            except urllib.error.HTTPError:  # 401: it is up
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"lighttpd did not start: {self.process.stderr.read().decode() if self.process.stderr else ''}") from None
                time.sleep(0.1)

    def add(self, name: str, source: Path, hook: str | None = REFUSE_NON_FAST_FORWARD) -> Path:
        """Serve a copy of the bare repository ``source`` as ``/git/NAME``, with the pre-receive hook."""
        target = self.root / name
        subprocess.run(["git", "clone", "--quiet", "--bare", str(source), str(target)], check=True)
        if hook:
            path = target / "hooks" / "pre-receive"
            path.write_text(hook)
            path.chmod(0o755)
        return target

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/git/{name}"

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
