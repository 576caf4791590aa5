"""Render a real two-collection digest from the bundled demo data and screenshot it.

    python scripts/collections_screenshot.py [DIR] [--png docs/img/collections-digest.png]

The demo's user (ada, the starter config, max_papers 3 here) with her four computer-vision
papers moved into a collection "vision" and a keywords-only collection "agents" (max_papers
2 each); the rest of her saved papers stay her default collection. The demo pipeline runs
(bundled arXiv days, bundled vectors, the shipped ranker), the digest's HTML preview is
written to the outbox, and headless Chromium (Debian's /usr/bin/chromium) takes a PNG of
it at 700 px wide. Used for the screenshot in docs/configuration.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from paperboy.jobs.runners.demo import demo_config, run_demo, sample_dir

CHROMIUM = Path("/usr/bin/chromium")


def two_collection_config() -> str:
    """The demo's config with ada's vision papers in a collection, and one more."""
    saved = [json.loads(line) for line in (sample_dir() / "saved.jsonl").read_text().splitlines()]
    vision = [p["id"] for p in saved if p["categories"][0] == "cs.CV"]
    lines = [
        line.replace("max_papers = 10 ", "max_papers = 3  ")  # a short default section
        for line in demo_config().splitlines()
        if not any(f'"{pid}"' in line for pid in vision)  # out of the top-level saved
    ]
    ids = ", ".join(f'"{pid}"' for pid in vision)
    return "\n".join(
        [
            *lines,
            "",
            "[[users.collections]]",
            'name = "vision"',
            f"saved = [{ids}]",
            "max_papers = 2",
            "",
            "[[users.collections]]",
            'name = "agents"',
            'keywords = ["multi-agent", "agents", "tool use"]',
            "max_papers = 2",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "dir", nargs="?", type=Path, help="where the demo goes (default: a temp dir)"
    )
    parser.add_argument("--png", type=Path, help="write the screenshot here")
    parser.add_argument("--height", type=int, default=3600)
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="paperboy-collections-"))
    result = run_demo(directory, config_text=two_collection_config())
    [digest] = result.digests
    print(f"{digest.status}: {len(digest.picked)} papers; preview {result.html}")
    for r in digest.picked:
        print(f"  {r.score:5.0%}  {r.paper.id}  {r.why[:90]}")
    if args.png is not None and result.html is not None:
        args.png.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={directory / 'chromium-profile'}",
                f"--window-size=700,{args.height}",
                f"--screenshot={args.png.resolve()}",
                Path(result.html).resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        print(f"screenshot: {args.png}")


if __name__ == "__main__":
    main()
