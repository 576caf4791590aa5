"""Paperboy's ranking core: text -> features -> a per-user model -> scores with reasons.

Pure: no network, no database, no e-mail. Takes plain data, returns plain data.
The entry point is :func:`rank`; :class:`Index` holds a corpus' TF-IDF features, built once and
shared by every user's ranking; :class:`Embeddings` holds papers' sentence embeddings.
"""

from recommender.embeddings import Embeddings
from recommender.index import Index
from recommender.ranker import rank
from recommender.types import Paper, Profile, Ranked

__all__ = ["Embeddings", "Index", "Paper", "Profile", "Ranked", "rank"]
