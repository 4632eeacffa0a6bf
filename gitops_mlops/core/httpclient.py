"""The one HTTP layer of the tool's web clients: Prometheus, the forges, Quay's security API, Argo CD's
webhook and the retrain trigger (the OCI registry client keeps its own connections, and takes its
redirect rule from here).

Every call is bounded: a timeout, a limit on the bytes read, at most ``MAX_REDIRECTS`` redirects.
Credentials travel apart from the other headers (``secret``) and go to the URL's origin (scheme,
host, port) only. A redirect within the origin is followed with them; a redirect to another origin
is refused (``cross_origin="refuse"``, the default: an answer from a host nobody configured must not
decide anything), or followed without them (``"strip"``). A redirect from https to plain http is
always refused. Every message names URLs redacted (``redact_url``): no user or password, no value
of a query parameter named like a credential.
"""

from __future__ import annotations

import http.client
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message

MAX_REDIRECTS = 5
DEFAULT_LIMIT = 16 * 1024 * 1024
REDIRECTS = (301, 302, 303, 307, 308)
_SECRET_PARAM = re.compile(r"(?i)(token|key|secret|passw|pwd|sig|auth|credential|session|code)")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()]*[^\s'\"<>().,;:]")  # not the punctuation after it


class HttpFailure(Exception):
    """No usable answer: unreachable, a timeout, too large, a redirect not followed. One line, URLs redacted."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(" ".join(redact(message).split()))
        self.retryable = retryable  # a transport failure another attempt may not meet; a refused redirect is not


@dataclass(frozen=True)
class Response:
    status: int
    headers: Message
    body: bytes
    url: str  # where the answer came from, after redirects within the rules


def redact_url(url: str) -> str:
    """``url`` without its user and password (``***@``) or the values of query parameters named like credentials."""
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return re.sub(r"//[^/@]*@", "//***@", url.split("?")[0])
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = "&".join(_redact_param(p) for p in parts.query.split("&")) if parts.query else ""
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment and "***"))


def _redact_param(pair: str) -> str:
    name, eq, value = pair.partition("=")
    return f"{name}=***" if eq and value and _SECRET_PARAM.search(urllib.parse.unquote(name)) else pair


def redact(text: str) -> str:
    """``text`` with every URL in it redacted."""
    return _URL.sub(lambda m: redact_url(m.group(0)), str(text))


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with the scheme's default port filled in: what credentials are bound to."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme, 0)


def has_credentials(url: str) -> bool:
    """Whether ``url`` carries a user or password (``https://user:pass@host``)."""
    return "@" in urllib.parse.urlsplit(url).netloc


def redirect_target(url: str, location: str) -> str:
    """Where a redirect from ``url`` to ``location`` goes; a location that is not http(s), or plain http
    after https, is an HttpFailure."""
    target = urllib.parse.urljoin(url, location)
    scheme = urllib.parse.urlsplit(target).scheme.lower()
    if scheme not in ("http", "https") or not urllib.parse.urlsplit(target).hostname:
        raise HttpFailure(f"redirected to {target!r}, which is not an http(s) URL; not followed")
    if scheme == "http" and origin(url)[0] == "https":
        raise HttpFailure(f"redirected from https to plain http ({target}); not followed")
    return target


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # every redirect comes back to send(), which applies the rules
        return None


def send(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    secret: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 30,
    limit: int = DEFAULT_LIMIT,
    cross_origin: str = "refuse",
    context: ssl.SSLContext | None = None,
) -> Response:
    """One request, its redirects followed by the rules above; any HTTP status is a Response."""
    assert cross_origin in ("refuse", "strip")
    if has_credentials(url):
        raise HttpFailure(f"{url}: a URL must not carry a user or password; give credentials by their variable")
    opener = urllib.request.build_opener(_NoRedirect(), urllib.request.HTTPSHandler(context=context))
    start, credentials = url, dict(secret or {})
    for _ in range(MAX_REDIRECTS + 1):
        response = _exchange(opener, method, url, {**(headers or {}), **credentials}, body, timeout, limit)
        location = response.headers.get("Location")
        if response.status not in REDIRECTS or not location:
            return response
        target = redirect_target(url, location)
        if origin(target) != origin(start):
            if cross_origin == "refuse":
                raise HttpFailure(f"redirected to another origin ({target}); not followed: answers come only from {_origin_text(start)}")
            credentials = {}  # never hand credentials to another origin, nor back after leaving
        if response.status == 303 or (response.status in (301, 302) and method not in ("GET", "HEAD")):
            method, body = "GET", None
        url = target
    raise HttpFailure(f"{start}: more than {MAX_REDIRECTS} redirects")


def _origin_text(url: str) -> str:
    scheme, host, port = origin(url)
    return f"{scheme}://{host}:{port}"


def _exchange(opener, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float, limit: int) -> Response:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with opener.open(request, timeout=timeout) as raw:
            return Response(raw.status, raw.headers, _read(raw, limit), url)
    except urllib.error.HTTPError as exc:  # an answer all the same: 3xx (redirects are ours), 4xx, 5xx
        with exc:
            return Response(exc.code, exc.headers, _read(exc, limit), url)
    except TimeoutError:
        raise HttpFailure(f"no answer within {timeout:g} s", retryable=True) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise HttpFailure(f"no answer within {timeout:g} s", retryable=True) from None
        raise HttpFailure(f"unreachable: {getattr(reason, 'strerror', None) or reason}", retryable=True) from None
    except (OSError, ValueError, http.client.HTTPException) as exc:  # a connection reset, a malformed answer or URL
        raise HttpFailure(f"unreachable: {getattr(exc, 'strerror', None) or exc or type(exc).__name__}", retryable=True) from None


def _read(raw, limit: int) -> bytes:
    length = raw.headers.get("Content-Length") if raw.headers else None
    if length and length.strip().isdigit() and int(length) > limit:
        raise HttpFailure(f"response larger than {limit} bytes")
    data = raw.read(limit + 1) or b""
    if len(data) > limit:
        raise HttpFailure(f"response larger than {limit} bytes")
    return data
