"""The whole loop in a real browser: headless Chromium (Debian's, driven by selenium through
Debian's chromedriver: nothing is downloaded) opens the demo's digest, clicks "More like
this", confirms, and the config file and the next ranking change.

Skipped, with the reason, where there is no Chromium. Screenshots of the digest with its
buttons, the confirm page and the profile page, at 380 and 700 px, light and dark, are
written to $PAPERBOY_SCREENSHOTS when it is set (else to the test's temporary folder).
"""

from __future__ import annotations

import os
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paperboy.jobs.config.load import load_config
from paperboy.jobs.config.model import Config
from paperboy.jobs.ranking.candidates import rank_for
from paperboy.jobs.runners.demo import DEMO_BASE_URL, run_demo
from paperboy.jobs.storage import Storage, StoredPaper
from paperboy.jobs.web.app import create_app
from paperboy.jobs.web.server import WebThread, uvicorn_server
from tests.web.conftest import free_port, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WIDTHS = (380, 700)

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait
except ImportError:  # pragma: no cover - selenium is a test dependency
    webdriver = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.skipif(webdriver is None, reason="selenium is not installed"),
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason=f"no Chromium at {CHROMIUM} with {CHROMEDRIVER} "
        "(apt-get install chromium chromium-driver)",
    ),
    pytest.mark.slow,
]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _replaced(element: Any) -> Any:
    """A wait condition: ``element``'s page has been replaced. Selenium's staleness_of
    expects StaleElementReferenceException; ChromeDriver 156 may instead answer a
    query on a node of the page being left with "unknown error: unhandled inspector
    error: ... Node with given id does not belong to the document" (seen once in CI),
    which says the same."""

    def check(_driver: Any) -> bool:
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:
            if "does not belong to the document" in str(e):
                return True
            raise
        return False

    return check


def follow(driver: Any, element: Any) -> None:
    """Click a link or a button and wait until the next page has replaced this one."""
    element.click()
    WebDriverWait(driver, 60).until(_replaced(element))
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def shoot(driver: Any, directory: Path, name: str, max_height: int = 4000) -> list[Path]:
    """The current page at each width, light and dark, its whole height up to
    `max_height`; the PNGs."""
    keep = os.environ.get("PAPERBOY_SCREENSHOTS")
    written = []
    for scheme in ("light", "dark"):
        driver.execute_cdp_cmd(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
        )
        for width in WIDTHS:
            driver.set_window_size(width, 900)
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {
                    "width": width,
                    "height": min(int(height), max_height),
                    "deviceScaleFactor": 1,
                    "mobile": False,
                },
            )
            png = directory / f"{name}-{width}-{scheme}.png"
            driver.save_screenshot(str(png))
            written.append(png)
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                shutil.copy(png, Path(keep) / png.name)
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    driver.set_window_size(700, 900)
    return written


def ranks(config: Config, storage: Storage) -> dict[str, tuple[int, float]]:
    """Every listed paper not in ada's profile: its (rank, score) for ada now."""
    user = config.user("ada")
    mine = {*user.saved, *user.disliked}
    candidates = [p for p in storage.listed_papers() if p.id not in mine]
    ranked = rank_for(config, storage, user, candidates)
    return {r.paper.id: (i, r.score) for i, r in enumerate(ranked, start=1)}


def nearest(storage: Storage, paper_id: str, among: list[str]) -> list[str]:
    """`among`, most similar to `paper_id` first (TF-IDF cosine of title and abstract):
    the papers "More like this" should bring up."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    stored = storage.get_papers([paper_id, *among])

    def text(p: StoredPaper) -> str:
        return f"{p.title} {p.abstract}"

    ids = [pid for pid in among if pid in stored and pid != paper_id]
    matrix = TfidfVectorizer(stop_words="english").fit_transform(
        [text(stored[paper_id]), *(text(stored[pid]) for pid in ids)]
    )
    similarity = (matrix[1:] @ matrix[0].T).toarray().ravel()
    return [pid for _, pid in sorted(zip(similarity, ids, strict=True), reverse=True)]


def test_more_like_this_in_a_real_browser_changes_the_profile_and_the_ranking(
    tmp_path: Path, browser: Any
) -> None:
    demo = run_demo(tmp_path / "demo")
    assert demo.html is not None
    config_path = tmp_path / "demo" / "config.toml"
    config = load_config(config_path)
    shots = tmp_path / "shots"
    shots.mkdir()
    port = free_port()
    with Storage.open(config.database) as storage:
        web = WebThread(
            uvicorn_server(
                create_app(config, storage, secret=config.web.secret()), "127.0.0.1", port
            )
        )
        web.start()
        try:
            wait_until(lambda: web.server.started, "the server to start")
            # The demo's digest links to `paperboy serve` on its default port; this test's
            # server listens on a free one.
            digest = tmp_path / "digest.html"
            digest.write_text(
                demo.html.read_text(encoding="utf-8").replace(
                    DEMO_BASE_URL, f"http://127.0.0.1:{port}"
                ),
                encoding="utf-8",
            )
            before = ranks(config, storage)

            browser.get(digest.as_uri())
            more = browser.find_elements(By.LINK_TEXT, "More like this")
            less = browser.find_elements(By.LINK_TEXT, "Less like this")
            assert len(more) == len(less) == len(demo.digests[0].picked) >= 5
            for label in ("Unsubscribe", "Pause for a week", "Your profile"):
                assert len(browser.find_elements(By.LINK_TEXT, label)) == 1, label
            shoot(browser, shots, "digest")
            shoot(browser, shots, "digest-top", max_height=1000)  # the first papers

            # The last paper of the digest: the one with the most room to move.
            liked = demo.digests[0].picked[-1].paper.id
            follow(browser, browser.find_elements(By.LINK_TEXT, "More like this")[-1])
            assert browser.find_element(By.TAG_NAME, "h1").text == "More papers like this one?"
            assert liked not in config_path.read_text(encoding="utf-8")  # a GET changes nothing
            shoot(browser, shots, "confirm")

            follow(browser, browser.find_element(By.CSS_SELECTOR, "button.primary"))
            assert browser.find_element(By.TAG_NAME, "h1").text == "Saved"
            assert "is now in your saved papers" in browser.page_source
            saved = tomllib.loads(config_path.read_text(encoding="utf-8"))["users"][0]["saved"]
            assert liked in saved
            shoot(browser, shots, "done")

            follow(browser, browser.find_element(By.LINK_TEXT, "Your profile"))
            assert "ada's profile" in browser.find_element(By.TAG_NAME, "h1").text
            assert demo.digests[0].picked[-1].paper.title.split()[0] in browser.page_source
            shoot(browser, shots, "profile")

            after = ranks(load_config(config_path), storage)
            neighbours = nearest(storage, liked, list(after))
        finally:
            web.stop()

    # The next ranking: the papers most like the one liked move up.
    assert liked not in after  # now a saved paper, not a candidate
    similar = [pid for pid in neighbours[:5] if before[pid][0] > 1]
    assert similar
    moved = {pid: (before[pid], after[pid]) for pid in similar}
    assert all(a[1] > b[1] for b, a in moved.values()), moved  # every score went up
    assert after[similar[0]][0] < before[similar[0]][0], moved  # the closest one ranks higher
    assert sum(after[p][0] for p in similar) < sum(before[p][0] for p in similar), moved

    pngs = sorted(shots.glob("*.png"))
    assert len(pngs) == 5 * 2 * 2
    for png in pngs:
        assert png.stat().st_size > 2000, png
