"""Candidates come from a listing shared by the users a process serves (issue 13), and
that sharing never hides a newly fetched paper, an updated one, or a user's own ledger."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.ranking.candidates import ListedPapers, candidates_for
from paperboy.jobs.storage import Storage
from tests.jobs.test_pipeline import NOW, config_for, load_sample


def paper(pid: str, title: str = "A fresh paper") -> SourcePaper:
    return SourcePaper(
        pid, title, "About graphs.", ("A. Author",), ("cs.LG",), f"https://arxiv.org/abs/{pid}"
    )


def test_the_shared_listing_sees_new_and_updated_papers(tmp_path: Path, database_url: str) -> None:
    config = config_for(tmp_path, database_url, 25)
    user = config.users[0]
    clock = [NOW]
    with Storage.open(config.database, now=lambda: clock[0]) as storage:
        load_sample(storage, days=1)
        listed = ListedPapers(storage)
        first = candidates_for(storage, user, listed)
        assert first and candidates_for(storage, user, listed) == first  # reused
        assert listed.after(None) is listed.after(None)  # the same list, not read again

        storage.upsert_papers([paper("2607.09999")], source="arxiv", listed=True)
        assert "2607.09999" in {p.id for p in candidates_for(storage, user, listed)}

        clock[0] = NOW + timedelta(hours=1)  # the next fetch: version 2 of the paper
        storage.upsert_papers(
            [replace(paper("2607.09999", "A corrected title"), version=2)],
            source="arxiv",
            listed=True,
        )
        [fresh] = [p for p in candidates_for(storage, user, listed) if p.id == "2607.09999"]
        assert fresh.title == "A corrected title"


def test_each_user_still_has_their_own_ledger(tmp_path: Path, database_url: str) -> None:
    config = config_for(tmp_path, database_url, 25)
    ada = config.users[0]
    bob = replace(ada, name="bob")
    with Storage.open(config.database, now=lambda: NOW) as storage:
        load_sample(storage, days=1)
        listed = ListedPapers(storage)
        pool = candidates_for(storage, ada, listed)
        mailed = [p.id for p in pool[:3]]
        storage.create_delivery(
            user_name=ada.name,
            message_id="<test@paperboy>",
            digest_day=NOW.date(),
            message=b"Subject: test\r\n\r\nbody",
            paper_ids=mailed,
            listed_through=None,
            at=NOW,
        )
        assert not set(mailed) & {p.id for p in candidates_for(storage, ada, listed)}
        assert set(mailed) <= {p.id for p in candidates_for(storage, bob, listed)}
