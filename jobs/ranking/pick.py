"""Which ranked papers go into a digest, and what the digest must say about how it was
ranked: pure functions of the scores and the profile (no storage, no configuration).

A score is the model's saved-like vs background-like verdict on a 0-1 scale, with the
classes weighted as if a paper were a priori as likely wanted as not: 0.5 is on the
fence; it orders papers, but it is not the chance the user wants one. A digest holds the few papers
worth a morning, so it never pads up to max_papers (issue 12: 3-7% papers after two good
ones). A paper scoring WEAK_SCORE or more is in; under it, only when it scores at least
RELATIVE_FLOOR of the day's best (a thin day in a narrow field), never next to clearly
better papers. When even the best is under WEAK_SCORE (the model finds it far more like
the background than like the saved papers) the digest shows at most WEAK_SHOWN papers and says they
are weak matches.

A user with collections (issue #23) has one ranking per collection: :func:`pick_sections`
gives each paper to the collection whose model scores it highest and picks each section
from its own papers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace

from paperboy import recommender

log = logging.getLogger(__name__)

WEAK_SCORE = 0.10
WEAK_SHOWN = 3
RELATIVE_FLOOR = 0.25


def pick(
    ranked: Sequence[recommender.Ranked], *, min_score: float, max_papers: int
) -> list[recommender.Ranked]:
    """The top `max_papers` (in ranked order) at or above `min_score` (the user's
    threshold) and either WEAK_SCORE or RELATIVE_FLOOR of the best score; when the best is
    under WEAK_SCORE, at most WEAK_SHOWN."""
    above = [r for r in ranked if r.score >= min_score]
    if not above:
        return []
    best = max(r.score for r in above)
    if best < WEAK_SCORE:
        return above[: min(max_papers, WEAK_SHOWN)]
    floor = min(WEAK_SCORE, best * RELATIVE_FLOOR)
    return [r for r in above if r.score >= floor][:max_papers]


def basis_note(profile: recommender.Profile | None, picked: Sequence[recommender.Ranked]) -> str:
    """What a digest must say about how it was ranked: on keywords alone (no saved paper
    has its text stored), or weak matches only. Empty when neither."""
    notes = []
    if profile is not None and not profile.saved and not (profile.keywords or profile.authors):
        notes.append(
            "Nothing to rank against yet: none of your saved papers has its text stored "
            "and you follow no keywords or authors (`paperboy profile add`)."
        )
    elif profile is not None and not profile.saved:
        notes.append(
            "Ranked on your keywords and authors only: none of your saved papers has its "
            "text stored yet (`paperboy fetch` looks them up; `paperboy fetch --from-file "
            "saved.jsonl` adds them offline)."
        )
    if picked and all(r.score < WEAK_SCORE for r in picked):
        notes.append(
            f"Weak matches only: no paper scored {WEAK_SCORE:.0%} or more, so this digest "
            f"shows just the best {len(picked)}."
        )
    return " ".join(notes)


# One collection's ranking of the candidates: (collection name, its ranked list); "" is
# the user's default collection (their top-level lists).
CollectionRanking = tuple[str, Sequence[recommender.Ranked]]


def best_collection(rankings: Sequence[CollectionRanking]) -> dict[str, str]:
    """Each paper's home: the collection whose model scores it highest (issue #23). The
    scores of two models are comparable as they are: each is a saved-like vs
    background-like verdict on the same 0-1 scale against the same background. A tie
    goes to the collection listed first (the default collection comes first)."""
    home: dict[str, tuple[float, str]] = {}
    for name, ranked in rankings:
        for r in ranked:
            held = home.get(r.paper.id)
            if held is None or r.score > held[0]:
                home[r.paper.id] = (r.score, name)
    return {pid: name for pid, (_score, name) in home.items()}


def pick_sections(
    rankings: Sequence[CollectionRanking],
    *,
    min_score: float,
    max_papers: Mapping[str, int],
) -> list[tuple[str, list[recommender.Ranked]]]:
    """The digest's sections: per collection (in the order given), :func:`pick` over the
    papers whose home (:func:`best_collection`) it is, up to its own ``max_papers``; so a
    paper is shown at most once, in the collection where it ranks best. A paper picked
    for a named collection says so in its reason ("for your collection rl-reasoning:
    ..."). One ranking alone (a user without collections) is exactly ``pick``."""
    if len(rankings) == 1:
        name, ranked = rankings[0]
        return [(name, pick(ranked, min_score=min_score, max_papers=max_papers[name]))]
    home = best_collection(rankings)
    sections = []
    for name, ranked in rankings:
        own = [r for r in ranked if home.get(r.paper.id) == name]
        picked = pick(own, min_score=min_score, max_papers=max_papers[name])
        if name:
            picked = [replace(r, why=collection_reason(name, r.why)) for r in picked]
        sections.append((name, picked))
    return sections


def collection_reason(name: str, why: str) -> str:
    """A reason that names the collection the paper was picked for."""
    return f"{_REASON_PREFIX}{name}: {why}" if why else f"{_REASON_PREFIX}{name}"


_REASON_PREFIX = "for your collection "


def collection_of_reason(why: str) -> str | None:
    """The collection a reason made by :func:`collection_reason` names (the ledger keeps
    the reason as shown, so the feed reads the section back from it); None otherwise."""
    if not why.startswith(_REASON_PREFIX):
        return None
    rest = why[len(_REASON_PREFIX) :]
    name = rest.split(":", 1)[0] if ":" in rest else rest
    return name if name and " " not in name else None


def best_scores(rankings: Sequence[CollectionRanking]) -> list[recommender.Ranked]:
    """One ranked list of every candidate at its best score over the collections (what
    marks a trending paper as matching the user)."""
    best: dict[str, recommender.Ranked] = {}
    for _name, ranked in rankings:
        for r in ranked:
            held = best.get(r.paper.id)
            if held is None or r.score > held.score:
                best[r.paper.id] = r
    return sorted(best.values(), key=lambda r: -r.score)
