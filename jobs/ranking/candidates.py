"""A user's side of ranking, from stored papers: the candidates they have not seen (in
their categories, not mailed to them, not saved), their profile (saved papers, imported
and synced libraries, keywords, dislikes), and the ranking job or the ranking itself.

The listing of a window is read once per process and shared by the users it serves
(ListedPapers); a user's own ledger (what was mailed to them) is read every time, one
query per user, or one for a batch of users (Storage.digest_reads: the ``reads``
argument below), and the batch's papers are turned into the ranker's once (PaperMemo).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from paperboy import recommender
from paperboy.jobs.config.model import CollectionConfig, Config, UserConfig
from paperboy.jobs.fetch.bibtex import read_bibtex_papers
from paperboy.jobs.ranking.corpus import Corpus, background_for, load_corpus, to_paper
from paperboy.jobs.ranking.pool import RankJob, rank_many
from paperboy.jobs.storage import Storage, StoredPaper, UserReads

log = logging.getLogger(__name__)


def in_categories(paper: StoredPaper, categories: Sequence[str]) -> bool:
    """A paper passes a user's category filter when any of its categories is listed.

    Papers without categories (from a feed the user configured) always pass.
    """
    return not categories or not paper.categories or any(c in categories for c in paper.categories)


class ListedPapers:
    """Listed papers by the start of a user's window, read once and shared by the users a
    process serves: most users' windows start at the same moment (the last fetch before
    their previous digest), so reading every candidate's row once per user, as a
    per-user query did, cost more than ranking them (issue 13). A copy is reused only
    while the database's listing stamp for that window is unchanged (a fetch, or an
    updated paper, makes it read again). A few windows are kept, and none of more than
    MAX_PAPERS papers, so memory does not grow with the number of users."""

    KEEP = 8
    MAX_PAPERS = 20_000

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._by_start: dict[datetime | None, tuple[object, list[StoredPaper]]] = {}
        self._lock = threading.Lock()

    def after(self, start: datetime | None) -> list[StoredPaper]:
        """Papers listed after `start` (all listed papers for None)."""
        stamp = self.storage.listing_stamp(after=start)
        with self._lock:
            cached = self._by_start.get(start)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        found = self.storage.listed_papers(after=start)
        if len(found) <= self.MAX_PAPERS:
            with self._lock:
                if len(self._by_start) >= self.KEEP:
                    self._by_start.clear()
                self._by_start[start] = (stamp, found)
        return found

    def pinned(self) -> PinnedListing:
        """This listing for one batch of users: each window checked against the database
        once for the batch, not once for each user (a query a digest)."""
        return PinnedListing(self)


class Listing(Protocol):
    """What candidates_for needs of a listing: the papers listed after a moment."""

    def after(self, start: datetime | None) -> list[StoredPaper]: ...


class PinnedListing:
    """A ListedPapers for the users of one batch (ListedPapers.pinned): a window read
    (or checked) once is the batch's. A fetch that lands meanwhile is not missed: a
    digest's window ends at its own newest candidate, so the next digest has them."""

    def __init__(self, listed: ListedPapers) -> None:
        self._listed = listed
        self._seen: dict[datetime | None, list[StoredPaper]] = {}

    def after(self, start: datetime | None) -> list[StoredPaper]:
        if start not in self._seen:
            self._seen[start] = self._listed.after(start)
        return self._seen[start]


# One per database a process reads: the daemon and queue workers digest one user per job.
_listed: dict[str, ListedPapers] = {}
_listed_lock = threading.Lock()


def listed_papers_of(storage: Storage) -> ListedPapers:
    """This process's shared listing cache for `storage`'s database."""
    key = str(storage.engine.url)
    with _listed_lock:
        found = _listed.get(key)
        if found is None or found.storage is not storage:
            found = _listed[key] = ListedPapers(storage)
        return found


class PaperMemo:
    """Stored papers turned into the ranker's papers once for the users of a batch: a
    week's 1,300 candidates were converted again for every user (7 ms a digest)."""

    def __init__(self) -> None:
        self._done: dict[int, tuple[StoredPaper, recommender.Paper]] = {}

    def __call__(self, paper: StoredPaper) -> recommender.Paper:
        found = self._done.get(id(paper))
        if found is not None and found[0] is paper:
            return found[1]
        converted = to_paper(paper)
        self._done[id(paper)] = (paper, converted)  # holds `paper`: its id stays its own
        return converted


