"""OCI Distribution client: resolve a tag to a digest, check a digest exists, list tags, fetch a manifest or blob by digest.

Written on the standard library's ``http.client`` rather than an OCI client
library: what promotion needs is three read-only calls, and each must be
bounded (timeouts, response size, content type, the body's sha256 checked
against ``Docker-Content-Digest``), reuse one keep-alive connection per
registry, and fail with one line naming registry, repository and cause.
``oras`` (the maintained Python OCI client) fetches manifests only with GET
into parsed JSON (no HEAD, no raw body to hash), sets no request timeout,
retries with multi-second sleeps, and makes plain HTTP a per-client switch.

Auth: anonymous; a ``Bearer`` challenge answered at its realm (with basic
credentials when known), as Quay, Docker Hub and the distribution registry do;
``Basic``. Plain HTTP only for hosts configured ``insecure`` or named with
``--insecure-registry``; HTTPS verifies with the system CAs (or ``caFile``).

Docker Hub names (``nginx``, ``docker.io/acme/m``) are asked for where Docker Hub serves them:
``registry-1.docker.io``, one-segment names under ``library/``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import ssl
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace

from gitops_mlops.config.registries import RegistrySpec as Endpoint  # how to reach one registry host: config or --insecure-registry
from gitops_mlops.core import httpclient, settings
from gitops_mlops.core.errors import InputError, RegistryError, RegistryUnreachable
from gitops_mlops.core.imageref import DEFAULT_REGISTRY, ImageRef, canonical_registry
from gitops_mlops.core.names import DIGEST_RE, HOST_RE
from gitops_mlops.registry import auth as registryauth

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)
ACCEPT = ", ".join(MANIFEST_TYPES)

MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # the distribution registry's own limit
MAX_PAGE_BYTES = 16 * 1024 * 1024
MAX_TOKEN_BYTES = 1024 * 1024
MAX_TAGS = 1_000_000
PAGE_SIZE = 10_000
MAX_REDIRECTS = 5
DOCKER_HUB_API = "registry-1.docker.io"  # where docker.io, index.docker.io and short names are served
# What OpenSSL says when the server answered the TLS hello in plain HTTP (a loopback or lab registry).
PLAIN_HTTP_TLS_REASONS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL", "HTTP_REQUEST"})


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    size: int


def on_the_wire(ref: ImageRef) -> ImageRef:
    """Where ``ref`` is asked for: Docker Hub's names (``nginx``, ``docker.io/acme/m``,
    ``index.docker.io/...``) at its API host with the official ``library/`` namespace; any other as it is."""
    if canonical_registry(ref.registry) != DEFAULT_REGISTRY:
        return ref
    return replace(ref, registry=DOCKER_HUB_API, path=ref.canonical.partition("/")[2])


def endpoints_for(registries: Iterable, insecure_hosts: Iterable[str] = ()) -> dict[str, Endpoint]:
    """The registries a command may contact: the config's ``registries:`` plus ``--insecure-registry`` hosts."""
    found = {r.host: r for r in registries}
    for host in insecure_hosts:
        if not HOST_RE.match(host):
            raise InputError(f"--insecure-registry {host!r}: expected HOST or HOST:PORT")
        known = found.get(host)
        found[host] = replace(known, insecure=True, ca_file="") if known else Endpoint(host, insecure=True)
    return found


class _Response:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def header(self, name: str) -> str:
        return self.headers.get(name, "") or ""


