"""Papers from a file the operator hands `paperboy fetch --from-file`: a saved response.

    kind = by content: an arXiv API answer, an arXiv RSS feed, a Hugging Face daily-papers
           JSON, a JSONL papers file, a BibTeX library, else a feed of config.toml (--source)
    parse it with the same parser the network path uses -> store it as that source would
    (listings.ingest_feed / ingest_trending / ingest_generic_feed)

A file that cannot be read is a ParseError naming it; nothing is stored from it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

from paperboy.jobs.core.errors import ParseError, SourceError
from paperboy.jobs.core.ids import abs_url, is_arxiv_id
from paperboy.jobs.core.records import SourcePaper, cut_count
from paperboy.jobs.fetch.listings import (
    ARXIV_SOURCE,
    BACKFILL_SOURCE,
    HF_SOURCE,
    LOOKUP_SOURCE,
    SourceReport,
    ingest_feed,
    ingest_generic_feed,
    ingest_trending,
)
from paperboy.jobs.fetch.sources.arxiv_api import parse_arxiv_api
from paperboy.jobs.fetch.sources.arxiv_rss import parse_arxiv_rss
from paperboy.jobs.fetch.sources.feeds import parse_feed
from paperboy.jobs.fetch.sources.huggingface import looks_like_hf_daily, read_hf_daily
from paperboy.jobs.storage import Storage


def read_saved_response(path: Path) -> tuple[bytes, str]:
    """Read a saved response: raw bytes, or a `{"url","status_code","body"}` capture."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e}") from e
    if path.suffix == ".json":
        try:
            capture = json.loads(data)
            body = capture["body"]
            url = str(capture.get("url") or path)
        except (ValueError, KeyError, TypeError) as e:
            raise ParseError(
                f"{path}: expected a capture {{'url', 'status_code', 'body'}}: {e!r}"
            ) from e
        if not isinstance(body, str):
            raise ParseError(
                f"{path}: the capture's body must be a string, not {type(body).__name__}"
            )
        return body.encode("utf-8"), url
    return data, str(path)


def looks_like_arxiv_api(data: bytes) -> bool:
    """An arXiv API answer is Atom with OpenSearch counts; a listing is RSS."""
    head = data[:4000]
    return b"opensearch" in head.lower() or b"export.arxiv.org/api" in head


def ingest_file(
    storage: Storage,
    path: Path,
    *,
    announce_types: Sequence[str] = ("new", "cross"),
    source: str | None = None,
    today: date | None = None,
) -> SourceReport:
    """`paperboy fetch --from-file`: ingest a saved response of a source.

    ``source`` says whose: ``huggingface`` (daily papers JSON), a [[sources.feeds]]
    name (any RSS/Atom feed, stored under that name), or ``arxiv``/None (an arXiv RSS
    listing or API response). A daily papers JSON array is recognised without it.
    """
    if source == HF_SOURCE or (source is None and _hf_file(path)):
        return _ingest_hf_file(storage, path, today=today)
    if source not in (None, ARXIV_SOURCE, LOOKUP_SOURCE, BACKFILL_SOURCE):
        data, url = read_saved_response(path)
        try:
            feed = parse_feed(data, url=url, name=source)
        except ParseError as e:
            raise ParseError(f"{path}: {e}") from e
        report = ingest_generic_feed(storage, feed, source=source, url=url, today=today)
        return replace(report, name=f"file:{path.name}")
    data, url = read_saved_response(path)
    named = source == ARXIV_SOURCE
    source = f"file:{path.name}"
    if looks_like_arxiv_api(data):
        try:
            found = parse_arxiv_api(data)
        except ParseError as e:
            raise ParseError(f"{path}: {e}") from e
        result = storage.upsert_papers(found, source=LOOKUP_SOURCE, listed=False)
        return SourceReport.stored(source, url, result, received=len(found), cut=cut_count(found))
    # Another site's feed read as arXiv's would store its posts as arXiv's listing (or
    # nothing), silently: unless --source arxiv says so, it must look like arXiv's.
    head = data[:8192].lower()
    hint = "" if named or any(mark in head for mark in _ARXIV_RSS_MARKS) else _FEED_HINT
    try:
        feed = parse_arxiv_rss(data, url=url)
    except ParseError as e:
        if str(path) in str(e) and not hint:
            raise
        where = "" if str(path) in str(e) else f"{path}: "
        raise ParseError(f"{where}{e}{hint}") from e
    if hint:
        raise ParseError(f"{path}: not an arXiv RSS listing{hint} (or --source arxiv)")
    report = ingest_feed(storage, feed, source=ARXIV_SOURCE, url=url, announce_types=announce_types)
    return replace(report, name=source)  # "file:NAME", as for every other kind of file


