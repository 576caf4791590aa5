"""What every response of `paperboy serve` gets, and the one limit on what it reads.

Security headers on every response: a CSP without inline script, X-Frame-Options DENY,
Referrer-Policy no-referrer, and Cache-Control no-store unless the route set its own
(the feed's "private, no-cache": a reader revalidates it with its ETag). A body over
MAX_BODY bytes gets 413, whether its length is announced or counted as it comes.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_BODY", "SECURITY_HEADERS", "Guard", "TooLarge", "read_body", "too_large"]

MAX_BODY = 16 * 1024  # a form here is a few hundred bytes
SECURITY_HEADERS = {
    # No script at all; styles only from our own file; forms only post back here.
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
}


class Guard:
    """Security headers on every response; 413 for a body over MAX_BODY bytes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                given = [(k.decode("latin-1").lower(), k, v) for k, v in message.get("headers", [])]
                own = {name for name, _, _ in given if name == "cache-control"}  # the route's
                headers = [
                    (k, v) for name, k, v in given if name not in SECURITY_HEADERS or name in own
                ]
                headers += [
                    (k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k not in own
                ]
                message = {**message, "headers": headers}
            await send(message)

        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            await too_large()(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


def too_large() -> Response:
    return PlainTextResponse("Request too large.\n", status_code=413)


class TooLarge(Exception):
    pass


async def read_body(request: Request) -> bytes:
    """The request body, at most MAX_BODY bytes (a chunked body is counted as it comes)."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            raise TooLarge
    return bytes(data)
