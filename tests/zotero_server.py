"""A Zotero Web API v3 server on 127.0.0.1 for tests, built from the API's documentation.

https://www.zotero.org/support/dev/web_api/v3/basics and .../v3/syncing: every object has
a version; the library's version is the highest. The server answers

    GET /<lib>/items?since=V&start=S&limit=L[&includeTrashed=1]
        Last-Modified-Version: <library version>, Total-Results: <n>,
        Link: <...start=S+L>; rel="next", <...>; rel="last"
        If-Modified-Since-Version: V >= library version  -> 304 Not Modified
    GET /<lib>/deleted?since=V   {"items": [keys deleted after V], "collections": [], ...}
    GET /<lib>/collections?start=S&limit=L
    a request without the right Zotero-API-Key               -> 403 Forbidden

and can be told to misbehave once (``fail_next``): 403, 429 with Retry-After, a 200 with
a Backoff header, a body cut short. Items are shaped like tests/fixtures/zotero/
items-page.json; a big library is generated from the real arXiv metadata of the bundled
sample listings (``sample_library``).
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from paperboy.jobs.fetch.sources.arxiv_rss import parse_arxiv_rss
from tests.http_server import Loopback

FIXTURES = Path(__file__).parent / "fixtures" / "zotero"
SAMPLES = Path(__file__).parent.parent / "jobs" / "data" / "sample"
LIBRARY = "users/123456"
KEY = "secret-zotero-key"


@dataclass
class Fault:
    """One scripted misbehaviour for the next request whose path ends with ``endpoint``."""

    endpoint: str  # "items", "deleted", "collections"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False  # send the real answer cut in half (Content-Length matching)
    after: int = 0  # let this many matching requests through first


@dataclass
class Library:
    """A Zotero library: items and collections with versions, and a deletion log."""

    version: int = 0
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)  # key -> version of deletion
    _next: int = 0

    def key(self) -> str:
        self._next += 1
        return f"K{self._next:07d}"

    def add(self, data: dict[str, Any], key: str | None = None) -> str:
        """Add an item (its ``data`` object); the library's version moves on."""
        self.version += 1
        key = key or self.key()
        data = {**copy.deepcopy(data), "key": key, "version": self.version}
        self.items[key] = {
            "key": key,
            "version": self.version,
            "library": {"type": "user", "id": 123456, "name": "ada", "links": {}},
            "links": {},
            "meta": {},
            "data": data,
        }
        return key

    def modify(self, key: str, **changes: Any) -> None:
        self.version += 1
        item = self.items[key]
        item["data"].update(changes)
        item["version"] = item["data"]["version"] = self.version

    def delete(self, key: str) -> None:
        self.version += 1
        del self.items[key]
        self.deleted[key] = self.version

    def add_collection(self, key: str, name: str, parent: str | None = None) -> None:
        """A collection (a sub-collection of `parent`, by key, as the API shows one)."""
        self.version += 1
        self.collections[key] = {
            "key": key,
            "version": self.version,
            "data": {
                "key": key,
                "version": self.version,
                "name": name,
                "parentCollection": parent or False,
            },
        }


