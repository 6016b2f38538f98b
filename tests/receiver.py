"""A real HTTP server a test starts on a loopback address of its choice, to be fetched from
(inputs by reference) or called back (subscriber callbacks), recording every request.

Routes (GET and POST alike):
    /files/<name>            the bytes given to `serve(name, data)`
    /redirect?to=<url>       302 to <url>
    /big?declared=1          an endless body: with Content-Length (huge) or chunked
    /slow?bytes=N&every=S    N bytes, one every S seconds
    /hang                    reads the request, never answers (until the server stops)
    /hooks/<name>            records the body; answers with the next status of
                             `answer(name, ...)` (200 once they are used up)
    anything else            404
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, host: str = "127.0.0.2") -> None:
        self.host = host
        self.files: dict[str, bytes] = {}
        self.answers: dict[str, list[int]] = {}
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                receiver._handle(self)

            do_POST = do_GET  # noqa: N815

        family = socket.AF_INET6 if ":" in host else socket.AF_INET

        class Server(http.server.ThreadingHTTPServer):
            address_family = family
            daemon_threads = True

        self.server = Server((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def serve(self, name: str, data: bytes) -> str:
        self.files[name] = data
        return f"{self.url}/files/{name}"

    def answer(self, name: str, *statuses: int) -> str:
        self.answers[name] = list(statuses)
        return f"{self.url}/hooks/{name}"

    def calls(self, path_start: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_start)]

    def wait_for(self, path_start: str, count: int = 1, timeout: float = 60) -> list[Request]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls(path_start)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{count} request(s) to {path_start} expected in {timeout} s, "
                             f"got {len(self.calls(path_start))}")

    # --- the routes ---------------------------------------------------------------------------

    def _handle(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        with self._lock:
            self.requests.append(Request(handler.command, handler.path,
                                         dict(handler.headers.items()), body))
        path = parts.path
        try:
            if path.startswith("/files/") and path[7:] in self.files:
                self._send(handler, 200, self.files[path[7:]])
            elif path == "/redirect":
                self._send(handler, 302, b"", {"Location": query["to"]})
            elif path == "/big":
                self._endless(handler, declared=query.get("declared") == "1")
            elif path == "/slow":
                self._slow(handler, int(query.get("bytes", "100")),
                           float(query.get("every", "1")))
            elif path == "/hang":
                self.stopping.wait()
            elif path.startswith("/hooks/"):
                with self._lock:
                    statuses = self.answers.get(path[7:]) or []
                    status = statuses.pop(0) if statuses else 200
                self._send(handler, status, b"{}", {"Content-Type": "application/json"})
            else:
                self._send(handler, 404, b"not here")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def _send(self, handler: http.server.BaseHTTPRequestHandler, status: int, data: bytes,
              headers: dict[str, str] | None = None) -> None:
        handler.send_response(status)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _endless(self, handler: http.server.BaseHTTPRequestHandler, declared: bool) -> None:
        handler.send_response(200)
        if declared:
            handler.send_header("Content-Length", str(10**12))
        else:
            handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        chunk = b"x" * 65536
        while not self.stopping.is_set():
            handler.wfile.write(chunk if declared else b"%x\r\n%s\r\n" % (len(chunk), chunk))

    def _slow(self, handler: http.server.BaseHTTPRequestHandler, size: int,
              every: float) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(size))
        handler.end_headers()
        for _ in range(size):
            if self.stopping.wait(every):
                return
            handler.wfile.write(b"s")
            handler.wfile.flush()
