"""Follow each user's Zotero library live: an incremental sync on every fetch (issue #15).

    for each user with [users.zotero]:
        skip if the API asked us to wait (429 / Backoff) and that time has not come
        key      = $api_key_env (read now; never logged, never stored)
        scope    = library + the keys of the named collections + excluded tags
                   + which Zotero collection feeds which of the user's collections
        since    = the synced library version, or 0 when never synced or the scope changed
        GET items?since=V (If-Modified-Since-Version: V)  -> 304: unchanged, done
        follow Link rel="next" to the last page; every page must carry the same
        Last-Modified-Version, and the pages together Total-Results items
        GET deleted?since=V                                 (incremental syncs only)
        in one transaction: store the items' papers; in scope and not trashed -> in the
            synced set; trashed, deleted, moved out of the collections, tagged with an
            excluded tag -> out; version := Last-Modified-Version

A user's collections (issue #23) may each name a Zotero collection (`zotero = "RL"`, a
name or a key): an item in it feeds that Paperboy collection (an item in two such Zotero
collections feeds both), an item in none of them the user's default collection.
Sub-collections are not included (Zotero's own default view of a collection): name them
too. An item moved between Zotero collections gets a new version, so the next
incremental sync moves it. Changing the mapping changes the scope: a full sync.

Any failure (403 bad key, 429 with a long Retry-After, an outage, a truncated body, a
library that changed mid-sync) is recorded as the user's last error and changes nothing:
the profile keeps the last complete sync. The other users and sources go on.

Items with an arXiv id are saved papers (the arXiv API fills in an abstract Zotero lacks);
the others need a title and an abstract to be of use to the ranker.

pyzotero was considered and not used: its current release requires bibtexparser < 2
(Paperboy reads BibTeX with bibtexparser 2), it cannot send If-Modified-Since-Version on
item reads (so no 304 for an unchanged library), and it sleeps on Backoff/429 with the
real clock inside the library. The API is plain JSON over HTTP: jobs.fetch.http's client gives
retries, Retry-After, size caps and an injectable clock, as for every other source.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from paperboy.jobs.config.model import Config, UserConfig, ZoteroConfig
from paperboy.jobs.core.errors import ConfigError, ParseError, SourceError
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.fetch.http import (
    MAX_RETRY_AFTER,
    RETRY_STATUSES,
    HttpClient,
    HttpStatusError,
    Response,
    _retry_after,
)
from paperboy.jobs.fetch.sources.zotero_api import (
    ZoteroItem,
    collections_url,
    deleted_url,
    items_url,
    next_link,
    parse_collections,
    parse_deleted,
    parse_items,
)
from paperboy.jobs.storage import Storage, utcnow

log = logging.getLogger(__name__)

MAX_PAGES = 2000  # 200,000 items: a loop guard, far beyond any personal library


def source_name(user: str) -> str:
    """The name of a user's Zotero sync in reports: ``zotero:ada``."""
    return f"zotero:{user}"


@dataclass(frozen=True, slots=True)
class ZoteroReport:
    """One user's sync: ok | unchanged | deferred | error."""

    user: str
    library: str
    status: str
    version: int | None = None
    received: int = 0
    added: int = 0
    removed: int = 0
    total: int = 0
    skipped: int = 0  # items with neither an arXiv id nor an abstract
    full: bool = False
    error: str | None = None


