"""A real OCI registry on loopback for tests and benchmarks: Debian's ``docker-registry``
(the CNCF distribution registry), with optional htpasswd (bcrypt) or token auth, and a
small loopback token issuer that signs JWTs with a key whose certificate is the
registry's ``rootcertbundle``. Images are pushed through the registry's own API."""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

BINARY = "docker-registry"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def require_binary() -> str:
    path = shutil.which(BINARY)
    if path is None:
        raise RuntimeError(f"{BINARY} not found on PATH: run scripts/bootstrap.sh (apt-get install -y docker-registry)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- token issuer


class TokenIssuer:
    """Issues registry JWTs (RS256, x5c header) for any requested scope; optionally demands basic credentials."""

    def __init__(self, root: Path, service: str = "test-registry", issuer: str = "test-issuer", users: dict[str, str] | None = None) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.service, self.issuer, self.users = service, issuer, users or {}
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test token issuer")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.bundle = root / "token-root.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self._der = base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()
        self.seen: list[dict] = []  # one entry per token request: query and whether credentials were sent
        issuer_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                user = issuer_self._user(self.headers.get("Authorization", ""))
                issuer_self.seen.append({"query": query, "user": user})
                if issuer_self.users and user is None:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"token": issuer_self.token(query.get("scope", ""), user or "")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def _user(self, header: str) -> str | None:
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user if self.users.get(user) == password else None

    def token(self, scope: str, subject: str = "") -> str:
        import jwt

        access = []
        for item in scope.split(" "):
            parts = item.split(":")
            if len(parts) == 3:
                access.append({"type": parts[0], "name": parts[1], "actions": parts[2].split(",")})
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": f"{now}-{len(self.seen)}",
            "access": access,
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"x5c": [self._der]})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def self_signed_loopback_cert(root: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA): tls.crt and tls.key under ``root``."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (root / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (root / "tls.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    return root / "tls.crt", root / "tls.key"


# ---------------------------------------------------------------- the registry


