"""Where registry credentials come from, how challenges are read, and that secrets are redacted."""

from __future__ import annotations

import base64
import json

import pytest

from gitops_mlops.core.errors import RegistryError
from gitops_mlops.registry.auth import Credentials, lookup, parse_challenge, redact


def auth_entry(user: str, password: str) -> dict:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def write_auths(path, auths: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"auths": auths}))


def test_no_credentials_means_anonymous(tmp_path):
    assert lookup("quay.io", env={"HOME": str(tmp_path)}) is None


def test_configured_variables_win_over_the_generic_ones(tmp_path):
    env = {"HOME": str(tmp_path), "QUAY_USER": "robot", "QUAY_TOKEN": "t0k", "GITOPS_MLOPS_REGISTRY_USERNAME": "other", "GITOPS_MLOPS_REGISTRY_PASSWORD": "x"}
    found = lookup("quay.io", "QUAY_USER", "QUAY_TOKEN", env=env)
    assert (found.username, found.password, found.source) == ("robot", "t0k", "$QUAY_USER")


def test_generic_variables_win_over_auth_files(tmp_path):
    write_auths(tmp_path / ".docker" / "config.json", {"quay.io": auth_entry("file-user", "file-pw")})
    env = {"HOME": str(tmp_path), "GITOPS_MLOPS_REGISTRY_USERNAME": "env-user", "GITOPS_MLOPS_REGISTRY_PASSWORD": "env-pw"}
    assert lookup("quay.io", env=env).username == "env-user"


def test_username_without_password_is_an_error(tmp_path):
    with pytest.raises(RegistryError, match="GITOPS_MLOPS_REGISTRY_PASSWORD is not"):
        lookup("quay.io", env={"HOME": str(tmp_path), "GITOPS_MLOPS_REGISTRY_USERNAME": "u"})


def test_auth_files_in_lookup_order(tmp_path):
    home, runtime = tmp_path / "home", tmp_path / "run"
    write_auths(home / ".docker" / "config.json", {"quay.io": auth_entry("docker", "1")})
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}
    assert lookup("quay.io", env=env).username == "docker"
    write_auths(home / ".config" / "containers" / "auth.json", {"quay.io": auth_entry("podman-home", "2")})
    assert lookup("quay.io", env=env).username == "podman-home"
    write_auths(runtime / "containers" / "auth.json", {"https://quay.io": auth_entry("podman-run", "3")})
    assert lookup("quay.io", env=env).username == "podman-run"
    write_auths(tmp_path / "explicit.json", {"quay.io": auth_entry("explicit", "4")})
    assert lookup("quay.io", env={**env, "REGISTRY_AUTH_FILE": str(tmp_path / "explicit.json")}).username == "explicit"
    assert lookup("ghcr.io", env=env) is None


def test_docker_hub_uses_the_index_key(tmp_path):
    write_auths(tmp_path / ".docker" / "config.json", {"https://index.docker.io/v1/": auth_entry("hubuser", "pw:with:colons")})
    found = lookup("docker.io", env={"HOME": str(tmp_path)})
    assert (found.username, found.password) == ("hubuser", "pw:with:colons")


def test_malformed_auth_entry_is_an_error_without_the_value(tmp_path):
    write_auths(tmp_path / ".docker" / "config.json", {"quay.io": {"auth": "not base64!!"}})
    with pytest.raises(RegistryError) as caught:
        lookup("quay.io", env={"HOME": str(tmp_path)})
    assert "not base64 'user:password'" in str(caught.value) and "not base64!!" not in str(caught.value)


def test_auth_file_that_is_not_json_is_an_error(tmp_path):
    (tmp_path / "auth.json").write_text("{")
    with pytest.raises(RegistryError, match="cannot read auth file"):
        lookup("quay.io", env={"HOME": str(tmp_path), "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json")})


def test_credentials_repr_hides_the_password():
    creds = Credentials("robot", "s3cret-value")
    assert "s3cret-value" not in repr(creds) and creds.basic_header() == "Basic " + base64.b64encode(b"robot:s3cret-value").decode()


def test_bearer_challenge_is_parsed():
    scheme, params = parse_challenge('Bearer realm="https://quay.io/v2/auth",service="quay.io",scope="repository:org/model:pull"')
    assert scheme == "bearer"
    assert params == {"realm": "https://quay.io/v2/auth", "service": "quay.io", "scope": "repository:org/model:pull"}


def test_challenge_with_unquoted_values_and_escapes():
    scheme, params = parse_challenge('Basic realm=registry, charset="UTF-8", note="a \\"quoted\\" word"')
    assert scheme == "basic" and params == {"realm": "registry", "charset": "UTF-8", "note": 'a "quoted" word'}


def test_redact_removes_every_secret_longest_first():
    text = "token abcdef123 and its prefix abcdef and pw hunter2"
    assert redact(text, ("abcdef", "abcdef123", "hunter2")) == "token *** and its prefix *** and pw ***"