def candidates_for(
    storage: Storage,
    user: UserConfig,
    listed: Listing | None = None,
    *,
    reads: UserReads | None = None,
) -> list[StoredPaper]:
    """Papers this user has not seen: listed since their window, or returned by a failure.

    `listed` shares the listing between the users of a batch; the user's own ledger (what
    was mailed to them) is read each time, after their digest is claimed, or taken from
    `reads` (Storage.digest_reads, read after the claims of the batch)."""
    if reads is None:
        reads = UserReads(
            state=storage.user_state(user.name),
            mailed=frozenset(storage.mailed_ids(user.name)),
            returned=tuple(storage.returned_papers(user.name)),
            library_ids=tuple(storage.library_ids(user.name)),
            zotero_ids=tuple(storage.zotero_paper_ids(user.name)),
        )
    mailed = reads.mailed
    pool = (listed or listed_papers_of(storage)).after(reads.state.listed_through)
    fresh = [p for p in pool if p.id not in mailed]
    returned = reads.returned
    saved = set(user.all_saved()) | set(reads.library_ids)
    saved |= set(reads.zotero_ids)
    seen: set[str] = set()
    out: list[StoredPaper] = []
    for paper in [*fresh, *returned]:
        if paper.id in seen or paper.id in saved or not in_categories(paper, user.categories):
            continue
        seen.add(paper.id)
        out.append(paper)
    return out


def profile_for(
    storage: Storage,
    user: UserConfig,
    collection: str | None = None,
    *,
    reads: UserReads | None = None,
    as_paper: Callable[[StoredPaper], recommender.Paper] = to_paper,
) -> recommender.Profile:
    """The profile of one of the user's collections (None or "": the default one, their
    top-level lists): saved papers' stored text (missing ones are logged), their imported
    library (stored, and for the default collection the `library` BibTeX file), their
    synced Zotero library (jobs.fetch.zotero_sync), and disliked papers. A user without
    collections has one profile, as before issue #23. `reads` (Storage.digest_reads, asked
    for the saved and disliked papers too): the same rows, read for a batch of users; used
    for a user without collections (whose rows are all the default collection's)."""
    lists = user.collection(collection)
    if reads is not None and not user.collections:
        profile = _profile(
            user, lists, reads.papers, reads.library_papers(), reads.zotero_ids, as_paper
        )
        if not uses_clicks():
            return profile
        opened = [reads.papers[pid] for pid in reads.clicked_ids if pid in reads.papers]
        return replace(profile, clicked=tuple(as_paper(p) for p in opened))
    stored = storage.get_papers([*lists.saved, *lists.disliked])
    zotero = storage.zotero_paper_ids(user.name, collection=lists.name)
    synced = storage.get_papers([pid for pid in zotero if pid not in lists.disliked])
    library = storage.library_papers(user.name, collection=lists.name)
    profile = _profile(user, lists, {**synced, **stored}, library, zotero, as_paper)
    if not uses_clicks():
        return profile
    # A click in a collection's section speaks for that collection.
    where = lists.name if user.collections else None
    ids = storage.clicked_papers(user.name, collection=where)
    found = storage.get_papers(ids)
    clicked = tuple(as_paper(found[pid]) for pid in ids if pid in found)
    return replace(profile, clicked=clicked)


def uses_clicks() -> bool:
    """Whether the ranker weighs the papers a user opened from a digest (issue #21 item
    5; recommender.ranker.CLICK_WEIGHT, chosen by benchmarks/feedback_sim.py): when it
    does not, the clicks stay a record and are not read for ranking."""
    from paperboy.recommender import ranker  # the ranker's modules load when it ranks

    return ranker.CLICK_WEIGHT > 0


def _profile(
    user: UserConfig,
    lists: CollectionConfig,
    stored: Mapping[str, StoredPaper],
    library: Sequence[StoredPaper],
    zotero_ids: Sequence[str],
    as_paper: Callable[[StoredPaper], recommender.Paper],
) -> recommender.Profile:
    missing = [pid for pid in lists.saved if pid not in stored]
    if missing:
        log.warning(
            "%s: %d saved paper(s) have no metadata yet (%s); `paperboy fetch` looks them up",
            user.name if not lists.name else f"{user.name} ({lists.name})",
            len(missing),
            ", ".join(missing[:5]) + ("…" if len(missing) > 5 else ""),
        )
    saved = [as_paper(stored[pid]) for pid in lists.saved if pid in stored]
    saved += [as_paper(p) for p in library]
    zotero = [pid for pid in zotero_ids if pid not in lists.disliked]
    saved += [as_paper(stored[pid]) for pid in zotero if pid in stored]
    if user.library is not None and not lists.name:
        saved += read_bibtex_papers(user.library)
    unique = list({p.id: p for p in saved}.values())
    return recommender.Profile(
        saved=tuple(unique),
        keywords=lists.keywords,
        authors=lists.authors,
        muted=lists.muted,
        disliked=tuple(as_paper(stored[pid]) for pid in lists.disliked if pid in stored),
    )


