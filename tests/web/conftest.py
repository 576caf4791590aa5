"""A Paperboy with two users, a few stored papers and a key, and its feedback app served
for real: uvicorn on a free loopback port, in a thread, with a clock the test drives."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from paperboy.jobs.config.load import load_config
from paperboy.jobs.config.model import Config
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.storage import Storage
from paperboy.jobs.web.app import create_app
from paperboy.jobs.web.server import WebThread, uvicorn_server
from paperboy.jobs.web.tokens import Signer

KEY = "k" * 20 + "-test-key-of-enough-length-0123456789"
# The app's clock starts at the real time (to the minute): `paperboy status`, run in a test,
# reads the real clock, and a pause must be in force for it too. Tests move `Clock`.
NOW = datetime.now(UTC).replace(second=0, microsecond=0)

CONFIG = """\
# Paperboy for the web tests
[paperboy]
database = "sqlite:///paperboy.db"
timezone = "UTC"

[email]
from = "Paperboy <paperboy@example.org>"
transport = "outbox"
outbox = "outbox/"

[web]
base_url = "https://paperboy.example.org"

[[users]]
name = "ada"
email = "ada@example.org"
saved = [
    "2401.00001",  # graph networks, kept by hand
]
keywords = ["bandits"]  # a comment that must survive
authors = []
muted = []
disliked = []

[[users]]
name = "bob"
email = "bob@example.org"
saved = []
"""

PAPERS = [
    SourcePaper(
        id="2401.00001",
        title="Graph networks for molecules",
        abstract="We learn on molecular graphs.",
        authors=("A. Author",),
        categories=("cs.LG",),
        link="https://arxiv.org/abs/2401.00001",
    ),
    SourcePaper(
        id="2401.00002",
        title="Bandits with <script>alert('x')</script> knapsacks & more",
        abstract="Regret bounds.",
        authors=("B. Author",),
        categories=("cs.LG",),
        link="https://arxiv.org/abs/2401.00002",
    ),
    SourcePaper(
        id="2401.00003",
        title="Protein folding at scale",
        abstract="Structures.",
        authors=("C. Author",),
        categories=("q-bio.BM",),
        link="https://arxiv.org/abs/2401.00003",
    ),
]


class Clock:
    """The app's clock: starts at NOW, moved by tests."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Site:
    """A served Paperboy: its config file, storage, key, clock and base URL."""

    config_path: Path
    config: Config
    storage: Storage
    signer: Signer
    clock: Clock
    url: str

    def link(self, path: str, action: str, user: str = "ada", **kw: object) -> str:
        days = kw.pop("days", 60)
        token = self.signer.make(action, user, days=days, **kw)  # type: ignore[arg-type]
        return f"{self.url}/{path}/{token}"

    def text(self) -> str:
        return self.config_path.read_text(encoding="utf-8")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def listening(port: int, host: str = "127.0.0.1") -> bool:
    try:
        httpx.get(f"http://{host}:{port}/", timeout=1)
    except httpx.HTTPError:
        return False
    return True


@pytest.fixture
def paperboy_dir(tmp_path: Path) -> Path:
    """config.toml (ada and bob), web.key, and a database with PAPERS stored."""
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "web.key").write_text(KEY + "\n", encoding="utf-8")
    config = load_config(tmp_path / "config.toml")
    with Storage.open(config.database) as storage:
        storage.upsert_papers(PAPERS, source="arxiv", listed=True)
    return tmp_path


@pytest.fixture
def site(paperboy_dir: Path) -> Iterator[Site]:
    config = load_config(paperboy_dir / "config.toml")
    clock = Clock()
    port = free_port()
    with Storage.open(config.database) as storage:
        app = create_app(config, storage, secret=KEY, now=clock)
        server = uvicorn_server(app, "127.0.0.1", port)
        web = WebThread(server)
        web.start()
        try:
            wait_until(lambda: server.started, "the server to start")
            yield Site(
                paperboy_dir / "config.toml",
                config,
                storage,
                Signer(KEY, now=clock),
                clock,
                f"http://127.0.0.1:{port}",
            )
        finally:
            web.stop()
