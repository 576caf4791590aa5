"""Storage for the new sources: trending papers, and what feeds bring (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.exc import OperationalError

from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.storage import Storage, TrendingEntry

DAY = date(2026, 6, 12)


def paper(pid: str, **fields: object) -> SourcePaper:
    values: dict[str, object] = {
        "id": pid,
        "title": f"Paper {pid}",
        "abstract": "An abstract.",
        "authors": ("Ada Lovelace",),
        "categories": (),
        "link": f"https://arxiv.org/abs/{pid}",
    }
    values.update(fields)
    return SourcePaper(**values)  # type: ignore[arg-type]


def store(storage: Storage, *ids: str) -> None:
    storage.upsert_papers([paper(pid) for pid in ids], source="huggingface", listed=True)


def test_trending_of_a_day_most_upvoted_first(storage: Storage) -> None:
    store(storage, "2606.00001", "2606.00002", "2606.00003")
    written = storage.record_trending(
        [
            TrendingEntry("2606.00001", DAY, "huggingface", 5, 1, 3),
            TrendingEntry("2606.00002", DAY, "huggingface", 118, 3, 1),
            TrendingEntry("2606.00003", DAY, "huggingface", 5, 4, 2),
        ]
    )
    assert written == 3
    top = storage.trending(day=DAY)
    assert [(t.paper_id, t.upvotes, t.comments, t.rank) for t in top] == [
        ("2606.00002", 118, 3, 1),
        ("2606.00003", 5, 4, 2),  # a tie in upvotes: more comments first
        ("2606.00001", 5, 1, 3),
    ]
    assert storage.trending(day=DAY, limit=1) == top[:1]
    assert storage.trending() == top  # no day: the latest day recorded
    assert storage.trending(day=date(2026, 6, 11)) == []
    assert storage.trending(day=DAY, source="another") == []


def test_a_second_fetch_of_the_day_replaces_its_numbers(storage: Storage) -> None:
    store(storage, "2606.00001")
    storage.record_trending([TrendingEntry("2606.00001", DAY, "huggingface", 5, 1, 2)])
    storage.record_trending([TrendingEntry("2606.00001", DAY, "huggingface", 40, 6, 1)])
    assert storage.trending(day=DAY) == [TrendingEntry("2606.00001", DAY, "huggingface", 40, 6, 1)]


def test_trending_since_lists_each_paper_once_at_its_best(storage: Storage) -> None:
    store(storage, "2606.00001", "2606.00002")
    earlier = date(2026, 6, 10)
    storage.record_trending(
        [
            TrendingEntry("2606.00001", earlier, "huggingface", 90, 2, 1),
            TrendingEntry("2606.00001", DAY, "huggingface", 12, 2, 2),
            TrendingEntry("2606.00002", DAY, "huggingface", 30, 0, 1),
            TrendingEntry("2606.00002", date(2026, 6, 1), "huggingface", 500, 0, 1),
        ]
    )
    since = storage.trending(since=earlier)
    assert [(t.paper_id, t.day, t.upvotes) for t in since] == [
        ("2606.00001", earlier, 90),
        ("2606.00002", DAY, 30),  # its 500 upvotes were before the window
    ]
    assert storage.trending() == [
        TrendingEntry("2606.00002", DAY, "huggingface", 30, 0, 1),
        TrendingEntry("2606.00001", DAY, "huggingface", 12, 2, 2),
    ]


def test_nothing_recorded_is_no_trending(storage: Storage) -> None:
    assert storage.record_trending([]) == 0
    assert storage.trending() == []


def test_trending_of_an_unknown_paper_is_refused(storage: Storage) -> None:
    with pytest.raises(StorageError):
        storage.record_trending([TrendingEntry("2606.99999", DAY, "huggingface", 1, 0, 1)])


def test_thousands_of_authors_survive_storage(storage: Storage) -> None:
    authors = tuple(f"Author{n} Surname-{n} \u00e9\u00df\u4e2d" for n in range(5000))
    storage.upsert_papers([paper("2606.00001", authors=authors)], source="x", listed=True)
    assert storage.get_papers(["2606.00001"])["2606.00001"].authors == authors
    # A later sighting with the same list changes nothing; a shorter one replaces only
    # when it is newer (here it is not: no version).
    again = storage.upsert_papers(
        [paper("2606.00001", authors=authors, version=None)], source="y", listed=True
    )
    assert (again.new, again.updated) == (0, 0)


def test_doi_and_title_keyed_papers_are_rows_like_any(storage: Storage) -> None:
    long_doi = "10.1101/" + "9" * 100
    ids = ["10.1101/2026.06.08.663412", "title:0123456789abcdef", long_doi]
    storage.upsert_papers([paper(pid, link="") for pid in ids], source="feed", listed=True)
    assert set(storage.get_papers(ids)) == set(ids)


def test_trending_papers_and_their_numbers_are_stored_together(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One transaction: a failure while recording the numbers leaves no paper behind
    (a paper without its upvotes would never get them: the next fetch may be a 304)."""
    items = [paper("2606.00001"), paper("2606.00002")]
    entries = [
        TrendingEntry(p.id, DAY, "huggingface", 10 - i, 0, i + 1) for i, p in enumerate(items)
    ]

    def disk_full(self: Storage, conn: object, entries: object) -> int:
        raise OperationalError("INSERT INTO trending", {}, Exception("database or disk is full"))

    monkeypatch.setattr(Storage, "_record_trending", disk_full)
    with pytest.raises(StorageError, match="disk is full"):
        storage.store_trending(items, entries, source="huggingface")
    assert storage.count_papers() == 0
    monkeypatch.undo()
    result = storage.store_trending(items, entries, source="huggingface")
    assert result.new == 2 and storage.count_papers() == 2
    assert [e.paper_id for e in storage.trending(day=DAY)] == ["2606.00001", "2606.00002"]