class RegistryClient:
    """One client per command: connections and tokens are reused across calls."""

    def __init__(self, endpoints: Iterable[Endpoint] = (), timeout: float | None = None, env: Mapping[str, str] | None = None) -> None:
        self.endpoints = {e.host: e for e in endpoints}
        hub = next((e for host, e in self.endpoints.items() if canonical_registry(host) == DEFAULT_REGISTRY), None)
        if hub:  # settings given for docker.io apply where Docker Hub is reached
            self.endpoints.setdefault(DOCKER_HUB_API, hub)
        self.timeout = settings.registry_timeout() if timeout is None else timeout
        self.env = os.environ if env is None else env
        self.requests = 0  # HTTP requests sent (benchmarks report it)
        self._connections: dict[tuple[str, str], http.client.HTTPConnection] = {}
        self._auth: dict[tuple[str, str], str] = {}  # (host, repository) -> Authorization header
        self._credentials: dict[str, registryauth.Credentials | None] = {}
        self._secrets: set[str] = set()

    def knows(self, host: str) -> bool:
        return host in self.endpoints

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ the three calls

    def resolve(self, ref: ImageRef) -> Manifest:
        """The digest ``ref``'s tag points to now (GET: the body is hashed and checked)."""
        return self._manifest(ref, ref.tag or "latest", "GET")

    def head(self, ref: ImageRef, reference: str) -> Manifest:
        """HEAD the manifest ``reference`` (a tag or a digest): its digest, media type and size."""
        return self._manifest(ref, reference, "HEAD")

    def confirm_digest(self, ref: ImageRef) -> Manifest:
        """Check ``ref.digest`` exists in its repository; with a tag, that the tag points to it."""
        assert ref.digest
        found = self.head(ref, ref.digest)
        if found.digest != ref.digest:
            raise self._error(ref, f"asked for {ref.digest} but the registry answered {found.digest}")
        if ref.tag:
            tagged = self.resolve(ref)
            if tagged.digest != ref.digest:
                raise self._error(ref, f"tag {ref.tag} points to {tagged.digest}, not {ref.digest}")
        return found

    def list_tags(self, ref: ImageRef, page_size: int = PAGE_SIZE) -> list[str]:
        """Every tag of the repository, following ``Link: <...>; rel="next"`` pages."""
        ref = on_the_wire(ref)
        path = f"/v2/{ref.path}/tags/list?n={page_size}"
        tags: list[str] = []
        seen = set()
        while path:
            if path in seen:
                raise self._error(ref, "tag list pagination loops")
            seen.add(path)
            response = self._request(ref, "GET", path, {"Accept": "application/json"}, MAX_PAGE_BYTES)
            if response.status != 200:
                raise self._status_error(ref, response, "tag list")
            try:
                data = json.loads(response.body)
                page = data.get("tags") or []
                if not isinstance(page, list) or not all(isinstance(t, str) for t in page):
                    raise ValueError
            except (ValueError, RecursionError, AttributeError):
                raise self._error(ref, "tag list is not JSON with a 'tags' list") from None
            tags.extend(page)
            if len(tags) > MAX_TAGS:
                raise self._error(ref, f"more than {MAX_TAGS} tags")
            path = _next_link(response.header("Link"))
        return tags

    def fetch(self, ref: ImageRef, kind: str, digest: str, limit: int = MAX_MANIFEST_BYTES) -> bytes:
        """The body of the manifest or blob (``kind``: ``manifests`` or ``blobs``) ``digest``, checked to hash to it."""
        ref, what = on_the_wire(ref), f"{kind[:-1]} {digest}"
        response = self._request(ref, "GET", f"/v2/{ref.path}/{kind}/{digest}", {"Accept": ACCEPT if kind == "manifests" else "*/*"}, limit)
        if response.status != 200:
            raise self._status_error(ref, response, what)
        found = "sha256:" + hashlib.sha256(response.body).hexdigest()
        if found != digest:
            raise self._error(ref, f"{what}: body hashes to {found}")
        return response.body

    # ------------------------------------------------------------ manifests

    def _manifest(self, ref: ImageRef, reference: str, method: str) -> Manifest:
        ref = on_the_wire(ref)
        what = ("digest " if reference.startswith("sha256:") else "tag ") + reference
        response = self._request(ref, method, f"/v2/{ref.path}/manifests/{reference}", {"Accept": ACCEPT}, MAX_MANIFEST_BYTES)
        if response.status != 200:
            raise self._status_error(ref, response, what)
        media_type = response.header("Content-Type").split(";")[0].strip()
        if media_type not in MANIFEST_TYPES:
            raise self._error(ref, f"{what}: not an image manifest or index (Content-Type {media_type or 'missing'!r})")
        header_digest = response.header("Docker-Content-Digest")
        if method == "GET":
            digest = "sha256:" + hashlib.sha256(response.body).hexdigest()
            if header_digest and header_digest != digest:
                raise self._error(ref, f"{what}: body hashes to {digest}, but Docker-Content-Digest says {header_digest}")
            try:
                body_type = json.loads(response.body).get("mediaType")
            except (ValueError, RecursionError, AttributeError):
                raise self._error(ref, f"{what}: body is not JSON") from None
            if body_type and body_type != media_type:
                raise self._error(ref, f"{what}: body mediaType {body_type} differs from Content-Type {media_type}")
            size = len(response.body)
        else:
            if reference.startswith("sha256:") and not header_digest:
                header_digest = reference  # the registry served the content-addressed manifest
            if not DIGEST_RE.match(header_digest or ""):
                return self._manifest(ref, reference, "GET")  # no usable digest header: hash the body
            digest = header_digest
            size = int(response.header("Content-Length") or 0)
        if reference.startswith("sha256:") and digest != reference:
            raise self._error(ref, f"asked for {reference} but the registry answered {digest}")
        return Manifest(digest, media_type, size)

    # ------------------------------------------------------------ HTTP, auth

    def _request(self, ref: ImageRef, method: str, path: str, headers: dict[str, str], limit: int) -> _Response:
        key = (ref.registry, ref.path)
        if key in self._auth:
            headers = {**headers, "Authorization": self._auth[key]}
        response = self._send(ref, ref.registry, method, path, headers, limit)
        if response.status == 401:  # first contact, or an expired token: answer the challenge once
            authorization = self._authorize(ref, response.header("WWW-Authenticate"))
            if authorization and authorization != headers.get("Authorization"):
                self._auth[key] = authorization
                response = self._send(ref, ref.registry, method, path, {**headers, "Authorization": authorization}, limit)
        return response

    def _authorize(self, ref: ImageRef, challenge: str) -> str | None:
        scheme, params = registryauth.parse_challenge(challenge) if challenge else ("", {})
        credentials = self._credentials_for(ref.registry)
        if scheme == "basic":
            return credentials.basic_header() if credentials else None
        if scheme != "bearer" or not params.get("realm"):
            return None
        realm = urllib.parse.urlsplit(params["realm"])
        if realm.scheme not in ("http", "https") or not realm.netloc:
            raise self._error(ref, f"token realm {params['realm']!r} is not an http(s) URL")
        if realm.scheme == "http" and not self._insecure(realm.netloc) and not self._insecure(ref.registry):
            raise self._error(ref, f"token realm {realm.netloc} is plain HTTP; list it as insecure to allow that")
        query = {k: v for k, v in (("service", params.get("service", "")), ("scope", params.get("scope") or f"repository:{ref.path}:pull")) if v}
        path = (realm.path or "/") + "?" + urllib.parse.urlencode(query) + (("&" + realm.query) if realm.query else "")
        headers = {"Accept": "application/json"}
        if credentials:
            headers["Authorization"] = credentials.basic_header()
        response = self._send(ref, realm.netloc, "GET", path, headers, MAX_TOKEN_BYTES, scheme=realm.scheme)
        if response.status != 200:
            raise self._status_error(ref, response, f"token from {realm.netloc}")
        try:
            data = json.loads(response.body)
            token = data.get("token") or data.get("access_token")
        except (ValueError, RecursionError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise self._error(ref, f"token from {realm.netloc}: the answer holds no token")
        self._secrets.add(token)
        return f"Bearer {token}"

    def _credentials_for(self, host: str) -> registryauth.Credentials | None:
        if host not in self._credentials:
            endpoint = self.endpoints.get(host, Endpoint(host))
            found = registryauth.lookup(host, endpoint.username_env, endpoint.password_env, self.env)
            self._credentials[host] = found
            if found:
                self._secrets.update(found.secrets())
        return self._credentials[host]

    def _insecure(self, host: str) -> bool:
        endpoint = self.endpoints.get(host)
        return bool(endpoint and endpoint.insecure)

    def _send(self, ref: ImageRef, host: str, method: str, path: str, headers: dict[str, str], limit: int, scheme: str | None = None) -> _Response:
        scheme = scheme or ("http" if self._insecure(host) else "https")
        for _ in range(MAX_REDIRECTS + 1):
            response = self._exchange(ref, scheme, host, method, path, headers, limit)
            if response.status not in (301, 302, 303, 307, 308):
                return response
            current = f"{scheme}://{host}{path}"
            try:  # the rules of every client (httpclient): never from https to http
                location = httpclient.redirect_target(current, response.header("Location"))
            except httpclient.HttpFailure as exc:
                raise self._error(ref, str(exc)) from None
            if httpclient.origin(location) != httpclient.origin(current):
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}  # never hand credentials to another origin
            target = urllib.parse.urlsplit(location)
            scheme, host = target.scheme, target.netloc
            path = (target.path or "/") + (f"?{target.query}" if target.query else "")
        raise self._error(ref, f"more than {MAX_REDIRECTS} redirects")

    def _exchange(self, ref: ImageRef, scheme: str, host: str, method: str, path: str, headers: dict[str, str], limit: int) -> _Response:
        for attempt in (1, 2):  # a kept-alive connection the server closed is retried once on a new one
            conn = self._connection(scheme, host)
            fresh = getattr(conn, "sock", None) is None
            try:
                self.requests += 1
                conn.request(method, path, headers={"User-Agent": "gitops-mlops", **headers})
                raw = conn.getresponse()
                length = raw.getheader("Content-Length")
                if method != "HEAD" and length is not None and length.isdigit() and int(length) > limit:
                    conn.close()
                    raise self._error(ref, f"response larger than {limit} bytes")
                body = b"" if method == "HEAD" else raw.read(limit + 1)
                if len(body) > limit:
                    conn.close()
                    raise self._error(ref, f"response larger than {limit} bytes")
                if method == "HEAD":
                    raw.read()
                if raw.will_close:
                    conn.close()
                return _Response(raw.status, raw.headers, body)
            except TimeoutError:
                conn.close()
                raise self._error(ref, f"no answer within {self.timeout:g} s from {host}", RegistryUnreachable) from None
            except ssl.SSLError as exc:
                conn.close()
                raise self._error(ref, _tls_failure(host, exc)) from None
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                conn.close()
                if fresh or attempt == 2:
                    raise self._error(ref, f"{host} closed the connection ({type(exc).__name__})") from None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else (str(exc) or type(exc).__name__)
                raise self._error(ref, f"cannot reach {host}: {reason}", RegistryUnreachable) from None
        raise AssertionError("unreachable")

    def _connection(self, scheme: str, host: str) -> http.client.HTTPConnection:
        conn = self._connections.get((scheme, host))
        if conn is None:
            if scheme == "https":
                endpoint = self.endpoints.get(host)
                context = ssl.create_default_context(cafile=endpoint.ca_file or None if endpoint else None)
                conn = http.client.HTTPSConnection(host, timeout=self.timeout, context=context)
            else:
                conn = http.client.HTTPConnection(host, timeout=self.timeout)
            self._connections[(scheme, host)] = conn
        return conn

    # ------------------------------------------------------------ errors

    def _status_error(self, ref: ImageRef, response: _Response, what: str) -> RegistryError:
        reasons = {401: "unauthorized (401): credentials missing or refused", 403: "forbidden (403): no pull access", 429: "too many requests (429)"}
        if response.status in reasons:
            cause = reasons[response.status]
        elif response.status == 404:
            code = _error_code(response.body)
            cause = "unknown repository" if code == "NAME_UNKNOWN" else "not found in the registry"
        else:
            cause = f"HTTP {response.status}"
            code = _error_code(response.body)
            if code:
                cause += f" {code}"
        return self._error(ref, f"{what}: {cause}")

    def _error(self, ref: ImageRef, cause: str, kind: type[RegistryError] = RegistryError) -> RegistryError:
        return kind(registryauth.redact(f"registry {ref.registry}: repository {ref.path}: {cause}", tuple(self._secrets)))


