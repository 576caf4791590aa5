"""Assembling a digest: the picked papers with their links, TL;DRs and upvotes, the
trending section, the feedback links, and the e-mail message built from them.

    compose(picked, ranked, candidates) -> (Digest, EmailMessage)
        trending = the latest trending day (if recent), each marked when it matches the user
        digest   = build_digest(picked) + trending + note + feedback links
        message  = emails.build_message(digest)

Reads storage (stored papers, trending days) and writes nothing. The trending days are
the same for every user of a run: TrendingMemo reads them once for a batch of users.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from zoneinfo import ZoneInfo

from paperboy import recommender
from paperboy.emails.digest import Digest, DigestItem, TrendingItem
from paperboy.emails.render import build_message
from paperboy.jobs.config.model import Config, UserConfig
from paperboy.jobs.core.ids import abs_url, is_arxiv_id, pdf_url
from paperboy.jobs.storage import Storage, StoredPaper, TrendingEntry
from paperboy.jobs.web.links import add_feedback_links

log = logging.getLogger(__name__)

TRENDING_MAX_AGE_DAYS = 3  # an older "trending today" is not today's
MATCH_SCORE = 0.5  # a trending paper "also matches you" from this score on

# Storage.trending's signature, as far as a digest asks it (since=..., limit=...).
TrendingReader = Callable[..., list[TrendingEntry]]


class TrendingMemo:
    """Storage.trending for the users of a batch: read once per question. Two queries a
    digest asked the same thing for every user (issue #22)."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._read: dict[tuple[object, object], list[TrendingEntry]] = {}

    def __call__(
        self, *, since: date | None = None, limit: int | None = None
    ) -> list[TrendingEntry]:
        key = (since, limit)
        if key not in self._read:
            self._read[key] = self._storage.trending(since=since, limit=limit)
        return self._read[key]


def compose(
    config: Config,
    storage: Storage,
    user: UserConfig,
    picked: Sequence[recommender.Ranked],
    ranked: Sequence[recommender.Ranked],
    candidates: Sequence[StoredPaper],
    now: datetime,
    *,
    note: str = "",
    keywords_only: bool = False,
    sections: Sequence[tuple[str, Sequence[recommender.Ranked]]] = (),
    trending_of: TrendingReader | None = None,
) -> tuple[Digest, EmailMessage | None]:
    """The digest of `picked` (from `ranked`, the ranking of `candidates`) and its message
    (None for a user without e-mail: their `notify` channels carry it).

    ``note``: what the reader must know of how it was ranked (jobs.ranking.pick.basis_note);
    ``keywords_only``: ranked without any saved paper. ``sections``: a user with
    collections (issue #23): (collection, its picks) in the order shown; `picked` is then
    all of them, section after section. ``trending_of``: how the trending days are read
    (default Storage.trending; a TrendingMemo shares them)."""
    scores = {r.paper.id: r.score for r in ranked}
    known = {p.id: p for p in candidates}  # the picks and most trending papers: held already
    trending = trending_items(config, storage, scores, user, now, known, trending_of)
    shown = tuple(sections) if user.collections else ()
    digest = build_digest(
        config,
        storage,
        user,
        picked,
        len(candidates),
        now,
        trending,
        known,
        sections=shown,
        trending_of=trending_of,
    )
    digest = replace(digest, note=note, keywords_only=keywords_only)
    if not user.email:
        return digest, None
    return digest, build_message(digest, domain=_domain(config.email.sender))


def _links(pid: str, stored: StoredPaper | None) -> tuple[str, str | None]:
    """Abstract page and PDF for an arXiv paper; the source's own link for the others."""
    if is_arxiv_id(pid):
        return abs_url(pid), pdf_url(pid)
    return (stored.link if stored and stored.link else ""), None


def trending_items(
    config: Config,
    storage: Storage,
    scores: dict[str, float],
    user: UserConfig,
    now: datetime,
    known: Mapping[str, StoredPaper] | None = None,
    trending_of: TrendingReader | None = None,
) -> tuple[TrendingItem, ...]:
    """The most upvoted papers of the latest trending day (if it is recent), each marked
    when the user's model rates it at or above their threshold too. ``known``: papers the
    caller already holds (the user's candidates), not read again."""
    if config.email.trending <= 0:
        return ()
    entries = (trending_of or storage.trending)(limit=config.email.trending)
    if not entries or (now.date() - entries[0].day).days > TRENDING_MAX_AGE_DAYS:
        return ()
    papers = _papers(storage, [e.paper_id for e in entries], known)
    items = []
    for e in entries:
        paper = papers.get(e.paper_id)
        if paper is None:
            continue
        link, _pdf = _links(e.paper_id, paper)
        score = scores.get(e.paper_id)
        items.append(
            TrendingItem(
                paper_id=e.paper_id,
                title=paper.title,
                abs_url=link,
                upvotes=e.upvotes,
                matched=score is not None and score >= max(user.min_score, MATCH_SCORE),
                hf_url=hf_url(e.paper_id) if is_arxiv_id(e.paper_id) else None,
            )
        )
    return tuple(items)


def _papers(
    storage: Storage, ids: Sequence[str], known: Mapping[str, StoredPaper] | None
) -> dict[str, StoredPaper]:
    """The stored papers `ids`, taking those the caller holds from `known`."""
    held = {i: known[i] for i in ids if known is not None and i in known}
    missing = [i for i in ids if i not in held]
    return {**held, **storage.get_papers(missing)} if missing else held


def hf_url(pid: str) -> str:
    return f"https://huggingface.co/papers/{pid}"


def build_digest(
    config: Config,
    storage: Storage,
    user: UserConfig,
    picked: Sequence[recommender.Ranked],
    considered: int,
    now: datetime,
    trending: tuple[TrendingItem, ...] = (),
    known: Mapping[str, StoredPaper] | None = None,
    *,
    sections: Sequence[tuple[str, Sequence[recommender.Ranked]]] = (),
    trending_of: TrendingReader | None = None,
) -> Digest:
    """The digest the e-mail shows, from the picks and what storage knows of them
    (``known``: papers the caller already holds, not read again). ``sections``: one per
    collection, (name, its picks); each item is marked with its collection, which its
    feedback links then act on."""
    home = {r.paper.id: name for name, rs in sections for r in rs}
    local_day = now.astimezone(ZoneInfo(user.timezone)).date()
    ids = [r.paper.id for r in picked]
    stored = _papers(storage, ids, known)
    week = (trending_of or storage.trending)(since=local_day - timedelta(days=7))
    upvotes = {e.paper_id: e.upvotes for e in week}
    items = []
    for r in picked:
        link, pdf = _links(r.paper.id, stored.get(r.paper.id))
        items.append(
            DigestItem(
                paper_id=r.paper.id,
                title=r.paper.title,
                abstract=r.paper.abstract,
                authors=r.paper.authors,
                categories=r.paper.categories,
                score=r.score,
                why=r.why,
                abs_url=link,
                pdf_url=pdf,
                announced=r.paper.announced,
                hf_url=hf_url(r.paper.id) if r.paper.id in upvotes else None,
                upvotes=upvotes.get(r.paper.id),
                tldr=_tldr(stored.get(r.paper.id)),
                tldr_source=_tldr_source(stored.get(r.paper.id)),
                collection=home.get(r.paper.id, ""),
            )
        )
    digest = Digest(
        user_name=user.name,
        to=user.email,
        sender=config.email.sender,
        day=local_day,
        items=tuple(items),
        considered=considered,
        created_at=now,
        reply_to=config.email.reply_to,
        trending=trending,
        period="week" if user.schedule == "weekly" else "day",
        unsubscribe=config.email.unsubscribe or None,
        sections=tuple(name for name, _picks in sections),
    )
    # none without [web] base_url; the links carry the user's link epoch (issue #20 item 10)
    epoch = storage.link_epoch(user.name) if config.web.base_url else 0
    return add_feedback_links(digest, config, now, epoch=epoch)


def _tldr(paper: StoredPaper | None) -> str | None:
    return paper.tldr if paper is not None and paper.tldr else None


def _tldr_source(paper: StoredPaper | None) -> str | None:
    return paper.tldr_source if paper is not None and paper.tldr else None


def _domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "paperboy.invalid"
