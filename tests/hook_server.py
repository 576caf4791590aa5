"""A webhook receiver on 127.0.0.1 for the channel tests: it records every POST (and PUT)
with its path, headers and body, and answers with the status scripted for its path
(the last one scripted is sticky; 200 when none is). Apprise's json://, form:// and
ntfy:// (pointed at this host) all land here: nothing leaves the machine.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.http_server import Loopback


@dataclass(frozen=True)
class Hit:
    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


class HookServer:
    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.statuses: dict[str, deque[int]] = {}
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                with outer._lock:
                    outer.hits.append(
                        Hit(
                            self.command,
                            split.path,
                            split.query,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                    queue = outer.statuses.get(split.path)
                    status = 200
                    if queue:
                        status = queue.popleft() if len(queue) > 1 else queue[0]
                reply = b'{"id":"x"}' if status < 300 else b'{"error":"scripted"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_POST = _handle
            do_PUT = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._loopback = Loopback(Handler)
        self.port = self._loopback.port
        self.host = f"127.0.0.1:{self.port}"

    def __enter__(self) -> HookServer:
        self._loopback.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._loopback.stop()

    def script(self, path: str, *statuses: int) -> None:
        """Answer requests to `path` with these statuses in turn (the last one sticks)."""
        with self._lock:
            self.statuses[path] = deque(statuses)

    def at(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]
