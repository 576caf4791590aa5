"""Real processes: `paperboy serve` and `paperboy run` (serve = true) started, used over
HTTP and stopped with SIGTERM; clicks racing `paperboy profile` edits of the same file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from paperboy.jobs.config import lists, writes
from paperboy.jobs.config.lists import edit_profile, like_operations
from paperboy.jobs.config.load import load_config
from paperboy.jobs.config.writes import write_config
from paperboy.jobs.web.tokens import Signer
from tests.commands import PAPERBOY
from tests.web.conftest import KEY, free_port, listening, wait_until
from tests.web.test_app import csrf_of

N = 6  # clicks, and as many `paperboy profile add` processes, all at once


def start(config: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "PAPERBOY_WEB_SECRET"}
    return subprocess.Popen(
        [*PAPERBOY, "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        _out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, err = proc.communicate()
    return proc.returncode, err


def other_address() -> str | None:
    """This machine's address on its default route, if it has one (nothing is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            address: str = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def users(config: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = tomllib.loads(config.read_text(encoding="utf-8"))["users"]
    return found


def test_serve_answers_on_loopback_only_and_stops_on_sigterm(paperboy_dir: Path) -> None:
    config = paperboy_dir / "config.toml"
    port = free_port()
    proc = start(config, "serve", "--listen", f"127.0.0.1:{port}")
    try:
        wait_until(lambda: listening(port), "paperboy serve to listen")
        link = f"http://127.0.0.1:{port}/like/" + Signer(KEY).make(
            "like", "ada", days=1, paper="2401.00003"
        )
        assert httpx.get(link).status_code == 200
        address = other_address()
        if address is not None:
            assert not listening(port, address), f"reachable on {address}"
    finally:
        code, err = stop(proc)
    assert code == 0, err
    assert not listening(port)
    assert KEY not in err and "/like/" not in err  # neither the key nor a token is logged


def test_serve_refuses_to_start_without_a_key(paperboy_dir: Path) -> None:
    (paperboy_dir / "web.key").unlink()
    proc = start(paperboy_dir / "config.toml", "serve", "--listen", f"127.0.0.1:{free_port()}")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "no key to sign feedback links" in err and "Traceback" not in err


def test_run_with_serve_true_serves_beside_the_scheduler(paperboy_dir: Path) -> None:
    config = paperboy_dir / "config.toml"
    port = free_port()
    text = config.read_text(encoding="utf-8").replace(
        "[web]\n", f'[web]\nserve = true\nlisten = "127.0.0.1:{port}"\n'
    )
    config.write_text(text, encoding="utf-8")
    proc = start(config, "run")
    try:
        wait_until(lambda: listening(port), "paperboy run to serve the pages", 60)
        link = f"http://127.0.0.1:{port}/p/" + Signer(KEY).make("profile", "ada", days=1)
        page = httpx.get(link)
        assert page.status_code == 200 and "Graph networks for molecules" in page.text
    finally:
        code, err = stop(proc)
    assert code == 0, err
    assert not listening(port)


def test_clicks_racing_paperboy_profile_lose_no_change(paperboy_dir: Path) -> None:
    """N clicks in a digest while N `paperboy profile add` processes edit the same
    config.toml: every like and every keyword ends up in the file."""
    config = paperboy_dir / "config.toml"
    port = free_port()
    server = start(config, "serve", "--listen", f"127.0.0.1:{port}")
    signer = Signer(KEY)
    ids = [f"2402.{n + 1:05d}" for n in range(N)]
    keywords = [f"keyword {n}" for n in range(N)]
    try:
        wait_until(lambda: listening(port), "paperboy serve to listen")
        links = [
            f"http://127.0.0.1:{port}/like/" + signer.make("like", "ada", days=1, paper=pid)
            for pid in ids
        ]
        pages = [httpx.get(link) for link in links]  # open every page first

        def press(i: int) -> httpx.Response:
            return httpx.post(links[i], data={"csrf": csrf_of(pages[i].text)}, timeout=60)

        cli = [start(config, "profile", "add", "--user", "ada", "--keyword", kw) for kw in keywords]
        with ThreadPoolExecutor(max_workers=N) as pool:
            responses = list(pool.map(press, range(N)))
        statuses = [r.status_code for r in responses]
        results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in cli]
    finally:
        stop(server)
    assert statuses == [200] * N, [
        r.text.split("Nothing was changed")[1][:300] for r in responses if r.status_code != 200
    ]
    assert [code for code, _ in results] == [0] * N, results
    ada = users(config)[0]
    assert sorted(ada["saved"]) == sorted(["2401.00001", *ids])
    assert sorted(ada["keywords"]) == sorted(["bandits", *keywords])
    assert "# a comment that must survive" in config.read_text(encoding="utf-8")


def test_a_click_retries_over_a_hand_edit_made_meanwhile(
    paperboy_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An editor takes no lock: the first write is refused (the file changed), the edit is
    made again on the new text, and both changes are in the file."""
    config = paperboy_dir / "config.toml"
    hand = config.read_text(encoding="utf-8").replace("muted = []", 'muted = ["crypto"]')
    raced: list[bool] = []

    def racing_write(snapshot: writes.ConfigSnapshot, text: str) -> bool:
        if not raced:
            raced.append(True)
            return write_config(
                snapshot, text, _before_replace=lambda: config.write_text(hand, encoding="utf-8")
            )
        return write_config(snapshot, text)

    monkeypatch.setattr(lists, "write_config", racing_write)
    edit = edit_profile(
        load_config(config),
        "ada",
        like_operations(["2401.00003"]),
        attempts=5,
        sleep=lambda _: None,
    )
    changes, written = edit.changes, edit.written
    assert written and raced
    ada = users(config)[0]
    assert ada["muted"] == ["crypto"] and ada["saved"] == ["2401.00001", "2401.00003"]
    assert [c.action for c in changes if c.action != "not-found"] == ["added"]
