"""The digest's profile takes the papers a user opened from a digest (issue #21 item 5),
read from the clicks table, when the ranker weighs them (recommender.ranker.CLICK_WEIGHT);
the same through the per-user reads and a batch's (Storage.digest_reads)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from paperboy.jobs.ranking.candidates import profile_for, rank_job
from paperboy.jobs.ranking.corpus import load_corpus
from paperboy.jobs.storage import Storage
from paperboy.recommender import ranker
from tests.jobs.test_candidates import paper
from tests.jobs.test_pipeline import NOW, config_for, load_sample


@pytest.fixture
def clicked_site(tmp_path: Path, database_url: str) -> tuple[object, Storage]:  # type: ignore[misc]
    config = config_for(tmp_path, database_url, 25)
    with Storage.open(config.database, now=lambda: NOW) as storage:
        load_sample(storage, days=1)
        storage.upsert_papers(
            [paper("2607.09998"), paper("2607.09999")], source="arxiv", listed=True
        )
        storage.record_click(config.users[0].name, "2607.09998", "abs", at=NOW)
        storage.record_click(
            config.users[0].name, "2607.09999", "pdf", at=NOW + timedelta(minutes=1)
        )
        storage.record_click("someone-else", "2607.09998", "abs", at=NOW)
        yield config, storage


def test_clicks_join_the_profile_when_the_ranker_weighs_them(
    clicked_site: tuple[object, Storage], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, storage = clicked_site
    user = config.users[0]  # type: ignore[attr-defined]
    monkeypatch.setattr(ranker, "CLICK_WEIGHT", 0.5)
    one = profile_for(storage, user)
    assert [p.id for p in one.clicked] == ["2607.09999", "2607.09998"]  # latest first
    reads = storage.digest_reads([user.name])[user.name]
    batch = profile_for(storage, user, reads=reads)
    assert batch.clicked == one.clicked
    job = rank_job(storage, user, [], load_corpus(config, storage), profile=one)  # type: ignore[arg-type]
    # The background stays the run's shared one: the ranker leaves clicked papers out of
    # its negatives (tests/recommender/test_negatives.py), not the job.
    assert [p.id for p in job.background] == [
        p.id
        for p in load_corpus(config, storage).background  # type: ignore[arg-type]
    ]


def test_clicks_stay_a_record_when_the_ranker_does_not_weigh_them(
    clicked_site: tuple[object, Storage], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, storage = clicked_site
    user = config.users[0]  # type: ignore[attr-defined]
    monkeypatch.setattr(ranker, "CLICK_WEIGHT", 0.0)
    assert profile_for(storage, user).clicked == ()
    reads = storage.digest_reads([user.name])[user.name]
    assert reads.clicked_ids == ("2607.09999", "2607.09998")
    assert profile_for(storage, user, reads=reads).clicked == ()
    assert storage.clicked_papers(user.name) == ["2607.09999", "2607.09998"]


def test_a_collections_profile_takes_the_clicks_of_its_own_section(
    clicked_site: tuple[object, Storage], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, storage = clicked_site
    user = config.users[0]  # type: ignore[attr-defined]
    monkeypatch.setattr(ranker, "CLICK_WEIGHT", 0.5)
    storage.record_click(user.name, "2607.09999", "abs", collection="theory", at=NOW)
    from paperboy.jobs.config.model import CollectionConfig

    with_theory = replace(user, collections=(CollectionConfig(name="theory"),))
    assert [p.id for p in profile_for(storage, with_theory, "theory").clicked] == ["2607.09999"]
    default = profile_for(storage, with_theory)
    assert [p.id for p in default.clicked] == ["2607.09999", "2607.09998"]
