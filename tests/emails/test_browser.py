"""The HTML part as a real browser draws it: headless Chromium renders it to a PNG.

Skipped, with the reason, where there is no Chromium. Nothing is loaded from the network:
the message is one self-contained file and Chromium runs with its background traffic off.
To look at the pictures yourself, set PAPERBOY_SCREENSHOTS=DIR and open DIR/*.png.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from dataclasses import replace
from pathlib import Path

import pytest

from paperboy.emails.digest import Digest
from paperboy.emails.render import render_html
from tests.emails.conftest import DigestFactory, sample_trending, weekly_items

CHROMIUM = Path("/usr/bin/chromium")
WIDTH = 700

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} to render the HTML part"
)


def screenshot(html: str, directory: Path, name: str, *extra: str) -> Path:
    """Render `html` in headless Chromium at WIDTH px; return the PNG's path."""
    page = directory / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    png = directory / f"{name}.png"
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={directory / f'profile-{name}'}",
            f"--window-size={WIDTH},2000",
            f"--screenshot={png}",
            *extra,
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    keep = os.environ.get("PAPERBOY_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / png.name)
    return png


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from the PNG's IHDR chunk."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def png_first_row_pixel(png: bytes, x: int) -> tuple[int, int, int]:
    """The RGB colour of pixel (x, 0): enough of a PNG decoder to tell light from dark."""
    width, _ = png_size(png)
    bit_depth, color_type = png[24], png[25]
    assert bit_depth == 8 and color_type in (2, 6), (bit_depth, color_type)
    bpp = 3 if color_type == 2 else 4
    data, pos = b"", 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        if png[pos + 4 : pos + 8] == b"IDAT":
            data += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(data)[: 1 + width * bpp]  # the first scanline
    kind, line = raw[0], bytearray(raw[1:])  # kind: the scanline's filter type
    for i in range(len(line)):  # the row above is all zeros, so Up is None, Paeth is Sub
        left = line[i - bpp] if i >= bpp else 0
        if kind in (1, 4):
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + left // 2) & 0xFF
    r, g, b = line[x * bpp : x * bpp + 3]
    return r, g, b


def luminance(rgb: tuple[int, int, int]) -> float:
    r, g, b = rgb
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.fixture
def digest(make_digest: DigestFactory) -> Digest:
    return make_digest(
        trending=sample_trending(),
        unsubscribe=("https://paperboy.example.org/unsubscribe/ada", "unsubscribe@example.org"),
    )


def test_renders_in_chromium(digest: Digest, tmp_path: Path) -> None:
    png = screenshot(render_html(digest), tmp_path, "daily").read_bytes()
    assert len(png) > 20_000  # a page of text, not a blank or an error page
    assert png_size(png) == (WIDTH, 2000)
    assert luminance(png_first_row_pixel(png, 4)) > 200  # the light page background


def test_dark_mode_renders_dark(digest: Digest, tmp_path: Path) -> None:
    # --force-dark-mode makes prefers-color-scheme: dark match, as in a dark mail client.
    png = screenshot(render_html(digest), tmp_path, "daily-dark", "--force-dark-mode")
    data = png.read_bytes()
    assert len(data) > 20_000 and png_size(data) == (WIDTH, 2000)
    assert luminance(png_first_row_pixel(data, 4)) < 40  # #0d1117, not a white page


@pytest.mark.parametrize("case", ["weekly", "empty"])
def test_weekly_and_empty_render(digest: Digest, tmp_path: Path, case: str) -> None:
    if case == "weekly":
        shown = replace(digest, items=weekly_items(), period="week")
    else:
        shown = replace(digest, items=(), considered=40)
    png = screenshot(render_html(shown), tmp_path, case).read_bytes()
    assert len(png) > 10_000 and png_size(png) == (WIDTH, 2000)