_FEED_HINT = "; for a feed of config.toml, name it: paperboy fetch --from-file FILE --source NAME"
# What arXiv's RSS says about itself near the top (a blog linking arXiv papers does not).
_ARXIV_RSS_MARKS = (b"xmlns:arxiv", b"rss.arxiv.org", b"arxiv.org/rss", b"updates on arxiv.org")


def _hf_file(path: Path) -> bool:
    """A saved daily papers answer: a JSON array whose items have a ``paper`` object."""
    try:
        return looks_like_hf_daily(path.read_bytes())
    except OSError:
        return False  # read_saved_response reports it


def _ingest_hf_file(storage: Storage, path: Path, *, today: date | None) -> SourceReport:
    """A saved daily papers answer: the raw JSON array, or a {"url", "body"} capture."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e}") from e
    data, url = (raw, str(path)) if raw.lstrip()[:1] == b"[" else read_saved_response(path)
    try:
        items, unreadable = read_hf_daily(data, url=url)
    except ParseError as e:
        raise ParseError(f"{path}: {e}") from e
    report = ingest_trending(
        storage, items, source=HF_SOURCE, url=url, today=today, unreadable=unreadable
    )
    return replace(report, name=f"file:{path.name}")


PAPER_FILE_SUFFIXES = (".jsonl", ".ndjson")


def is_paper_file(path: Path) -> bool:
    """A file of papers people hand us (what `paperboy rank --saved` reads): JSONL lines
    {"id","title","abstract",...} or a BibTeX library, not a source's saved response."""
    from paperboy.jobs.fetch.bibtex import is_bibtex

    return path.suffix.lower() in PAPER_FILE_SUFFIXES or is_bibtex(path)


def ingest_paper_file(storage: Storage, path: Path) -> SourceReport:
    """`paperboy fetch --from-file saved.jsonl` (or .bib): store the papers' text offline.

    The papers are stored as looked up, not as announced: they give saved papers their
    text (so a fresh config ranks against them) and are never mailed as new. Records with
    neither a title nor an abstract are skipped and counted. The file is remembered as a
    source, `file:NAME`, so `paperboy status` shows what came from where.
    """
    from paperboy.jobs.fetch.bibtex import is_bibtex, read_bibtex_papers
    from paperboy.jobs.fetch.paperfiles import read_jsonl

    papers = read_bibtex_papers(path) if is_bibtex(path) else read_jsonl(path)
    usable = [p for p in papers if p.title.strip() or p.abstract.strip()]
    found = [
        SourcePaper(
            id=p.id,
            title=p.title,
            abstract=p.abstract,
            authors=p.authors,
            categories=p.categories,
            link=abs_url(p.id) if is_arxiv_id(p.id) else "",
            announced=p.announced,
        )
        for p in usable
    ]
    name = f"file:{path.name}"
    result = storage.upsert_papers(found, source=name, listed=False)
    storage.record_fetch(name, url=str(path.resolve()), count=len(found), new=result.new)
    skipped = (
        {"without title or abstract": len(papers) - len(usable)}
        if len(usable) < len(papers)
        else {}
    )
    return SourceReport.stored(
        name,
        str(path),
        result,
        received=len(papers),
        kept=len(found),
        skipped=skipped,
        cut=cut_count(found),
    )