def _tls_failure(host: str, exc: ssl.SSLError) -> str:
    """The cause of a failed TLS handshake; a server that answered in plain HTTP gets the flag that reaches it."""
    reason = exc.reason or str(exc)
    if reason in PLAIN_HTTP_TLS_REASONS:
        return f"TLS failed with {host}: {reason}: it seems to speak plain HTTP; to reach it so, pass --insecure-registry {host} (or list it under registries: with insecure: true)"
    return f"TLS failed with {host}: {reason}"


@contextmanager
def offline_hint(doing: str) -> Iterator[None]:
    """Around a registry check that ``--no-verify`` skips: a registry that does not answer says so.
    ``doing`` is what the command goes on to do (``promote``, ``roll back``)."""
    try:
        yield
    except RegistryUnreachable as exc:
        raise RegistryUnreachable(f"{exc}; to {doing} without asking the registry, pass --no-verify") from None


def _error_code(body: bytes) -> str:
    try:
        errors = json.loads(body).get("errors") or []
        return str(errors[0].get("code", "")) if errors else ""
    except (ValueError, RecursionError, AttributeError, IndexError, TypeError):
        return ""


def _next_link(header: str) -> str:
    """The path of ``Link: </v2/...?last=x&n=1000>; rel="next"``, or ''."""
    for part in header.split(","):
        target, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
            url = urllib.parse.urlsplit(target.strip().strip("<>"))
            return url.path + (f"?{url.query}" if url.query else "")
    return ""
