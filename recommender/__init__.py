"""Paperboy's ranking core: text -> features -> a per-user model -> scores with reasons.

Pure: no network, no database, no e-mail. Takes plain data, returns plain data.
The entry point is :func:`rank`; :class:`Index` holds a corpus' TF-IDF features, built once
and shared by every user's ranking; :class:`Embeddings` holds papers' sentence embeddings.

`Index` and `rank` are imported on first use: they pull in scikit-learn and SciPy (seconds
of start-up), which commands such as `paperboy --help` or `paperboy status` never need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from paperboy.recommender.types import Paper, Profile, Ranked

if TYPE_CHECKING:
    from paperboy.recommender.embeddings import Embeddings
    from paperboy.recommender.index import Index
    from paperboy.recommender.ranker import rank

__all__ = ["Embeddings", "Index", "Paper", "Profile", "Ranked", "rank"]

_LAZY = {
    "Embeddings": "paperboy.recommender.embeddings",
    "Index": "paperboy.recommender.index",
    "rank": "paperboy.recommender.ranker",
}


def __getattr__(name: str) -> Any:
    """Import the heavy parts (`Index`, `rank`) when they are first asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'paperboy.recommender' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
