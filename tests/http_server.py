"""A scriptable HTTP server on 127.0.0.1 for tests, and a fake clock: nothing leaves the machine.

server.serve("/rss", Reply(200, {"ETag": '"v1"'}, body))   # then point a client at it
server.requests[-1].headers["if-none-match"]
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx


@dataclass(frozen=True)
class Reply:
    """One scripted answer. `chunked` sends the body without a Content-Length."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunked: bool = False


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    path: str  # with the query string
    headers: dict[str, str]  # header names lower-cased

    @property
    def query(self) -> str:
        return urlsplit(self.path).query


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a timeout, the size cap) is expected here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Loopback:
    """A threading HTTP server with `handler` on a free port of 127.0.0.1: the part every
    local test server shares (LocalServer here, the Zotero and OpenReview servers)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.port = int(self.httpd.server_address[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> Loopback:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


class LocalServer:
    """A ThreadingHTTPServer whose answers are queued per path.

    The last reply queued for a path is sticky: it answers every later request too, so
    `serve("/x", Reply(500))` is a server that always fails. Unknown paths get a 404.
    """

    def __init__(self) -> None:
        self.routes: dict[str, deque[Reply]] = {}
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                with outer._lock:
                    outer.requests.append(
                        Seen(self.path, {k.lower(): v for k, v in self.headers.items()})
                    )
                    queue = outer.routes.get(path)
                    if queue:
                        reply = queue.popleft() if len(queue) > 1 else queue[0]
                    else:
                        reply = Reply(404, {"Content-Type": "text/plain"}, b"no route")
                with contextlib.suppress(ConnectionError):
                    self._send(reply)  # a client may stop reading (the size cap)

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.status == 304 or reply.status < 200:
                    self.end_headers()
                    return
                if reply.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for start in range(0, len(reply.body), 1024):
                        piece = reply.body[start : start + 1024]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep pytest's output clean

        self._loopback = Loopback(Handler)
        self.httpd = self._loopback.httpd
        self.port = self._loopback.port
        self.base = self._loopback.base

    def start(self) -> LocalServer:
        self._loopback.start()
        return self

    def stop(self) -> None:
        self._loopback.stop()

    def serve(self, path: str, *replies: Reply) -> str:
        """Queue replies for `path`; returns the full URL."""
        with self._lock:
            self.routes.setdefault(path, deque()).extend(replies)
        return self.base + path

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if urlsplit(r.path).path == path]


class FakeTime:
    """A clock that only moves when told to, and a sleep that records and moves it."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class ToLocal(httpx.HTTPTransport):
    """Sends every request to the local server, whatever host its URL names."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        return super().handle_request(request)
