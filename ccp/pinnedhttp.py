"""HTTP/1.1 to an address that was already checked, under one deadline: the mechanism under
ccp.outbound (which decides what may be reached).

The connection goes to the given address while the request keeps the URL's host name (for
`Host`, and for TLS: the certificate is verified against the name). One timer closes the socket
when the deadline passes, whatever the peer is doing (trickling headers or body); bodies are
read one `recv` at a time, counted against a size limit, and a body cut short is an error.
Nothing comes from the environment: no proxy, no .netrc, no cookies.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

CHUNK = 64 * 1024
USER_AGENT = "CCP (OGC API - Processes server; outbound request caused by a user)"


class FetchFailed(RuntimeError):
    """The request was allowed but did not succeed: too large, too slow, an HTTP error."""


@dataclass(frozen=True)
class Target:
    """A URL the policy allowed, with the addresses its host resolved to (all checked)."""

    url: str
    scheme: str
    host: str
    port: int
    path: str  # with the query
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class Downloaded:
    size: int
    sha256: str
    media_type: str | None
    url: str  # after redirects


def short(url: str) -> str:
    return url if len(url) <= 120 else url[:117] + "..."


class Exchange:
    """One request to a checked Target: connected to a checked address, under one deadline
    (a timer shuts the socket down when it passes, whatever the peer is doing)."""

    def __init__(self, target: Target, deadline: float, seconds: float,
                 connect_timeout: float) -> None:
        self.target = target
        self.deadline = deadline  # time.monotonic()
        self.seconds = seconds  # the limit, for messages
        self.connect_timeout = connect_timeout
        self.connection: http.client.HTTPConnection | None = None
        self.expired = threading.Event()
        self._timer: threading.Timer | None = None

    def __enter__(self) -> Exchange:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise FetchFailed(f"{short(self.target.url)}: no time left "
                              f"(limit {self.seconds:g} s)")
        self._timer = threading.Timer(remaining, self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.connection is not None:
            self.connection.close()

    def _expire(self) -> None:
        self.expired.set()
        sock = self.connection.sock if self.connection is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _failure(self, err: BaseException) -> FetchFailed:
        if self.expired.is_set():
            return FetchFailed(f"{short(self.target.url)} took longer than "
                               f"{self.seconds:g} s (the limit of this server)")
        return FetchFailed(f"{short(self.target.url)}: {err or type(err).__name__}")

    def send(self, method: str, body: bytes | None,
             headers: dict[str, str]) -> http.client.HTTPResponse:
        last: BaseException | None = None
        for address in self.target.addresses:
            timeout = max(0.1, min(self.connect_timeout,
                                   self.deadline - time.monotonic()))
            connection = _pinned(self.target, address, timeout)
            self.connection = connection
            try:
                connection.connect()
            except OSError as err:  # refused, unreachable: try the next checked address
                last = err
                connection.close()
                if self.expired.is_set():
                    break
                continue
            try:
                if connection.sock is not None:  # reads are bounded by the deadline timer
                    connection.sock.settimeout(max(0.1, self.deadline - time.monotonic()))
                connection.request(method, self.target.path, body=body, headers={
                    "User-Agent": USER_AGENT, "Accept-Encoding": "identity",
                    "Connection": "close", **headers})
                return connection.getresponse()
            except (OSError, http.client.HTTPException) as err:
                raise self._failure(err) from err
        raise self._failure(last or OSError("no address to connect to"))

    def read_body(self, response: http.client.HTTPResponse, sink: IO[bytes], limit: int,
                  should_stop: Callable[[], bool], url: str) -> Downloaded:
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise FetchFailed(f"{short(url)} is {int(declared)} bytes, more than the "
                              f"{limit} bytes allowed")
        digest, size = hashlib.sha256(), 0
        try:
            while chunk := response.read1(CHUNK):  # one recv at a time: the deadline holds
                size += len(chunk)
                if size > limit:
                    raise FetchFailed(f"{short(url)} is larger than the {limit} bytes "
                                      "allowed")
                if should_stop():
                    raise FetchFailed(f"{short(url)}: the download was stopped")
                digest.update(chunk)
                sink.write(chunk)
        except (OSError, http.client.HTTPException) as err:
            raise self._failure(err) from err
        if self.expired.is_set():  # the timer shut the socket: that end is not the body's
            raise self._failure(TimeoutError())
        if declared and declared.isdigit() and size != int(declared):
            raise FetchFailed(f"{short(url)} ended after {size} of {declared} bytes")
        media_type = response.getheader("Content-Type")
        return Downloaded(size, digest.hexdigest(), media_type, url)

    def drain(self, response: http.client.HTTPResponse, limit: int) -> None:
        """Read (and drop) at most `limit` bytes of a response we do not need."""
        try:
            response.read1(limit)
        except (OSError, http.client.HTTPException):
            pass


def _pinned(target: Target, address: str, timeout: float) -> http.client.HTTPConnection:
    """A connection to `target.host` that connects to the checked `address` only."""
    if target.scheme == "https":
        return _PinnedHTTPSConnection(target.host, target.port, address, timeout)
    return _PinnedHTTPConnection(target.host, target.port, address, timeout)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        # the certificate is checked against the host name, not the address
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
