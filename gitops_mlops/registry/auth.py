"""Registry credentials and auth challenges: where a username/password comes from, how a 401 is answered.

Credentials, first match wins:

1. the registry's own ``usernameEnv``/``passwordEnv`` from ``registries:`` in the config;
2. ``GITOPS_MLOPS_REGISTRY_USERNAME`` / ``GITOPS_MLOPS_REGISTRY_PASSWORD``;
3. the ``auths`` entry for the host in ``REGISTRY_AUTH_FILE``, the podman/skopeo
   ``auth.json`` (``$XDG_RUNTIME_DIR/containers/auth.json``, ``~/.config/containers/auth.json``)
   or ``~/.docker/config.json`` (``$DOCKER_CONFIG/config.json``): base64 ``user:password``.

Credential helpers (``credsStore``/``credHelpers``) are not run. A credential
never appears in output or errors: ``redact`` removes every known secret.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitops_mlops.core.errors import RegistryError

ENV_USERNAME = "GITOPS_MLOPS_REGISTRY_USERNAME"
ENV_PASSWORD = "GITOPS_MLOPS_REGISTRY_PASSWORD"
MAX_AUTH_FILE_BYTES = 1024 * 1024
_DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io")
_PARAM_RE = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^",\s]*))\s*,?')


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    source: str = ""  # where they came from, for messages (never the values)

    def basic_header(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.password, base64.b64encode(f"{self.username}:{self.password}".encode()).decode()) if s)


def auth_files(env: Mapping[str, str]) -> list[Path]:
    """Candidate auth files, in lookup order."""
    home = Path(env.get("HOME") or Path.home())
    files = []
    if env.get("REGISTRY_AUTH_FILE"):
        files.append(Path(env["REGISTRY_AUTH_FILE"]))
    if env.get("XDG_RUNTIME_DIR"):
        files.append(Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    files.append(home / ".config" / "containers" / "auth.json")
    files.append(Path(env["DOCKER_CONFIG"]) / "config.json" if env.get("DOCKER_CONFIG") else home / ".docker" / "config.json")
    return files


def lookup(host: str, username_env: str = "", password_env: str = "", env: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials for ``host`` (``registry[:port]``), or None for anonymous access."""
    env = os.environ if env is None else env
    for user_var, pass_var in ((username_env, password_env), (ENV_USERNAME, ENV_PASSWORD)):
        if user_var and env.get(user_var):
            if not env.get(pass_var):
                raise RegistryError(f"registry {host}: {user_var} is set but {pass_var or 'the password variable'} is not")
            return Credentials(env[user_var], env[pass_var], f"${user_var}")
    for path in auth_files(env):
        found = _from_auth_file(path, host)
        if found is not None:
            return found
    return None


def _from_auth_file(path: Path, host: str) -> Credentials | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_AUTH_FILE_BYTES:
            return None
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        raise RegistryError(f"registry {host}: cannot read auth file {path} (not JSON)") from None
    auths = data.get("auths") if isinstance(data, dict) else None
    if not isinstance(auths, dict):
        return None
    keys = [host, f"https://{host}", f"http://{host}", f"https://{host}/v1/", f"https://{host}/v2/"]
    if host in ("docker.io", "registry-1.docker.io", "index.docker.io"):
        keys += list(_DOCKER_HUB_KEYS)
    for key in keys:
        entry = auths.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                user, sep, password = base64.b64decode(entry["auth"], validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise RegistryError(f"registry {host}: auth entry in {path} is not base64 'user:password'") from None
            if not sep or not user:
                raise RegistryError(f"registry {host}: auth entry in {path} is not base64 'user:password'")
            return Credentials(user, password, str(path))
    return None


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``WWW-Authenticate: Bearer realm="...",service="...",scope="..."`` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {}
    for match in _PARAM_RE.finditer(rest):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params[match.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
    return scheme.lower(), params


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret (longest first) replaced by ``***``."""
    for secret in sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