class ZoteroServer:
    """Serves one Library at /users/123456 (see the module's docstring)."""

    def __init__(self, library: Library, *, key: str = KEY) -> None:
        self.library = library
        self.key = key
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                with outer._lock:
                    outer.requests.append((self.path, headers))
                    status, extra, body = outer._answer(self.path, headers)
                with contextlib.suppress(ConnectionError):
                    self.send_response(status)
                    for name, value in extra.items():
                        self.send_header(name, value)
                    if status == 304:
                        self.end_headers()
                        return
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._loopback = Loopback(Handler).start()
        self.httpd = self._loopback.httpd
        self.base = self._loopback.base

    def stop(self) -> None:
        self._loopback.stop()

    def fail_next(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def seen(self, endpoint: str) -> list[tuple[str, dict[str, str]]]:
        return [(p, h) for p, h in self.requests if urlsplit(p).path.endswith("/" + endpoint)]

    # --- the API ------------------------------------------------------------------------

    def _answer(self, raw_path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        prefix = f"/{LIBRARY}/"
        if not url.path.startswith(prefix):
            return 404, {}, b"Not found"
        endpoint = url.path[len(prefix) :]
        fault = self._fault(endpoint)
        if fault is not None and not fault.truncate and fault.status != 200:
            return fault.status, fault.headers, b"Scripted failure"
        if headers.get("zotero-api-key") != self.key:
            return 403, {"Content-Type": "text/plain"}, b"Forbidden"
        lib = self.library
        base = {"Last-Modified-Version": str(lib.version), "Content-Type": "application/json"}
        if fault is not None:
            base.update(fault.headers)
        since = int(query.get("since", "0") or 0)
        if endpoint == "items":
            known = headers.get("if-modified-since-version")
            if known is not None and int(known) >= lib.version:
                return 304, {"Last-Modified-Version": str(lib.version)}, b""
            chosen = [
                i
                for i in sorted(lib.items.values(), key=lambda i: (i["version"], i["key"]))
                if i["version"] > since
                and (query.get("includeTrashed") == "1" or not i["data"].get("deleted"))
            ]
            status, extra, body = self._page(url.path, query, chosen, base, headers)
        elif endpoint == "deleted":
            if "since" not in query:
                return 400, {}, b"'since' must be provided"
            body = json.dumps(
                {
                    "collections": [],
                    "searches": [],
                    "items": sorted(k for k, v in lib.deleted.items() if v > since),
                    "tags": [],
                    "settings": [],
                }
            ).encode()
            status, extra = 200, base
        elif endpoint == "collections":
            status, extra, body = self._page(
                url.path, query, list(lib.collections.values()), base, headers
            )
        else:
            return 404, {}, b"Not found"
        if fault is not None:
            extra = {**extra, **fault.headers}
            if fault.truncate:
                body = body[: len(body) // 2]
        return status, extra, body

    def _fault(self, endpoint: str) -> Fault | None:
        for fault in self.faults:
            if fault.endpoint == endpoint:
                if fault.after > 0:
                    fault.after -= 1
                    return None
                self.faults.remove(fault)
                return fault
        return None

    def _page(
        self,
        path: str,
        query: dict[str, str],
        chosen: list[dict[str, Any]],
        base: dict[str, str],
        headers: dict[str, str],
    ) -> tuple[int, dict[str, str], bytes]:
        start = int(query.get("start", "0") or 0)
        limit = min(int(query.get("limit", "25") or 25), 100)
        page = chosen[start : start + limit]
        host = headers.get("host", "127.0.0.1")
        links = []
        if start + limit < len(chosen):
            links.append(f'<{self._link(host, path, query, start + limit)}>; rel="next"')
            last = (len(chosen) - 1) // limit * limit
            links.append(f'<{self._link(host, path, query, last)}>; rel="last"')
        extra = {**base, "Total-Results": str(len(chosen))}
        if links:
            extra["Link"] = ", ".join(links)
        return 200, extra, json.dumps(page).encode()

    @staticmethod
    def _link(host: str, path: str, query: dict[str, str], start: int) -> str:
        return f"http://{host}{path}?{urlencode({**query, 'start': start})}"


# --- libraries made of real metadata ---------------------------------------------------


def template_items() -> list[dict[str, Any]]:
    """The documented item shapes (preprint, journal article, attachment, note, trashed)."""
    items: list[dict[str, Any]] = json.loads((FIXTURES / "items-page.json").read_bytes())
    return items


def sample_papers() -> list[Any]:
    """The real papers of the bundled sample listings (arXiv metadata), deduplicated."""
    seen: dict[str, Any] = {}
    for path in sorted(SAMPLES.glob("arxiv-*.xml")):
        for paper in parse_arxiv_rss(path.read_bytes(), url=str(path)).papers:
            seen.setdefault(paper.id, paper)
    return list(seen.values())


@dataclass(frozen=True)
class Expected:
    """What a sync of ``sample_library`` must put into the profile, worked out from how
    each item was made (not from the code under test)."""

    arxiv: frozenset[str]  # arXiv ids
    other: frozenset[str]  # DOIs of the non-arXiv items with an abstract
    ignored: frozenset[str]  # item keys that must not count (attachments, notes, ...)


def sample_library(n: int = 3000) -> tuple[Library, Expected]:
    """A library of ``n`` items from real metadata, in documented shapes.

    Item i uses a real paper as (i % 6): a preprint with archiveID (arXiv id), a
    journal article with that paper's text under a DOI and no arXiv id, an attachment
    (a child item), a note, a journal article without an abstract, or an arXiv item
    found only by its URL.
    """
    papers = sample_papers()
    shapes: dict[str, dict[str, Any]] = {}
    for t in template_items():
        if not t["data"].get("deleted"):
            shapes.setdefault(t["data"]["itemType"], t["data"])
    preprint, article = shapes["preprint"], shapes["journalArticle"]
    lib = Library()
    arxiv: set[str] = set()
    other: set[str] = set()
    ignored: set[str] = set()
    for i in range(n):
        kind = i % 6
        p = papers[(i // 6 + (len(papers) // 2 if kind == 5 else 0)) % len(papers)]
        creators = [
            {
                "creatorType": "author",
                "firstName": " ".join(a.split()[:-1]),
                "lastName": a.split()[-1],
            }
            for a in p.authors
            if a.split()
        ]
        if kind == 0:
            data = {
                **preprint,
                "title": p.title,
                "abstractNote": p.abstract,
                "creators": creators,
                "archiveID": f"arXiv:{p.id}",
                "DOI": f"10.48550/arXiv.{p.id}",
                "url": f"http://arxiv.org/abs/{p.id}",
                "extra": "",
                "collections": [],
            }
            lib.add(data)
            arxiv.add(p.id)
        elif kind == 1:
            data = {
                **article,
                "title": f"{p.title} (journal version {i})",
                "abstractNote": p.abstract,
                "creators": creators,
                "DOI": f"10.5555/paperboy.{i}",
                "url": "",
                "collections": [],
            }
            lib.add(data)
            other.add(f"10.5555/paperboy.{i}")
        elif kind == 2:
            ignored.add(lib.add({"itemType": "attachment", "title": "Full Text PDF", "tags": []}))
        elif kind == 3:
            ignored.add(lib.add({"itemType": "note", "note": f"<p>{p.title}</p>", "tags": []}))
        elif kind == 4:
            data = {**article, "title": f"{p.title} (talk {i})", "abstractNote": "", "DOI": ""}
            ignored.add(lib.add({**data, "url": "", "creators": creators, "collections": []}))
        else:
            data = {
                **article,
                "itemType": "webpage",
                "title": p.title,
                "abstractNote": p.abstract,
                "creators": creators,
                "DOI": "",
                "url": f"https://arxiv.org/abs/{p.id}v2",
                "collections": [],
            }
            lib.add(data)
            arxiv.add(p.id)
    return lib, Expected(frozenset(arxiv), frozenset(other), frozenset(ignored))


@contextlib.contextmanager
def zotero_server(library: Library) -> Iterator[ZoteroServer]:
    server = ZoteroServer(library)
    try:
        yield server
    finally:
        server.stop()
