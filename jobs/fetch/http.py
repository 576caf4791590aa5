"""One polite HTTP client for every source: retrieve bytes, never parse them.

Timeouts (per read, and a deadline for a whole request: a server that trickles one
byte every few seconds never holds a fetch for longer), a descriptive User-Agent with a
contact address, conditional GET (ETag / Last-Modified; a 304 is "unchanged", not an
error), Retry-After honoured with a cap, bounded retries with exponential backoff on
429/5xx and network errors, a cap on the size of a response, and a minimum interval
between requests to one host (arXiv asks for one request every 3 seconds). Every failure
leaves as a SourceError. Given a Stop (jobs.core.stopping), every wait (retry, Retry-After,
throttle, an API's Backoff) ends as soon as it is set, raising Stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx

from paperboy import __version__
from paperboy.jobs.core.errors import SourceError
from paperboy.jobs.core.stopping import Stop

log = logging.getLogger(__name__)

MAX_BYTES = 50 * 1024 * 1024  # arXiv's busiest day is ~5 MB of RSS; anything 10x is wrong
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 300.0  # never sleep longer than this inside one run; try again next run
DEADLINE = 120.0  # seconds for one request's whole answer (arXiv's 5 MB takes ~10 s)
MAX_REDIRECTS = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class HttpStatusError(SourceError):
    """The server answered with an error status (after the retries, if any were due).

    ``retry_after``: the seconds the server asked to wait (Retry-After or Zotero's
    Backoff), when it said so. Callers tell a rate limit or a refused key by these, never
    by the message's words.
    """

    def __init__(self, message: str, *, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Response:
    """What a fetch brought back. `content` is None when the server said 304."""

    url: str
    status: int
    content: bytes | None
    etag: str | None
    last_modified: str | None
    content_type: str | None
    # Every response header, names lower-cased (APIs put their state there: Zotero's
    # Last-Modified-Version, Link and Total-Results).
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def user_agent(contact: str | None) -> str:
    """A User-Agent that says who we are and how to reach the operator, as arXiv asks."""
    mail = f"; mailto:{contact}" if contact else ""
    return f"Paperboy/{__version__} (+https://github.com/paperboy-digest/paperboy{mail})"


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": no zone given; HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


class HttpClient:
    """Fetches URLs politely. `transport`, `sleep` and `clock` are injectable for tests.

    ``stop``: asked before each attempt and around each wait; a wait without an injected
    ``sleep`` is ``stop.sleep`` (it ends the moment a stop is asked for). Stopped leaves
    ``get`` then, and no request is made after it.

    ``timeout`` bounds each network read; ``deadline`` one attempt's whole answer, by
    ``clock``: checked as each piece of the body arrives, and no read waits longer than
    the deadline, so an attempt ends within about twice the deadline at the very worst
    (a server trickling its headers; its body is checked piece by piece). An attempt past
    its deadline is not retried: the same server would trickle again.
    """

    def __init__(
        self,
        *,
        contact: str | None = None,
        timeout: float = 30.0,
        deadline: float = DEADLINE,
        retries: int = 3,
        backoff: float = 2.0,
        max_bytes: int = MAX_BYTES,
        min_interval: Mapping[str, float] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.time,
        stop: Stop | None = None,
    ) -> None:
        self._client = httpx.Client(
            headers={"User-Agent": user_agent(contact)},
            timeout=httpx.Timeout(min(timeout, deadline)),
            follow_redirects=True,
            transport=transport,
        )
        self.retries = retries
        self.deadline = deadline
        self.backoff = backoff
        self.max_bytes = max_bytes
        self.min_interval = dict(
            min_interval
            if min_interval is not None
            else {"export.arxiv.org": 3.0, "rss.arxiv.org": 3.0}
        )
        self._last_request: dict[str, float] = {}
        self._stop = stop
        self._sleep = sleep if sleep is not None else stop.sleep if stop else time.sleep
        self._clock = clock

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _throttle(self, host: str) -> None:
        interval = self.min_interval.get(host, 0.0)
        last = self._last_request.get(host)
        if interval and last is not None:
            wait = last + interval - self._clock()
            if wait > 0:
                self.wait(wait)
        self._last_request[host] = self._clock()

    def check_stop(self) -> None:
        """Raise Stopped if the client's Stop was set."""
        if self._stop is not None:
            self._stop.check()

    def wait(self, seconds: float) -> None:
        """Sleep with the client's (injectable) sleep: an API's Backoff between requests.
        Raises Stopped when a stop is asked for before or during the wait."""
        if seconds > 0:
            self._pause(seconds)
        else:
            self.check_stop()

    def _pause(self, seconds: float) -> None:
        self.check_stop()
        self._sleep(seconds)
        self.check_stop()

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """GET url (conditionally when etag/last_modified are given); SourceError on failure,
        HttpStatusError when the server answered with an error status.

        ``headers`` are sent as they are (an API's version or key header); they are never
        logged, so they may hold a secret. A request with ``headers`` follows redirects
        only within the URL's origin (scheme, host and port): see _fetch_guarded.
        """
        guarded = bool(headers)
        headers = dict(headers or {})
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            host = urlsplit(url).hostname or ""
        except ValueError as e:  # e.g. "http://[x/": not worth a request, nor a retry
            raise SourceError(f"GET {url}: invalid URL: {e}") from e
        attempt = 0
        while True:
            attempt += 1
            self.check_stop()
            self._throttle(host)
            try:
                response = (
                    self._fetch_guarded(url, headers) if guarded else self._fetch(url, headers)
                )
            except httpx.UnsupportedProtocol as e:
                # A URL without http(s):// is a configuration mistake: retrying cannot help.
                raise SourceError(f"GET {url}: {e}") from e
            except (httpx.TimeoutException, httpx.TransportError) as e:
                kind = "timed out" if isinstance(e, httpx.TimeoutException) else "failed"
                if attempt <= self.retries:
                    delay = self.backoff * 2 ** (attempt - 1)
                    log.warning("GET %s %s (%s); retrying in %.0f s", url, kind, e, delay)
                    self._pause(delay)
                    continue
                raise SourceError(f"GET {url} {kind} after {attempt} attempts: {e}") from e
            except (httpx.HTTPError, httpx.InvalidURL) as e:
                # Not a network failure but a broken answer (a redirect loop, a corrupt
                # gzip body) or URL: it would break the same way again, so no retry.
                raise SourceError(f"GET {url} failed: {e}") from e
            if response.status in RETRY_STATUSES and attempt <= self.retries:
                wait = _retry_after(response.retry_after, self._clock())
                delay = wait if wait is not None else self.backoff * 2 ** (attempt - 1)
                if delay > MAX_RETRY_AFTER:
                    raise HttpStatusError(
                        f"GET {url}: HTTP {response.status}, server asks to wait "
                        f"{delay:.0f} s; giving up for this run",
                        status=response.status,
                        retry_after=delay,
                    )
                log.warning("GET %s: HTTP %s; retrying in %.0f s", url, response.status, delay)
                self._pause(delay)
                continue
            if response.status == 304:
                # A 304 may carry fresher validators; else the ones sent still hold.
                return Response(
                    url,
                    304,
                    None,
                    response.etag or etag,
                    response.last_modified or last_modified,
                    None,
                    response.headers,
                )
            if response.status >= 400:
                raise HttpStatusError(
                    f"GET {url}: HTTP {response.status} {response.reason}",
                    status=response.status,
                    retry_after=_retry_after(response.retry_after, self._clock()),
                )
            return Response(
                url,
                response.status,
                response.content,
                response.etag,
                response.last_modified,
                response.content_type,
                response.headers,
            )

    def _past_deadline(self, url: str, started: float) -> None:
        if self._clock() - started > self.deadline:
            raise SourceError(
                f"GET {url}: no complete answer within the {self.deadline:g} s deadline "
                "(the server sends too slowly); giving up for this run"
            )

    def _fetch_guarded(self, url: str, headers: dict[str, str]) -> _Raw:
        """_fetch following redirects by hand, only within the first URL's origin.

        The caller's headers may hold a key (Zotero-API-Key), and httpx strips only
        Authorization and Cookie on a redirect to another host: a custom header would
        follow a redirect anywhere. Stripping the key and following was the other choice;
        it turns a redirect into a baffling 403 (a private library without the key) or a
        silent partial answer, while a redirect elsewhere is nothing an API we send keys
        to does in its normal work. So such a redirect is refused, naming where it led.
        """
        origin = _origin(url)
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            raw = self._fetch(current, headers, follow=False)
            location = raw.headers.get("location")
            if raw.status not in REDIRECT_STATUSES or not location:
                return raw
            try:
                target = urljoin(current, location)
                elsewhere = _origin(target) != origin
            except ValueError as e:  # a Location with a port that is not a number
                raise SourceError(f"GET {url}: redirected to an invalid URL: {e}") from e
            if elsewhere:
                raise SourceError(
                    f"GET {url}: redirected to another host ({_origin(target)}); not "
                    "followed, as the request carries an API key"
                )
            current = target
        raise SourceError(f"GET {url}: more than {MAX_REDIRECTS} redirects")

    def _fetch(self, url: str, headers: dict[str, str], *, follow: bool = True) -> _Raw:
        started = self._clock()
        with self._client.stream("GET", url, headers=headers, follow_redirects=follow) as r:
            self._past_deadline(url, started)
            declared = r.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > self.max_bytes:
                raise SourceError(
                    f"GET {url}: response of {int(declared)} bytes exceeds the "
                    f"{self.max_bytes}-byte cap"
                )
            chunks = []
            size = 0
            if r.status_code < 300:
                for chunk in r.iter_bytes():
                    self._past_deadline(url, started)
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise SourceError(
                            f"GET {url}: response exceeds the {self.max_bytes}-byte cap"
                        )
                    chunks.append(chunk)
            return _Raw(
                status=r.status_code,
                reason=r.reason_phrase,
                content=b"".join(chunks),
                etag=r.headers.get("ETag"),
                last_modified=r.headers.get("Last-Modified"),
                content_type=r.headers.get("Content-Type"),
                # Zotero says "Backoff" where others say "Retry-After".
                retry_after=r.headers.get("Retry-After") or r.headers.get("Backoff"),
                headers={k.lower(): v for k, v in r.headers.items()},
            )


def _origin(url: str) -> str:
    """scheme://host:port of a URL (the default port spelled out), for same-origin checks."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme, 0)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


@dataclass(frozen=True, slots=True)
class _Raw:
    status: int
    reason: str
    content: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None
    retry_after: str | None
    headers: dict[str, str]
