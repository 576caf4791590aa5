"""HttpClient against a real local HTTP server: politeness, caching, retries, limits.

The server is stdlib `http.server` on 127.0.0.1 (port 0) in a background thread, scripted
per path with a queue of replies; it records every request's headers. Sleeping and the
clock are faked, so no test waits on a real Retry-After and none asserts a duration.
"""

from __future__ import annotations

import gzip
import socket
import time
from collections.abc import Iterator
from email.utils import formatdate

import pytest

from paperboy.jobs.core.errors import SourceError
from paperboy.jobs.fetch.http import MAX_RETRY_AFTER, HttpClient, HttpStatusError, user_agent
from tests.http_server import FakeTime, LocalServer, Reply


@pytest.fixture
def client(fake: FakeTime) -> Iterator[HttpClient]:
    with HttpClient(
        contact="ops@example.org",
        timeout=5.0,
        retries=2,
        backoff=2.0,
        min_interval={},
        sleep=fake.sleep,
        clock=fake.clock,
    ) as c:
        yield c


FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"
ETAG = '"listing-2025-08-06"'
LAST_MODIFIED = "Wed, 06 Aug 2025 04:25:50 GMT"


# --- success, identity, conditional GET ----------------------------------------------


def test_200_returns_body_and_caching_headers(server: LocalServer, client: HttpClient) -> None:
    url = server.serve(
        "/rss/cs.LG",
        Reply(
            200,
            {
                "Content-Type": "application/rss+xml",
                "ETag": ETAG,
                "Last-Modified": LAST_MODIFIED,
            },
            FEED,
        ),
    )
    response = client.get(url)
    assert response.status == 200
    assert response.content == FEED
    assert response.etag == ETAG
    assert response.last_modified == LAST_MODIFIED
    assert response.content_type == "application/rss+xml"
    assert not response.not_modified
    assert response.url == url


def test_user_agent_names_paperboy_and_the_contact(server: LocalServer, client: HttpClient) -> None:
    url = server.serve("/ua", Reply(200, {}, b"ok"))
    client.get(url)
    agent = server.seen("/ua")[0].headers["user-agent"]
    assert "Paperboy" in agent
    assert "ops@example.org" in agent


def test_user_agent_without_contact_has_no_mailto() -> None:
    assert "mailto" not in user_agent(None)
    assert user_agent(None).startswith("Paperboy/")


def test_unconditional_get_sends_no_validators(server: LocalServer, client: HttpClient) -> None:
    client.get(server.serve("/plain", Reply(200, {}, b"x")))
    headers = server.seen("/plain")[0].headers
    assert "if-none-match" not in headers
    assert "if-modified-since" not in headers


def test_conditional_get_sends_validators_and_304_is_not_modified(
    server: LocalServer, client: HttpClient
) -> None:
    url = server.serve("/rss/cs.LG", Reply(304, {"ETag": ETAG}))
    response = client.get(url, etag=ETAG, last_modified=LAST_MODIFIED)
    headers = server.seen("/rss/cs.LG")[0].headers
    assert headers["if-none-match"] == ETAG
    assert headers["if-modified-since"] == LAST_MODIFIED
    assert response.not_modified
    assert response.status == 304
    assert response.content is None
    # The validators survive a 304, so the caller can keep them.
    assert response.etag == ETAG
    assert response.last_modified == LAST_MODIFIED


def test_304_with_fresh_validators_returns_them(server: LocalServer, client: HttpClient) -> None:
    url = server.serve("/rotated", Reply(304, {"ETag": '"v2"'}))
    response = client.get(url, etag='"v1"', last_modified=LAST_MODIFIED)
    assert response.not_modified
    assert response.etag == '"v2"'
    assert response.last_modified == LAST_MODIFIED


# --- Retry-After, retries and backoff -----------------------------------------------


def test_503_with_retry_after_seconds_then_200(
    server: LocalServer, client: HttpClient, fake: FakeTime
) -> None:
    url = server.serve(
        "/busy",
        Reply(503, {"Retry-After": "7"}, b"busy"),
        Reply(200, {}, FEED),
    )
    response = client.get(url)
    assert response.content == FEED
    assert fake.sleeps == [7]
    assert len(server.seen("/busy")) == 2


def test_429_with_http_date_retry_after(
    server: LocalServer, client: HttpClient, fake: FakeTime
) -> None:
    later = formatdate(fake.now + 20, usegmt=True)
    url = server.serve(
        "/slow-down",
        Reply(429, {"Retry-After": later}, b"too many"),
        Reply(200, {}, FEED),
    )
    response = client.get(url)
    assert response.content == FEED
    assert fake.sleeps == [pytest.approx(20, abs=1)]


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run in a local time zone far from UTC, so a date read as local time shows."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("far_from_utc")
def test_retry_after_date_without_zone_is_read_as_gmt(
    server: LocalServer, client: HttpClient, fake: FakeTime
) -> None:
    later = formatdate(fake.now + 30, usegmt=True).replace("GMT", "-0000")
    url = server.serve("/nozone", Reply(503, {"Retry-After": later}), Reply(200, {}, b"ok"))
    assert client.get(url).content == b"ok"
    assert fake.sleeps == [pytest.approx(30, abs=1)]


