"""An OpenReview API v2 server on 127.0.0.1 for tests: ``GET /notes`` as openreview-py
sees it (``{"notes": [...], "count": N}``, offset/limit paging, ``content.venueid`` or
``invitation`` queries, ``mintmdate``, ``sort=number:asc``, ``select=id,...``), with notes
shaped like tests/fixtures/openreview/notes-page.json and built from real arXiv metadata.

Without ``sort`` the order is whatever the database gives: here, every request another
shuffle, so offset paging without a sort order skips and repeats notes, as it may there.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.http_server import Loopback
from tests.zotero_server import sample_papers

FIXTURE = Path(__file__).parent / "fixtures" / "openreview" / "notes-page.json"
VENUE = "ICLR.cc/2025/Conference"


@dataclass
class Fault:
    """Misbehave once on the request number ``at`` (0-based) to /notes."""

    at: int
    status: int = 200
    body: bytes | None = None  # replaces the answer
    truncate: bool = False
    overcount: int = 0  # claim this many more notes in "count" than there are


@dataclass
class Venue:
    notes: list[dict[str, Any]] = field(default_factory=list)
    clock: int = 1_730_000_000_000  # ms

    def add(
        self,
        title: str,
        abstract: str,
        authors: list[str],
        *,
        venueid: str = VENUE,
        tldr: str | None = None,
        keywords: list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        template = json.loads(FIXTURE.read_bytes())["notes"][0]
        note = copy.deepcopy(template)
        self.clock += 1000
        number = len(self.notes) + 1
        note_id = f"note{number:06d}"
        note.update(id=note_id, forum=note_id, number=number, tmdate=self.clock, mdate=self.clock)
        content = {
            "title": {"value": title},
            "abstract": {"value": abstract},
            "authors": {"value": authors},
            "keywords": {"value": keywords or []},
            "venueid": {"value": venueid},
            "venue": {"value": _label(venueid)},
            **(extra or {}),
        }
        if tldr:
            content["TLDR"] = {"value": tldr}
        note["content"] = content
        self.notes.append(note)
        return note_id

    def set_venueid(self, note_id: str, venueid: str) -> None:
        self.clock += 1000
        for note in self.notes:
            if note["id"] == note_id:
                note["content"]["venueid"] = {"value": venueid}
                note["content"]["venue"] = {"value": _label(venueid)}
                note["tmdate"] = self.clock


def _label(venueid: str) -> str:
    if venueid.endswith("Withdrawn_Submission"):
        return "ICLR 2025 Conference Withdrawn Submission"
    if venueid.endswith("Desk_Rejected_Submission"):
        return "ICLR 2025 Conference Desk Rejected Submission"
    if venueid.endswith("Rejected_Submission"):
        return "Submitted to ICLR 2025"
    if venueid.endswith("/Submission"):
        return "ICLR 2025 Conference Submission"
    return "ICLR 2025 Poster"


class OpenReviewServer:
    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.faults: list[Fault] = []
        self.requests: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                number = len(outer.requests)
                outer.requests.append(query)
                status, body = outer._answer(url.path, query, number)
                with contextlib.suppress(ConnectionError):
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
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

    def _answer(self, path: str, query: dict[str, str], number: int) -> tuple[int, bytes]:
        fault = next((f for f in self.faults if f.at == number), None)
        if fault is not None and fault.body is not None:
            return fault.status, fault.body
        if path != "/notes":
            return 404, b'{"name": "NotFoundError", "message": "Not found", "status": 404}'
        notes = self.venue.notes
        if "content.venueid" in query:
            notes = [
                n for n in notes if n["content"]["venueid"]["value"] == query["content.venueid"]
            ]
        elif "invitation" in query:
            notes = [n for n in notes if query["invitation"] in n["invitations"]]
        else:
            body = b'{"name": "ValidationError", "message": "a query is required", "status": 400}'
            return 400, body
        if "mintmdate" in query:
            notes = [n for n in notes if n["tmdate"] >= int(query["mintmdate"])]
        if query.get("sort") == "number:asc":
            notes = sorted(notes, key=lambda n: n["number"])
        else:
            notes = random.Random(number).sample(notes, len(notes))
        if "select" in query:
            fields = query["select"].split(",")
            notes = [{k: n[k] for k in fields if k in n} for n in notes]
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 1000))
        count = len(notes) + (fault.overcount if fault else 0)
        body = json.dumps({"notes": notes[offset : offset + limit], "count": count}).encode()
        if fault is not None and fault.truncate:
            body = body[: len(body) // 2]
        return (fault.status if fault else 200), body


def sample_venue() -> tuple[Venue, dict[str, list[str]]]:
    """A venue of 60 real papers (arXiv metadata): 40 accepted (half with a TL;DR), 10
    rejected, 6 withdrawn, 4 desk-rejected. Returns note ids by fate."""
    papers = sample_papers()[:60]
    venue = Venue()
    fates: dict[str, list[str]] = {"accepted": [], "rejected": [], "withdrawn": [], "desk": []}
    for i, p in enumerate(papers):
        fate = "accepted" if i < 40 else "rejected" if i < 50 else "withdrawn" if i < 56 else "desk"
        venueid = {
            "accepted": VENUE,
            "rejected": f"{VENUE}/Rejected_Submission",
            "withdrawn": f"{VENUE}/Withdrawn_Submission",
            "desk": f"{VENUE}/Desk_Rejected_Submission",
        }[fate]
        tldr = f"In one sentence: {p.title.lower()}." if i % 2 == 0 else None
        fates[fate].append(
            venue.add(p.title, p.abstract, list(p.authors), venueid=venueid, tldr=tldr)
        )
    return venue, fates


@contextlib.contextmanager
def openreview_server(venue: Venue) -> Any:
    server = OpenReviewServer(venue)
    try:
        yield server
    finally:
        server.stop()
