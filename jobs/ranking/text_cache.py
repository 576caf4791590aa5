"""Normalised texts of papers that are not in a database: one-off rankings of files.

The ranker reads a paper as its normalised text (recommender.text.paper_text: LaTeX
rendered, accents folded). Rendering LaTeX takes about 10 ms an abstract, and one arXiv
abstract in seven has some: for ``paperboy rank --saved F --candidates C --background B``
over a week's listing and a 5,000-paper background that was most of a call, paid again
on every call (a digest never pays it: its index is built once per fetch). So the one-off
cache file (jobs.ranking.embedding_cache.cache_path: the same file, its own table) also
keeps the normalised text of every paper that has LaTeX, keyed by a hash of the raw text
and the version of the normalisation (recommender.text.TEXT_VERSION, the pylatexenc and
Unicode versions):

    texts = cached_texts(papers)            # {paper id: paper_text(paper)}, LaTeX ones

A text without LaTeX is not kept: normalising it costs microseconds. Before it trusts
the file, a call normalises a few of the texts it found there again and compares (see
:data:`VERIFY`): a normalisation changed without a new TEXT_VERSION shows as a warning
and the file's texts are not used. A cache that cannot be opened or written is not an
error either: the texts are computed all the same, and a warning says why they were not
kept.
"""

from __future__ import annotations

import logging
import sqlite3
import unicodedata
from collections.abc import Sequence
from contextlib import closing
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from paperboy import recommender
from paperboy.jobs.ranking.embedding_cache import cache_path, open_cache
from paperboy.recommender.encoder import text_hash
from paperboy.recommender.text import TEXT_VERSION, normalise, raw_text
from paperboy.text import has_latex

__all__ = ["VERIFY", "cached_texts", "normaliser_version"]

log = logging.getLogger(__name__)

VERIFY = 3  # kept texts normalised again on each call, to catch a stale file


@cache
def normaliser_version() -> str:
    """What the kept texts depend on: the normaliser's own version and its libraries'."""
    try:
        latex = version("pylatexenc")
    except PackageNotFoundError:  # pragma: no cover - a dependency of the package
        latex = "?"
    return f"{TEXT_VERSION}/pylatexenc-{latex}/unicode-{unicodedata.unidata_version}"


_TEXTS = (
    "CREATE TABLE IF NOT EXISTS texts ("
    " version TEXT NOT NULL, hash TEXT NOT NULL, text TEXT NOT NULL,"
    " PRIMARY KEY (version, hash))"
)


def _lookup(path: Path, hashes: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    with closing(open_cache(path, _TEXTS)) as conn:
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT hash, text FROM texts WHERE version = ? AND hash IN ({marks})",
                [normaliser_version(), *chunk],
            )
            found.update((str(h), str(t)) for h, t in rows)
    return found


def _store(path: Path, rows: list[tuple[str, str]]) -> None:
    with closing(open_cache(path, _TEXTS)) as conn, conn:
        conn.executemany(
            "INSERT OR REPLACE INTO texts (version, hash, text) VALUES (?, ?, ?)",
            [(normaliser_version(), h, t) for h, t in rows],
        )


def cached_texts(
    papers: Sequence[recommender.Paper], *, path: Path | None = None
) -> dict[str, str]:
    """``paper_text`` of the papers whose text has LaTeX, by id (the first paper of an id,
    as recommender.Index.build reads them): from the cache where it has them, else
    normalised now and kept. Papers without LaTeX are left out (the caller normalises
    them on the spot, for next to nothing)."""
    raws: dict[str, str] = {}
    for p in papers:
        if p.id not in raws:
            raws[p.id] = raw_text(p)
    latex = {pid: raw for pid, raw in raws.items() if has_latex(raw)}
    if not latex:
        return {}
    keys = {pid: text_hash(raw) for pid, raw in latex.items()}
    where = path or cache_path()
    try:
        known = _lookup(where, sorted(set(keys.values())))
    except (OSError, sqlite3.Error) as e:
        log.warning("text cache %s unusable (%s): normalising every text", where, e)
        known = {}
    if not _trustworthy(known, latex, keys):
        log.warning(
            "text cache %s: a kept text differs from its normalisation now "
            "(recommender.text.TEXT_VERSION not bumped?): normalising every text",
            where,
        )
        known = {}
    fresh: dict[str, str] = {}
    out: dict[str, str] = {}
    for pid, raw in latex.items():
        key = keys[pid]
        text = known.get(key)
        if text is None:
            text = fresh[key] = normalise(raw)
        out[pid] = text
    if fresh:
        try:
            _store(where, sorted(fresh.items()))
        except (OSError, sqlite3.Error) as e:
            log.warning("text cache %s not written (%s)", where, e)
    return out


def _trustworthy(known: dict[str, str], latex: dict[str, str], keys: dict[str, str]) -> bool:
    """Whether the first :data:`VERIFY` kept texts (in id order) are what normalising their
    raw text gives now."""
    if not known:
        return True
    checked = [pid for pid in sorted(latex) if keys[pid] in known][:VERIFY]
    return all(normalise(latex[pid]) == known[keys[pid]] for pid in checked)