def test_retry_after_date_in_the_past_retries_at_once(
    server: LocalServer, client: HttpClient, fake: FakeTime
) -> None:
    earlier = formatdate(fake.now - 60, usegmt=True)
    url = server.serve("/past", Reply(503, {"Retry-After": earlier}), Reply(200, {}, b"ok"))
    assert client.get(url).content == b"ok"
    assert fake.sleeps == [0.0]


def test_unreadable_retry_after_falls_back_to_backoff(
    server: LocalServer, client: HttpClient, fake: FakeTime
) -> None:
    url = server.serve("/odd", Reply(503, {"Retry-After": "soon"}), Reply(200, {}, b"ok"))
    assert client.get(url).content == b"ok"
    assert fake.sleeps == [2.0]


def test_retry_after_above_the_cap_gives_up_without_sleeping(
    server: LocalServer, client: HttpClient, fake: FakeTime
) -> None:
    url = server.serve("/later", Reply(503, {"Retry-After": "3600"}, b"come back in an hour"))
    with pytest.raises(SourceError, match="3600"):
        client.get(url)
    assert all(s <= MAX_RETRY_AFTER for s in fake.sleeps)
    assert fake.sleeps == []
    assert len(server.seen("/later")) == 1


def test_500_past_the_retries_is_a_source_error_naming_the_status(
    server: LocalServer, client: HttpClient, fake: FakeTime
) -> None:
    url = server.serve("/broken", Reply(500, {}, b"oops"))
    with pytest.raises(SourceError, match="HTTP 500"):
        client.get(url)
    assert len(server.seen("/broken")) == 3  # the first try and retries=2
    assert fake.sleeps == [2.0, 4.0]  # exponential backoff


def test_404_fails_at_once_without_retrying(
    server: LocalServer, client: HttpClient, fake: FakeTime
) -> None:
    url = server.base + "/missing"
    with pytest.raises(SourceError, match="HTTP 404"):
        client.get(url)
    assert len(server.seen("/missing")) == 1
    assert fake.sleeps == []


def test_an_error_status_is_a_typed_error_with_its_status_and_retry_after(
    server: LocalServer, client: HttpClient
) -> None:
    url = server.serve("/gone", Reply(403, {}, b"Forbidden"))
    with pytest.raises(HttpStatusError) as caught:
        client.get(url)
    assert (caught.value.status, caught.value.retry_after) == (403, None)
    url = server.serve("/busy", Reply(429, {"Retry-After": str(int(MAX_RETRY_AFTER) + 1)}))
    with pytest.raises(HttpStatusError) as caught:
        client.get(url)
    assert (caught.value.status, caught.value.retry_after) == (429, MAX_RETRY_AFTER + 1)


def test_headers_follow_a_redirect_only_within_the_origin(
    server: LocalServer, client: HttpClient
) -> None:
    other = LocalServer().start()
    try:
        server.serve("/here", Reply(200, {}, b"same origin"))
        url = server.serve("/a", Reply(302, {"Location": "/here"}))
        assert client.get(url, headers={"X-Key": "k"}).content == b"same origin"
        assert server.seen("/here")[0].headers["x-key"] == "k"
        away = server.serve("/b", Reply(302, {"Location": other.serve("/x", Reply(200))}))
        with pytest.raises(SourceError, match="redirected to another host"):
            client.get(away, headers={"X-Key": "k"})
        assert other.requests == []
        assert client.get(away).status == 200  # without headers: followed, as before
    finally:
        other.stop()


def test_redirect_is_followed(server: LocalServer, client: HttpClient) -> None:
    server.serve("/new", Reply(200, {}, b"moved here"))
    url = server.serve("/old", Reply(301, {"Location": "/new"}))
    assert client.get(url).content == b"moved here"


def test_redirect_loop_is_a_source_error(server: LocalServer, client: HttpClient) -> None:
    url = server.serve("/loop", Reply(302, {"Location": "/loop"}))
    with pytest.raises(SourceError, match="/loop"):
        client.get(url)


# --- the size cap --------------------------------------------------------------------


def test_declared_length_above_the_cap_is_refused(server: LocalServer, fake: FakeTime) -> None:
    url = server.serve("/big", Reply(200, {}, b"x" * 5000))
    with (
        HttpClient(max_bytes=1000, min_interval={}, sleep=fake.sleep, clock=fake.clock) as c,
        pytest.raises(SourceError, match="1000-byte cap"),
    ):
        c.get(url)
    assert len(server.seen("/big")) == 1  # a too-big answer is not retried


def test_chunked_body_above_the_cap_is_refused(server: LocalServer, fake: FakeTime) -> None:
    url = server.serve("/big", Reply(200, {}, b"x" * 50_000, chunked=True))
    with (
        HttpClient(max_bytes=1000, min_interval={}, sleep=fake.sleep, clock=fake.clock) as c,
        pytest.raises(SourceError, match="1000-byte cap"),
    ):
        c.get(url)
    assert len(server.seen("/big")) == 1


