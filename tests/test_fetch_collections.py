"""The fetch looks up the saved papers of a user's collections too (issue #23): a
collection's model needs their text like the default collection's. Against the local
arXiv server of tests/test_fetch.py (saved real responses; never the network)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import parse_qs

import pytest

from paperboy.jobs.config.model import CollectionConfig
from paperboy.jobs.config.schedule import wants_fetch
from paperboy.jobs.fetch.http import HttpClient
from paperboy.jobs.fetch.listings import LOOKUP_SOURCE, fetch_all
from paperboy.jobs.storage import Storage
from tests.http_server import FakeTime, LocalServer, Reply, ToLocal
from tests.test_fetch import API_PATH, API_TWO, RSS_EMPTY, RSS_PATH, capture_body, make_config


@pytest.fixture
def client(server: LocalServer, fake: FakeTime) -> Iterator[HttpClient]:
    with HttpClient(
        contact="ops@example.org",
        timeout=5.0,
        retries=1,
        transport=ToLocal(server.port),
        sleep=fake.sleep,
        clock=fake.clock,
    ) as c:
        yield c


@pytest.fixture
def db() -> Iterator[Storage]:
    with Storage.open("sqlite://") as s:
        yield s


def test_a_collections_saved_papers_are_looked_up(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    config = make_config(server, saved=("1707.08567",))
    [ada] = config.users
    ada = replace(ada, collections=(CollectionConfig("theory", saved=("2401.00001",)),))
    config = replace(config, users=(ada,))
    server.serve(RSS_PATH, Reply(200, {}, RSS_EMPTY.read_bytes()))
    server.serve(API_PATH, Reply(200, {}, capture_body(API_TWO)))

    reports = fetch_all(config, db, client)

    [lookup] = [r for r in reports if r.name == LOOKUP_SOURCE]
    assert lookup.status == "ok", lookup.error
    [request] = server.seen(API_PATH)
    assert set(parse_qs(request.query)["id_list"][0].split(",")) == {"1707.08567", "2401.00001"}
    assert lookup.error == "unknown ids: 2401.00001"  # asked for, and arXiv said so


def test_saved_papers_only_in_a_collection_still_want_a_fetch(server: LocalServer) -> None:
    config = make_config(server, saved=())
    [ada] = config.users
    bare = replace(config, arxiv=None)
    assert not wants_fetch(bare)
    theory = CollectionConfig("theory", saved=("2401.00001",))
    assert wants_fetch(replace(bare, users=(replace(ada, collections=(theory,)),)))