def rank_job(
    storage: Storage,
    user: UserConfig,
    candidates: Sequence[StoredPaper],
    corpus: Corpus,
    *,
    explain: int | None = None,
    collection: str | None = None,
    profile: recommender.Profile | None = None,
    reads: UserReads | None = None,
    as_paper: Callable[[StoredPaper], recommender.Paper] = to_paper,
) -> RankJob:
    """What ranking this user (or one of their collections) takes: the profile, the
    candidates and the run's background.

    ``corpus`` (jobs.ranking.corpus.load_corpus) is loaded once per run and shared by every
    user. ``explain``: how many of the best get the model's terms in their reason (None:
    all). ``profile``: the collection's profile, if the caller has read it already.
    ``reads`` and ``as_paper``: what a batch of users shares (see profile_for and
    PaperMemo); the job is the same.
    """
    if profile is None:
        profile = profile_for(storage, user, collection, reads=reads, as_paper=as_paper)
    # The background less the candidates: the same for every user of the window, so the
    # ranker prepares its rows once (recommender.rank leaves each user's own saved,
    # disliked and clicked papers out of it by itself).
    return RankJob(
        profile=profile,
        candidates=tuple(as_paper(p) for p in candidates),
        background=tuple(background_for(corpus, {p.id for p in candidates})),
        explain=explain,
        diversity=user.diversity,
    )


def has_interests(profile: recommender.Profile) -> bool:
    """Whether a profile gives a model anything to learn from: saved papers, keywords or
    authors (a default collection without them is not ranked beside named ones)."""
    return bool(profile.saved or profile.keywords or profile.authors)


def collection_jobs(
    storage: Storage,
    user: UserConfig,
    candidates: Sequence[StoredPaper],
    corpus: Corpus,
    *,
    explain: int | None = None,
    reads: UserReads | None = None,
    as_paper: Callable[[StoredPaper], recommender.Paper] = to_paper,
) -> tuple[tuple[str, RankJob], ...]:
    """One ranking job per collection the digest has a section for, default first: a user
    without collections has the one job of :func:`rank_job`; with collections, each named
    collection is ranked, and the default collection too when it has saved papers,
    keywords or authors. ``reads`` and ``as_paper``: see :func:`rank_job`."""
    shared: dict[str, Any] = {"explain": explain, "reads": reads, "as_paper": as_paper}
    if not user.collections:
        return (("", rank_job(storage, user, candidates, corpus, **shared)),)
    jobs = []
    default = profile_for(storage, user, reads=reads, as_paper=as_paper)
    if has_interests(default):
        job = rank_job(storage, user, candidates, corpus, profile=default, **shared)
        jobs.append(("", job))
    for c in user.collections:
        job = rank_job(storage, user, candidates, corpus, collection=c.name, **shared)
        jobs.append((c.name, job))
    return tuple(jobs)


def rank_for(
    config: Config,
    storage: Storage,
    user: UserConfig,
    candidates: Sequence[StoredPaper],
    *,
    explain: int | None = None,
    collection: str | None = None,
) -> list[recommender.Ranked]:
    """Rank candidates for one user (or one of their collections: None is the default
    one) against the shared background, with the stored index."""
    corpus = load_corpus(config, storage)
    job = rank_job(storage, user, candidates, corpus, explain=explain, collection=collection)
    [result] = rank_many([job], corpus.index, embeddings=run_vectors(storage, [job]))
    if isinstance(result, Exception):
        raise result
    return result


# The background's vectors, kept with the corpus they belong to: a queue worker digests
# one user a task, and read 5,000 vectors for each (issue #22). One corpus at a time: the
# next index generation brings another background. The background's papers are the
# corpus' own (their text as loaded), so a vector read with them stays theirs.
_background: list[tuple[Corpus, dict[str, Any]]] = []
_background_lock = threading.Lock()


def vectors_memo(corpus: Corpus) -> dict[str, Any]:
    """A run's memo of vectors (run_vectors' ``known``), holding the vectors of
    `corpus`' background read by earlier runs of this process."""
    with _background_lock:
        if _background and _background[0][0] is corpus:
            return dict(_background[0][1])
    return {}


def keep_background(corpus: Corpus, known: Mapping[str, Any]) -> None:
    """Keep the vectors of `corpus`' background found in `known` for the next runs."""
    found = {p.id: known[p.id] for p in corpus.background if p.id in known}
    with _background_lock:
        if _background and _background[0][0] is corpus:
            _background[0][1].update(found)
        else:
            _background[:] = [(corpus, found)]


def run_vectors(
    storage: Storage, jobs: Sequence[RankJob], known: dict[str, Any] | None = None
) -> recommender.Embeddings:
    """The sentence embeddings every ranking of a run needs, read once (jobs.ranking.encoding);
    ``known``: the vectors earlier batches of the run read (see vectors_for)."""
    from paperboy.jobs.ranking.encoding import vectors_for

    papers = {p.id: p for job in jobs for p in (*job.background, *job.candidates)}
    profiles = {
        p.id: p
        for job in jobs
        for p in (*job.profile.saved, *job.profile.disliked, *job.profile.clicked)
    }
    return vectors_for(storage, papers.values(), profiles=profiles.values(), known=known)
