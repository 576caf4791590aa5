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
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

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
