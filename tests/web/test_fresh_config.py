"""The feedback app reads the config as it is now, one user at a time (issue #20 item 2).

A user added to users_dir after the app started can use their links at once; a request
reads config.toml and the one user's file, not every user's; and a broken file of another
user is not this user's problem.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from paperboy.jobs.config.load import load_config
from paperboy.jobs.storage import Storage
from paperboy.jobs.web.app import create_app
from paperboy.jobs.web.tokens import Signer
from tests.jobs.test_users_dir import count_reads
from tests.web.conftest import KEY, PAPERS, Clock

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')

CONFIG = """\
[paperboy]
database = "sqlite:///paperboy.db"
timezone = "UTC"
users_dir = "users.d/"

[email]
from = "Paperboy <paperboy@example.org>"
transport = "outbox"
outbox = "outbox/"

[web]
base_url = "https://paperboy.example.org"

[[users]]
name = "ada"
email = "ada@example.org"
"""


def user_text(i: int) -> str:
    return f'email = "u{i}@example.org"\nsaved = ["2401.00001"]\nkeywords = ["k{i}"]\n'


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    users = tmp_path / "users.d"
    users.mkdir()
    (users / "bo.toml").write_text(user_text(0).replace("u0@", "bo@"), encoding="utf-8")
    return tmp_path


def client_for(folder: Path) -> Iterator[tuple[TestClient, Signer, Storage]]:
    config = load_config(folder / "config.toml")  # the config of start-up
    clock = Clock()
    with Storage.open(config.database) as storage:
        storage.upsert_papers(PAPERS, source="arxiv", listed=True)
        app = create_app(config, storage, secret=KEY, now=clock)
        with TestClient(app, base_url="http://127.0.0.1") as client:
            yield client, Signer(KEY, now=clock), storage


@pytest.fixture
def served(folder: Path) -> Iterator[tuple[TestClient, Signer, Storage]]:
    yield from client_for(folder)


def click(client: TestClient, url: str) -> tuple[int, str]:
    page = client.get(url)
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match
    done = client.post(url, data={"csrf": match.group(1)})
    return done.status_code, done.text


def test_a_user_added_after_start_can_like_and_see_their_profile(
    folder: Path, served: tuple[TestClient, Signer, Storage]
) -> None:
    client, signer, _storage = served
    cy = folder / "users.d" / "carol.toml"
    cy.write_text('name = "cy"\nemail = "cy@example.org"\n', encoding="utf-8")
    status, text = click(client, "/like/" + signer.make("like", "cy", days=1, paper="2401.00003"))
    assert status == 200, text
    assert "is now in your saved papers" in text
    assert load_config(folder / "config.toml").user("cy").saved == ("2401.00003",)
    profile = client.get("/p/" + signer.make("profile", "cy", days=1))
    assert profile.status_code == 200, profile.text
    assert "Protein folding at scale" in profile.text
    # And one who was there from the start, in config.toml, still works.
    assert client.get("/p/" + signer.make("profile", "ada", days=1)).status_code == 200


def test_a_user_removed_after_start_is_refused(
    folder: Path, served: tuple[TestClient, Signer, Storage]
) -> None:
    client, signer, _storage = served
    (folder / "users.d" / "bo.toml").unlink()
    got = client.get("/p/" + signer.make("profile", "bo", days=1))
    assert got.status_code == 403 and "does not know" in got.text


def test_a_renamed_user_is_found_under_the_new_name(
    folder: Path, served: tuple[TestClient, Signer, Storage]
) -> None:
    client, signer, _storage = served
    (folder / "users.d" / "bo.toml").write_text(
        'name = "bea"\nemail = "bea@example.org"\n', encoding="utf-8"
    )
    assert client.get("/p/" + signer.make("profile", "bea", days=1)).status_code == 200
    assert client.get("/p/" + signer.make("profile", "bo", days=1)).status_code == 403


def test_a_request_reads_the_one_users_file_of_two_thousand(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = folder / "users.d"
    for i in range(2000):
        (users / f"u{i:04d}.toml").write_text(user_text(i), encoding="utf-8")
    for client, signer, _storage in client_for(folder):
        reads = count_reads(monkeypatch)
        profile = "/p/" + signer.make("profile", "u1234", days=1)
        page = client.get(profile)
        assert page.status_code == 200 and "k1234" in page.text
        assert sum(reads.values()) <= 2 and set(reads) == {"u1234.toml"}, reads
        reads.clear()
        like = "/like/" + signer.make("like", "u0042", days=1, paper="2401.00003")
        status, text = click(client, like)
        assert status == 200, text
        assert set(reads) == {"u0042.toml"} and sum(reads.values()) <= 4, reads  # GET + POST

        # A file added meanwhile: read to learn its name, then as the user's file; and
        # the one file changed since the last request (u0042's, by the like) read again
        # for its name. Nothing else.
        (users / "zz.toml").write_text('name = "zed"\nemail = "z@example.org"\n', "utf-8")
        reads.clear()
        assert client.get("/p/" + signer.make("profile", "zed", days=1)).status_code == 200
        assert reads == Counter({"zz.toml": 2, "u0042.toml": 1}), reads
        reads.clear()
        assert client.get("/p/" + signer.make("profile", "zed", days=1)).status_code == 200
        assert reads == Counter({"zz.toml": 1}), reads

        # A broken file of another user does not break this user's page, nor their edits.
        (users / "u0007.toml").write_text("email = [\n", encoding="utf-8")
        assert client.get(profile).status_code == 200
        csrf = CSRF.search(client.get(profile).text)
        assert csrf
        added = client.post(
            profile, data={"csrf": csrf.group(1), "op": "add", "key": "authors", "value": "Bo"}
        )
        assert added.status_code == 200 and "Bo: added to your followed authors" in added.text
        # The broken file's own user is told the configuration cannot be read.
        assert client.get("/p/" + signer.make("profile", "u0007", days=1)).status_code == 503
