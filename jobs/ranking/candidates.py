"""A user's side of ranking, from stored papers: the candidates they have not seen (in
their categories, not mailed to them, not saved), their profile (saved papers, imported
and synced libraries, keywords, dislikes), and the ranking job or the ranking itself.

The listing of a window is read once per process and shared by the users it serves
(ListedPapers); a user's own ledger (what was mailed to them) is read every time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime

from paperboy import recommender
from paperboy.jobs.config.model import Config, UserConfig
from paperboy.jobs.fetch.bibtex import read_bibtex_papers
from paperboy.jobs.ranking.corpus import Corpus, background_for, load_corpus, to_paper
from paperboy.jobs.ranking.pool import RankJob, rank_many
from paperboy.jobs.storage import Storage, StoredPaper

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


def candidates_for(
    storage: Storage, user: UserConfig, listed: ListedPapers | None = None
) -> list[StoredPaper]:
    """Papers this user has not seen: listed since their window, or returned by a failure.

    `listed` shares the listing between the users of a batch; the user's own ledger (what
    was mailed to them) is read each time, after their digest is claimed."""
    state = storage.user_state(user.name)
    mailed = storage.mailed_ids(user.name)
    pool = (listed or listed_papers_of(storage)).after(state.listed_through)
    fresh = [p for p in pool if p.id not in mailed]
    returned = storage.returned_papers(user.name)
    saved = set(user.all_saved()) | set(storage.library_ids(user.name))
    saved |= set(storage.zotero_paper_ids(user.name))
    seen: set[str] = set()
    out: list[StoredPaper] = []
    for paper in [*fresh, *returned]:
        if paper.id in seen or paper.id in saved or not in_categories(paper, user.categories):
            continue
        seen.add(paper.id)
        out.append(paper)
    return out


def profile_for(
    storage: Storage, user: UserConfig, collection: str | None = None
) -> recommender.Profile:
    """The profile of one of the user's collections (None or "": the default one, their
    top-level lists): saved papers' stored text (missing ones are logged), their imported
    library (stored, and for the default collection the `library` BibTeX file), their
    synced Zotero library (jobs.fetch.zotero_sync), and disliked papers. A user without
    collections has one profile, as before issue #23."""
    lists = user.collection(collection)
    stored = storage.get_papers([*lists.saved, *lists.disliked])
    missing = [pid for pid in lists.saved if pid not in stored]
    if missing:
        log.warning(
            "%s: %d saved paper(s) have no metadata yet (%s); `paperboy fetch` looks them up",
            user.name if not lists.name else f"{user.name} ({lists.name})",
            len(missing),
            ", ".join(missing[:5]) + ("…" if len(missing) > 5 else ""),
        )
    saved = [to_paper(stored[pid]) for pid in lists.saved if pid in stored]
    saved += [to_paper(p) for p in storage.library_papers(user.name, collection=lists.name)]
    zotero = [
        pid
        for pid in storage.zotero_paper_ids(user.name, collection=lists.name)
        if pid not in lists.disliked
    ]
    synced = storage.get_papers(zotero)
    saved += [to_paper(synced[pid]) for pid in zotero if pid in synced]
    if user.library is not None and not lists.name:
        saved += read_bibtex_papers(user.library)
    unique = list({p.id: p for p in saved}.values())
    return recommender.Profile(
        saved=tuple(unique),
        keywords=lists.keywords,
        authors=lists.authors,
        muted=lists.muted,
        disliked=tuple(to_paper(stored[pid]) for pid in lists.disliked if pid in stored),
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
) -> RankJob:
    """What ranking this user (or one of their collections) takes: the profile, the
    candidates and the run's background.

    ``corpus`` (jobs.ranking.corpus.load_corpus) is loaded once per run and shared by every
    user. ``explain``: how many of the best get the model's terms in their reason (None:
    all). ``profile``: the collection's profile, if the caller has read it already.
    """
    if profile is None:
        profile = profile_for(storage, user, collection)
    exclude = (
        {p.id for p in candidates}
        | {p.id for p in profile.saved}
        | {p.id for p in profile.disliked}
    )
    return RankJob(
        profile=profile,
        candidates=tuple(to_paper(p) for p in candidates),
        background=tuple(background_for(corpus, exclude)),
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
) -> tuple[tuple[str, RankJob], ...]:
    """One ranking job per collection the digest has a section for, default first: a user
    without collections has the one job of :func:`rank_job`; with collections, each named
    collection is ranked, and the default collection too when it has saved papers,
    keywords or authors."""
    if not user.collections:
        return (("", rank_job(storage, user, candidates, corpus, explain=explain)),)
    jobs = []
    default = profile_for(storage, user)
    if has_interests(default):
        job = rank_job(storage, user, candidates, corpus, explain=explain, profile=default)
        jobs.append(("", job))
    for c in user.collections:
        job = rank_job(storage, user, candidates, corpus, explain=explain, collection=c.name)
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


def run_vectors(storage: Storage, jobs: Sequence[RankJob]) -> recommender.Embeddings:
    """The sentence embeddings every ranking of a run needs, read once (jobs.ranking.encoding)."""
    from paperboy.jobs.ranking.encoding import vectors_for

    papers = {p.id: p for job in jobs for p in (*job.background, *job.candidates)}
    profiles = {p.id: p for job in jobs for p in (*job.profile.saved, *job.profile.disliked)}
    return vectors_for(storage, papers.values(), profiles=profiles.values())
