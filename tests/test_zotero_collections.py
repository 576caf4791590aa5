"""Zotero collections feeding a user's collections (issue #23), on the documented page of
items served by the local Zotero server (tests/zotero_server.py; never the network):
each item feeds the Paperboy collection its Zotero collection maps onto (by name or by
key), the others the default collection; an item moved between Zotero collections moves
at the next incremental sync; sub-collections are not included; a changed mapping syncs
in full; a missing Zotero collection is the user's error and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from paperboy.jobs.fetch.http import HttpClient
from paperboy.jobs.fetch.zotero_sync import sync_user
from paperboy.jobs.ranking.candidates import candidates_for, profile_for
from paperboy.jobs.storage import Storage
from tests.http_server import FakeTime
from tests.test_zotero import ENV, make_config
from tests.zotero_server import KEY, Library, ZoteroServer, template_items

ATTENTION = "1706.03762"  # X42A7DEB, in "To read"
TD = "10.1007/bf00115009"  # ABCD2345, in no collection

MAPPED = """
[[users.collections]]
name = "reading"
zotero = "to read"          # a name (case aside)

[[users.collections]]
name = "thesis"
zotero = "THES5678"         # a key
"""


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, KEY)


@pytest.fixture
def db() -> Iterator[Storage]:
    with Storage.open("sqlite://") as s:
        yield s


@pytest.fixture
def client() -> Iterator[HttpClient]:
    fake = FakeTime()
    with HttpClient(timeout=10, retries=1, sleep=fake.sleep, clock=fake.clock) as c:
        yield c


@pytest.fixture
def small() -> Iterator[ZoteroServer]:
    library = Library()
    library.add_collection("BCDF1234", "To read")
    library.add_collection("THES5678", "Thesis")
    library.add_collection("CHAP0001", "Chapter 1", parent="THES5678")
    for item in template_items():
        library.add(item["data"], key=item["key"])
    server = ZoteroServer(library)
    try:
        yield server
    finally:
        server.stop()


def by_collection(db: Storage) -> dict[str, list[str]]:
    return {c: db.zotero_paper_ids("ada", collection=c) for c in ("", "reading", "thesis")}


def test_zotero_collections_feed_the_users_collections_and_items_move(
    small: ZoteroServer, client: HttpClient, db: Storage
) -> None:
    user = make_config(small.base, extra_users=MAPPED).user("ada")
    report = sync_user(user, db, client)
    assert report.status == "ok", report.error
    assert by_collection(db) == {"": [TD], "reading": [ATTENTION], "thesis": []}
    assert db.zotero_paper_ids("ada") == sorted([ATTENTION, TD])  # all: never candidates

    # moved in Zotero from "To read" to "Thesis"; the other one put into "To read"
    small.library.modify("X42A7DEB", collections=["THES5678"])
    small.library.modify("ABCD2345", collections=["BCDF1234"])
    report = sync_user(user, db, client)
    assert report.status == "ok" and not report.full  # an incremental sync moves them
    assert by_collection(db) == {"": [], "reading": [TD], "thesis": [ATTENTION]}

    # in two mapped collections: feeds both
    small.library.modify("ABCD2345", collections=["BCDF1234", "THES5678"])
    sync_user(user, db, client)
    assert by_collection(db) == {"": [], "reading": [TD], "thesis": sorted([ATTENTION, TD])}

    # the profiles the models learn from follow (the default keeps none of them)
    assert {p.id for p in profile_for(db, user, "thesis").saved} == {ATTENTION, TD}
    assert {p.id for p in profile_for(db, user, "reading").saved} == {TD}
    assert {p.id for p in profile_for(db, user).saved} == set()
    assert not {p.id for p in candidates_for(db, user)} & {ATTENTION, TD}


def test_sub_collections_are_not_included(
    small: ZoteroServer, client: HttpClient, db: Storage
) -> None:
    small.library.modify("ABCD2345", collections=["CHAP0001"])  # in "Thesis" › "Chapter 1"
    user = make_config(small.base, extra_users=MAPPED).user("ada")
    sync_user(user, db, client)
    assert by_collection(db) == {"": [TD], "reading": [ATTENTION], "thesis": []}


def test_with_a_filter_the_mapped_collections_are_synced_too(
    small: ZoteroServer, client: HttpClient, db: Storage
) -> None:
    small.library.modify("ABCD2345", collections=["THES5678"])
    only_thesis = MAPPED.replace('zotero = "to read"          # a name (case aside)\n', "")
    user = make_config(small.base, collections=["To read"], extra_users=only_thesis).user("ada")
    report = sync_user(user, db, client)
    assert report.status == "ok", report.error
    # "To read" is the filter: its item feeds the default; "Thesis" feeds "thesis"
    assert db.zotero_paper_ids("ada", collection="") == [ATTENTION]
    assert db.zotero_paper_ids("ada", collection="thesis") == [TD]


def test_a_changed_mapping_syncs_in_full_and_an_unmapped_library_keeps_its_scope(
    small: ZoteroServer, client: HttpClient, db: Storage
) -> None:
    plain = make_config(small.base).user("ada")
    sync_user(plain, db, client)
    state = db.zotero_state("ada")
    assert state is not None and "map" not in json.loads(state.scope or "{}")
    assert not sync_user(plain, db, client).full  # as before collections: incremental
    mapped = make_config(small.base, extra_users=MAPPED).user("ada")
    report = sync_user(mapped, db, client)
    assert report.full and by_collection(db)["reading"] == [ATTENTION]
    again = sync_user(mapped, db, client)
    assert again.status == "unchanged"


def test_a_missing_zotero_collection_is_the_users_error_and_changes_nothing(
    small: ZoteroServer, client: HttpClient, db: Storage
) -> None:
    sync_user(make_config(small.base, extra_users=MAPPED).user("ada"), db, client)
    before = by_collection(db)
    wrong = MAPPED.replace('"THES5678"', '"Thesys"')
    report = sync_user(make_config(small.base, extra_users=wrong).user("ada"), db, client)
    assert report.status == "error" and "no collection named 'Thesys'" in (report.error or "")
    assert by_collection(db) == before