class _Wait(SourceError):
    """The API asked us to come back later (429 with a long Retry-After, or Backoff)."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


def sync_all(
    config: Config, storage: Storage, client: HttpClient, *, now: datetime | None = None
) -> list[ZoteroReport]:
    """Sync every user who follows a Zotero library; one failing never stops the others."""
    return [sync_user(user, storage, client, now=now) for user in config.users if user.zotero]


def sync_user(
    user: UserConfig, storage: Storage, client: HttpClient, *, now: datetime | None = None
) -> ZoteroReport:
    """One user's incremental sync (see the module's docstring); never raises: any failure
    (a SourceError, or a surprise the library's data provoked) is the report's error."""
    cfg = user.zotero
    assert cfg is not None, "sync_user() needs a user with [users.zotero]"
    now = now or utcnow()
    state = storage.zotero_state(user.name)
    if state is not None and state.retry_after is not None and now < state.retry_after:
        message = f"Zotero asked to wait until {state.retry_after:%Y-%m-%d %H:%M} UTC"
        log.info("%s: %s; not synced this time", source_name(user.name), message)
        return ZoteroReport(user.name, cfg.library, "deferred", state.version, error=message)
    try:
        headers = _headers(cfg)
        keys, mapping = _collection_keys(cfg, user, client, headers)
        scope = _scope(cfg, keys, mapping)
        full = state is None or state.version is None or state.scope != scope
        since = 0 if full or state is None or state.version is None else state.version
        return _sync(user, cfg, storage, client, headers, scope=scope, since=since, full=full)
    except Exception as e:  # one library's failure never stops the other sources
        retry = None
        if isinstance(e, _Wait):
            retry = now + timedelta(seconds=e.seconds)
        if isinstance(e, SourceError | ConfigError):
            error = f"{cfg.library}: {e}"
            log.error("%s: %s", source_name(user.name), error)
        else:
            error = f"{cfg.library}: unexpected error: {type(e).__name__}: {e}"
            log.error("%s: %s", source_name(user.name), error, exc_info=e)
        storage.record_zotero_attempt(
            user.name, library=cfg.library, error=error, retry_after=retry
        )
        version = state.version if state else None
        return ZoteroReport(user.name, cfg.library, "error", version, error=error)


def _headers(cfg: ZoteroConfig) -> dict[str, str]:
    headers = {"Zotero-API-Version": "3"}
    key = cfg.api_key()
    if key:
        headers["Zotero-API-Key"] = key
    return headers


def _scope(
    cfg: ZoteroConfig, collection_keys: list[str], mapping: dict[str, list[str]] | None = None
) -> str:
    """What a sync covers; when it changes, the next sync starts again from version 0.
    ``mapping``: Zotero collection key -> the Paperboy collections it feeds (issue #23);
    written only when there is one, so a library followed before collections keeps its
    scope (and its incremental sync)."""
    scope: dict[str, object] = {
        "library": cfg.library,
        "collections": sorted(collection_keys),
        "exclude_tags": sorted(t.casefold() for t in cfg.exclude_tags),
    }
    if mapping:
        scope["map"] = {key: sorted(names) for key, names in sorted(mapping.items())}
    return json.dumps(scope, sort_keys=True)


def _get(client: HttpClient, url: str, headers: dict[str, str]) -> Response:
    """GET with the API's headers; turn an over-long wait (429) into _Wait, honour Backoff."""
    try:
        response = client.get(url, headers=headers)
    except HttpStatusError as e:
        # Rate-limited past the retries, or asked to wait longer than a run may: the
        # next syncs are deferred until then (Zotero asks us not to come back sooner).
        wait = e.retry_after
        if (
            e.status in RETRY_STATUSES
            and wait is not None
            and (e.status == 429 or wait > MAX_RETRY_AFTER)
        ):
            kind = "rate-limited" if e.status == 429 else "unavailable"
            raise _Wait(f"{kind} (HTTP {e.status}): {e}", wait) from e
        if e.status == 403:
            raise SourceError(
                "HTTP 403 Forbidden: the API key is wrong, expired, or may not read this "
                "library (check api_key_env and the key's permissions on "
                "zotero.org/settings/keys)"
            ) from e
        raise
    backoff = _retry_after(response.headers.get("backoff"), 0.0)
    if backoff:
        if backoff > MAX_RETRY_AFTER:
            raise _Wait(f"the API asks to back off for {backoff:.0f} s", backoff)
        log.info("Zotero asks to back off for %.0f s", backoff)
        client.wait(backoff)
    return response


def _collection_keys(
    cfg: ZoteroConfig, user: UserConfig, client: HttpClient, headers: dict[str, str]
) -> tuple[list[str], dict[str, list[str]]]:
    """The keys of the collections [users.zotero] names (the sync's filter), and which
    Zotero collection feeds which of the user's collections (key -> Paperboy collection
    names; a `zotero` value is a collection's key or its name); SourceError naming a
    missing one. Sub-collections are not included: an item counts for the Zotero
    collections it is in itself, as Zotero shows a collection by default."""
    feeds = [(c.name, c.zotero) for c in user.collections if c.zotero]
    if not cfg.collections and not feeds:
        return [], {}
    names: dict[str, str] = {}
    url: str | None = collections_url(cfg.url, cfg.library)
    pages = 0
    while url and pages < MAX_PAGES:
        response = _get(client, url, headers)
        names.update(parse_collections(response.content or b"", url=url))
        url = next_link(response.headers.get("link"))
        pages += 1

    def find(wanted: str) -> list[str]:
        if wanted in names:  # a key
            return [wanted]
        return [k for k, n in names.items() if n == wanted] or [
            k for k, n in names.items() if n.casefold() == wanted.casefold()
        ]

    keys: list[str] = []
    mapping: dict[str, list[str]] = {}
    missing: list[str] = []
    for wanted in cfg.collections:
        found = find(wanted)
        keys.extend(found)
        if not found:
            missing.append(wanted)
    for collection, wanted in feeds:
        found = find(wanted)
        for key in found:
            mapping.setdefault(key, []).append(collection)
        if not found:
            missing.append(wanted)
    if missing:
        have = ", ".join(sorted(repr(n) for n in set(names.values()))) or "none"
        raise SourceError(
            f"no collection named {', '.join(map(repr, missing))} (the library has: {have})"
        )
    return keys, mapping


def _version(response: Response) -> int:
    value = response.headers.get("last-modified-version", "")
    if not value.strip().isdigit():
        raise ParseError(f"no Last-Modified-Version header in the answer to {response.url}")
    return int(value)


def _sync(
    user: UserConfig,
    cfg: ZoteroConfig,
    storage: Storage,
    client: HttpClient,
    headers: dict[str, str],
    *,
    scope: str,
    since: int,
    full: bool,
) -> ZoteroReport:
    first = items_url(cfg.url, cfg.library, since=since)
    conditional = dict(headers)
    if not full:
        conditional["If-Modified-Since-Version"] = str(since)
    response = _get(client, first, conditional)
    if response.not_modified:
        storage.record_zotero_attempt(user.name, library=cfg.library, error=None)
        log.info("%s: unchanged since version %d", source_name(user.name), since)
        return ZoteroReport(user.name, cfg.library, "unchanged", since)
    version = _version(response)
    total_header = response.headers.get("total-results", "")
    total = int(total_header) if total_header.strip().isdigit() else None
    items: list[ZoteroItem] = parse_items(response.content or b"", url=first)
    url = next_link(response.headers.get("link"))
    pages = 1
    while url:
        if pages >= MAX_PAGES:
            raise ParseError(f"more than {MAX_PAGES} pages of items: stopped following Link")
        response = _get(client, url, headers)
        if _version(response) != version:
            raise SourceError(
                "the library changed during the sync (version "
                f"{version} -> {_version(response)}); the next fetch syncs again"
            )
        items.extend(parse_items(response.content or b"", url=url))
        url = next_link(response.headers.get("link"))
        pages += 1
    if total is not None and len(items) != total:
        raise ParseError(
            f"got {len(items)} of the {total} items the API announced (Total-Results): "
            "a partial answer; nothing was changed"
        )
    deleted: list[str] = []
    if not full:
        url = deleted_url(cfg.url, cfg.library, since=since)
        deleted = parse_deleted((_get(client, url, headers).content or b""), url=url)

    chosen = json.loads(scope)
    mapping: dict[str, list[str]] = chosen.get("map", {})
    # [users.zotero] collections filter the library; the collections that feed the
    # user's collections are in scope too (with a filter, beside it; without, the whole
    # library is, and an item in no mapped collection feeds the default collection)
    in_scope = set(chosen["collections"]) | (set(mapping) if chosen["collections"] else set())
    excluded = {t.casefold() for t in cfg.exclude_tags}
    keep: dict[str, tuple[str, int, tuple[str, ...]]] = {}
    papers: list[SourcePaper] = []
    skipped = 0
    for item in items:
        if not item.is_paper or item.trashed:
            continue
        if in_scope and not in_scope & set(item.collections):
            continue  # moved out of the chosen collections (or never in them)
        if excluded & {t.casefold() for t in item.tags}:
            continue
        paper = item.to_source_paper()
        pid = item.paper_id
        if pid is None or (item.arxiv_id is None and (paper is None or not paper.abstract)):
            skipped += 1  # nothing to rank it by: no arXiv id to look up, no abstract
            continue
        homes = sorted({name for key in item.collections for name in mapping.get(key, ())})
        keep[item.key] = (pid, item.version, tuple(homes))
        if paper is not None and (paper.abstract or item.arxiv_id is None):
            papers.append(paper)  # an arXiv item without abstract: the arXiv API fills it
    removed = {i.key for i in items if i.key not in keep} | set(deleted)
    change = storage.apply_zotero_sync(
        user.name,
        library=cfg.library,
        version=version,
        scope=scope,
        papers=papers,
        items=keep,
        removed=removed,
        full=full,
    )
    log.info(
        "%s: %s sync to version %d: %d items received, +%d -%d papers, %d in the profile"
        + (", %d skipped (no arXiv id, no abstract)" if skipped else "%s"),
        source_name(user.name),
        "full" if full else "incremental",
        version,
        len(items),
        change.added,
        change.removed,
        change.total,
        skipped if skipped else "",
    )
    return ZoteroReport(
        user.name,
        cfg.library,
        "ok",
        version,
        received=len(items),
        added=change.added,
        removed=change.removed,
        total=change.total,
        skipped=skipped,
        full=full,
    )
