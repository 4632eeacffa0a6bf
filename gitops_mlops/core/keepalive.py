"""Persistent HTTP/1.1 connections to one origin, one per thread: many small calls without a new
connection each (the model registry's write-back makes thousands).

The same rules as ``httpclient.send``: a timeout, a bounded read, credentials only to the origin
(a URL of another origin, or an answer that redirects, goes through ``httpclient.send``, which
applies its redirect rules from the start). A connection the server closed between two calls is
opened again once; any other transport fault is an ``HttpFailure`` (retryable), as in ``send``.
"""

from __future__ import annotations

import http.client
import ssl
import threading
import urllib.parse

from gitops_mlops.core import httpclient


class Connections:
    """Keep-alive connections to ``base``'s origin, one per calling thread."""

    def __init__(self, base: str, timeout: float, context: ssl.SSLContext | None = None) -> None:
        self.origin, self.timeout, self.context = httpclient.origin(base), timeout, context
        self.local = threading.local()
        self.opened: list[http.client.HTTPConnection] = []
        self.lock = threading.Lock()

    def send(
        self, method: str, url: str, *, headers: dict[str, str], secret: dict[str, str], body: bytes | None, limit: int = httpclient.DEFAULT_LIMIT
    ) -> httpclient.Response:
        """One request on this thread's connection; any HTTP status is a Response."""
        if httpclient.origin(url) != self.origin or httpclient.has_credentials(url):
            return self._plain(method, url, headers, secret, body, limit)
        parts = urllib.parse.urlsplit(url)
        target = parts.path + ("?" + parts.query if parts.query else "")
        for attempt in range(2):
            connection = self._connection(fresh=attempt > 0)
            try:
                connection.request(method, target, body=body, headers={**headers, **secret})
                raw = connection.getresponse()
                data = httpclient._read(raw, limit)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                connection.close()
                if attempt == 0:
                    continue  # the server closed an idle connection: once more on a new one
                raise httpclient.HttpFailure(f"unreachable: {exc or type(exc).__name__}", retryable=True) from None
            except TimeoutError:
                connection.close()
                raise httpclient.HttpFailure(f"no answer within {self.timeout:g} s", retryable=True) from None
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                raise httpclient.HttpFailure(f"unreachable: {getattr(exc, 'strerror', None) or exc or type(exc).__name__}", retryable=True) from None
            except httpclient.HttpFailure:
                connection.close()
                raise
            if raw.will_close:
                connection.close()
            if raw.status in httpclient.REDIRECTS and raw.getheader("Location"):
                return self._plain(method, url, headers, secret, body, limit)  # the redirect rules, from the start
            return httpclient.Response(raw.status, raw.headers, data, url)
        raise AssertionError("unreachable")

    def _plain(self, method, url, headers, secret, body, limit) -> httpclient.Response:
        return httpclient.send(method, url, headers=headers, secret=secret, body=body, timeout=self.timeout, limit=limit, context=self.context)

    def _connection(self, fresh: bool) -> http.client.HTTPConnection:
        connection = getattr(self.local, "connection", None)
        if connection is None or fresh:
            scheme, host, port = self.origin
            if scheme == "https":
                connection = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self.context or ssl.create_default_context())
            else:
                connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
            self.local.connection = connection
            with self.lock:
                self.opened.append(connection)
        return connection

    def close(self) -> None:
        """Close every connection opened."""
        with self.lock:
            for connection in self.opened:
                connection.close()
            self.opened.clear()