def test_chunked_body_below_the_cap_is_read_whole(server: LocalServer, client: HttpClient) -> None:
    body = bytes(range(256)) * 40
    url = server.serve("/chunks", Reply(200, {}, body, chunked=True))
    assert client.get(url).content == body


def test_gzip_body_is_decoded(server: LocalServer, client: HttpClient) -> None:
    url = server.serve("/gz", Reply(200, {"Content-Encoding": "gzip"}, gzip.compress(FEED)))
    assert client.get(url).content == FEED


def test_gzip_bomb_is_capped_on_the_decoded_size(server: LocalServer, fake: FakeTime) -> None:
    bomb = gzip.compress(b"\0" * 1_000_000)  # ~1 KB on the wire
    url = server.serve("/bomb", Reply(200, {"Content-Encoding": "gzip"}, bomb))
    with (
        HttpClient(max_bytes=100_000, min_interval={}, sleep=fake.sleep, clock=fake.clock) as c,
        pytest.raises(SourceError, match="cap"),
    ):
        c.get(url)


def test_corrupt_gzip_is_a_source_error(server: LocalServer, client: HttpClient) -> None:
    url = server.serve("/badgz", Reply(200, {"Content-Encoding": "gzip"}, b"not gzip at all"))
    with pytest.raises(SourceError, match="/badgz"):
        client.get(url)


# --- network failures ----------------------------------------------------------------


def test_server_that_never_answers_times_out_after_retries(fake: FakeTime) -> None:
    # A listening socket nobody accept()s: the kernel completes the handshake, the request
    # is sent, and no answer ever comes.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        with (
            HttpClient(
                timeout=0.5, retries=1, min_interval={}, sleep=fake.sleep, clock=fake.clock
            ) as c,
            pytest.raises(SourceError, match="timed out") as caught,
        ):
            c.get(f"http://127.0.0.1:{port}/rss/cs.LG")
    assert "2 attempts" in str(caught.value)
    assert fake.sleeps == [2.0]


def test_connection_refused_is_a_source_error_after_retries(fake: FakeTime) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port is closed now: connecting is refused.
    with (
        HttpClient(retries=2, min_interval={}, sleep=fake.sleep, clock=fake.clock) as c,
        pytest.raises(SourceError, match="failed after 3 attempts"),
    ):
        c.get(f"http://127.0.0.1:{port}/")
    assert fake.sleeps == [2.0, 4.0]


@pytest.mark.parametrize("url", ["rss.arxiv.org/rss/cs.LG", "ftp://rss.arxiv.org/", "http://[x/"])
def test_unusable_url_is_a_source_error_without_retrying(url: str, fake: FakeTime) -> None:
    with (
        HttpClient(retries=3, min_interval={}, sleep=fake.sleep, clock=fake.clock) as c,
        pytest.raises(SourceError),
    ):
        c.get(url)
    assert fake.sleeps == []


# --- the per-host minimum interval ---------------------------------------------------


def test_min_interval_sleeps_the_remaining_time(server: LocalServer, fake: FakeTime) -> None:
    url = server.serve("/rss", Reply(200, {}, b"ok"))
    with HttpClient(min_interval={"127.0.0.1": 3.0}, sleep=fake.sleep, clock=fake.clock) as c:
        c.get(url)
        assert fake.sleeps == []  # the first request to a host never waits
        fake.now += 1.0
        c.get(url)
        assert fake.sleeps == [pytest.approx(2.0)]
        fake.now += 10.0
        c.get(url)
        assert fake.sleeps == [pytest.approx(2.0)]  # long enough since: no wait
        c.get(url)
        assert fake.sleeps == [pytest.approx(2.0), pytest.approx(3.0)]
    assert len(server.seen("/rss")) == 4


def test_min_interval_is_per_host(server: LocalServer, fake: FakeTime) -> None:
    url = server.serve("/rss", Reply(200, {}, b"ok"))
    with HttpClient(min_interval={"rss.arxiv.org": 3.0}, sleep=fake.sleep, clock=fake.clock) as c:
        c.get(url)
        c.get(url)
    assert fake.sleeps == []


def test_retries_respect_the_min_interval(server: LocalServer, fake: FakeTime) -> None:
    # Retry-After: 1 is shorter than the host's 3 s interval: the interval still holds.
    url = server.serve("/rss", Reply(503, {"Retry-After": "1"}), Reply(200, {}, b"ok"))
    with HttpClient(min_interval={"127.0.0.1": 3.0}, sleep=fake.sleep, clock=fake.clock) as c:
        assert c.get(url).content == b"ok"
    assert sum(fake.sleeps) == pytest.approx(3.0)


def test_arxiv_hosts_are_throttled_by_default() -> None:
    with HttpClient() as c:
        assert c.min_interval["export.arxiv.org"] >= 3.0
        assert c.min_interval["rss.arxiv.org"] >= 3.0