@dataclass
class RegistryServer:
    root: Path
    auth: str = ""  # "", "htpasswd" or "token"
    users: dict[str, str] = field(default_factory=dict)
    tls: bool = False  # HTTPS with a self-signed certificate for 127.0.0.1 (``ca_file``)
    port: int = 0
    issuer: TokenIssuer | None = None
    process: subprocess.Popen | None = None

    @property
    def ca_file(self) -> Path:
        return self.root / "tls.crt"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> RegistryServer:
        binary = require_binary()
        self.root.mkdir(parents=True, exist_ok=True)
        auth = ""
        if self.auth == "htpasswd":
            import bcrypt

            htpasswd = self.root / "htpasswd"
            htpasswd.write_text("".join(f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=4)).decode()}\n" for u, p in self.users.items()))
            auth = f"auth:\n  htpasswd:\n    realm: test-registry\n    path: {htpasswd}\n"
        elif self.auth == "token":
            self.issuer = TokenIssuer(self.root, users=self.users)
            auth = (
                f"auth:\n  token:\n    realm: {self.issuer.realm}\n    service: {self.issuer.service}\n"
                f"    issuer: {self.issuer.issuer}\n    rootcertbundle: {self.issuer.bundle}\n"
            )
        if self.tls:
            self_signed_loopback_cert(self.root)
        for _ in range(5):
            self.port = free_port()
            config = self.root / "config.yml"
            config.write_text(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                f"storage:\n  filesystem:\n    rootdirectory: {self.root / 'data'}\n  delete:\n    enabled: true\n"
                f"http:\n  addr: 127.0.0.1:{self.port}\n  secret: test-secret\n"
                + (f"  tls:\n    certificate: {self.ca_file}\n    key: {self.root / 'tls.key'}\n" if self.tls else "")
                + auth
            )
            log = open(self.root / "registry.log", "ab")
            self.process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
            log.close()
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError(f"{binary} did not start; see {self.root / 'registry.log'}: {(self.root / 'registry.log').read_text()[-2000:]}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.issuer is not None:
            self.issuer.close()
            self.issuer = None

    # ------------------------------------------------------------ pushing through the API

    def pusher(self) -> Pusher:
        return Pusher(self)


class Pusher:
    """Pushes blobs and manifests on one keep-alive connection, authenticated as the registry demands."""

    def __init__(self, server: RegistryServer) -> None:
        self.server = server
        if server.tls:
            context = ssl.create_default_context(cafile=str(server.ca_file))
            self.conn = http.client.HTTPSConnection(server.host, timeout=30, context=context)
        else:
            self.conn = http.client.HTTPConnection(server.host, timeout=30)

    def close(self) -> None:
        self.conn.close()

    def _auth(self, repo: str) -> dict[str, str]:
        if self.server.auth == "htpasswd":
            user, password = next(iter(self.server.users.items()))
            return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
        if self.server.auth == "token":
            return {"Authorization": "Bearer " + self.server.issuer.token(f"repository:{repo}:pull,push", "pusher")}
        return {}

    def _call(self, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> http.client.HTTPResponse:
        self.conn.request(method, path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        response.read()
        return response

    def blob(self, repo: str, data: bytes) -> str:
        digest = sha256(data)
        auth = self._auth(repo)
        response = self._call("POST", f"/v2/{repo}/blobs/uploads/", headers=auth)
        assert response.status == 202, f"blob upload start: {response.status}"
        location = urllib.parse.urlsplit(response.getheader("Location"))
        path = f"{location.path}?{location.query}&digest={digest}" if location.query else f"{location.path}?digest={digest}"
        response = self._call("PUT", path, data, {**auth, "Content-Type": "application/octet-stream"})
        assert response.status == 201, f"blob upload: {response.status}"
        return digest

    def manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        response = self._call("PUT", f"/v2/{repo}/manifests/{reference}", body, {**self._auth(repo), "Content-Type": media_type})
        assert response.status == 201, f"manifest {repo}:{reference}: {response.status}"
        return response.getheader("Docker-Content-Digest")

    def image(
        self, repo: str, tag: str, arch: str = "amd64", salt: str = "", media_type: str = OCI_MANIFEST, labels: dict[str, str] | None = None
    ) -> tuple[str, bytes]:
        """Push a tiny single-arch image (its config carrying ``labels``); its manifest digest and bytes."""
        layer = f"layer {repo} {tag} {arch} {salt}".encode()
        image_config = {"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]}}
        if labels is not None:
            image_config["config"] = {"Labels": labels}
        config = json.dumps(image_config).encode()
        config_type = "application/vnd.oci.image.config.v1+json" if media_type == OCI_MANIFEST else "application/vnd.docker.container.image.v1+json"
        layer_type = "application/vnd.oci.image.layer.v1.tar" if media_type == OCI_MANIFEST else "application/vnd.docker.image.rootfs.diff.tar"
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": media_type,
                "config": {"mediaType": config_type, "digest": self.blob(repo, config), "size": len(config)},
                "layers": [{"mediaType": layer_type, "digest": self.blob(repo, layer), "size": len(layer)}],
            }
        ).encode()
        digest = self.manifest(repo, tag, manifest, media_type)
        assert digest == sha256(manifest)
        return digest, manifest

    def index(self, repo: str, tag: str, archs: tuple[str, ...] = ("amd64", "arm64")) -> tuple[str, list[str]]:
        """Push a multi-arch OCI index over one image per architecture; the index digest and the per-arch digests."""
        entries, digests = [], []
        for arch in archs:
            digest, body = self.image(repo, f"{tag}-{arch}", arch=arch)
            digests.append(digest)
            entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body), "platform": {"architecture": arch, "os": "linux"}})
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
        return self.manifest(repo, tag, index, OCI_INDEX), digests

    def delete(self, repo: str, digest: str) -> None:
        """Delete a manifest, as a registry's garbage collection of an old build does."""
        response = self._call("DELETE", f"/v2/{repo}/manifests/{digest}", headers=self._auth(repo))
        assert response.status == 202, f"delete {repo}@{digest}: {response.status}"

    def tags(self, repo: str, manifest: bytes, names, media_type: str = OCI_MANIFEST) -> None:
        """PUT one manifest under many tag names (fast: no blobs)."""
        auth = self._auth(repo)
        for name in names:
            response = self._call("PUT", f"/v2/{repo}/manifests/{name}", manifest, {**auth, "Content-Type": media_type})
            assert response.status == 201, f"tag {name}: {response.status}"


USER, PASSWORD = "pipeline", "pw-Zq81-not-for-output"


def start_registry(tmp_path_factory, auth: str):
    from testing.registry_server import RegistryServer

    try:
        return RegistryServer(tmp_path_factory.mktemp(f"registry-{auth or 'anonymous'}"), auth=auth, users={USER: PASSWORD} if auth else {}).start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
