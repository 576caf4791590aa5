"""Paperboy's ranking core: text -> features -> a per-user model -> scores with reasons.

Pure: no network, no database, no e-mail. Takes plain data, returns plain data.
The one entry point is :func:`rank`.
"""

from recommender.ranker import rank
from recommender.types import Paper, Profile, Ranked

__all__ = ["Paper", "Profile", "Ranked", "rank"]
