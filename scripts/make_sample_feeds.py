"""Build the bundled demo data (jobs/data/sample/) from the real arXiv listings file.

    python scripts/make_sample_feeds.py \\
        --listings ../shared/data/arxiv-listings-2025-03_2026-07.jsonl.gz --out jobs/data/sample

Writes one arXiv-layout RSS file per announcement day (the last 4 days of the listings
that have papers, ~120 papers each, a good share of them on LLMs / transformers /
retrieval / RL for reasoning), ``saved.jsonl`` (12 earlier papers on RL for LLM reasoning:
the sample user's library) and a README. Deterministic (seed 0). Then write the sample's
vectors again (`python -m paperboy.jobs.runners.demo --write-vectors`): the demo uses a
bundled vector only for the text it was computed from, and tests/jobs/test_demo_vectors.py
fails until they cover the new sample.

With ``--rss-fixture FEEDPARSER_JSON --fixture-out DIR`` it also rebuilds the RSS parser
test fixture from a saved feedparser capture (see tests/fixtures/README.md).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

# Run from a checkout without installing: the repository root holds the `jobs` package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paperboy.jobs.core.ids import abs_url, canonical_arxiv_id
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.fetch.sources.arxiv_rss import render_arxiv_rss

FEED_CATEGORIES = ("cs.CL", "cs.CV", "cs.AI", "cs.LG")
DAYS = 4
PER_DAY = 120
TOPICAL_PER_DAY = 40
REPLACEMENTS_PER_DAY = 6
SAVED = 12

_TOPICAL = re.compile(
    r"\b(LLMs?|large language models?|language models?|transformers?|retrieval|RAG"
    r"|reinforcement learning|reasoning|GRPO|RLVR|chain-of-thought)\b",
    re.IGNORECASE,
)
_RL = re.compile(r"\b(reinforcement learning|RL|GRPO|RLVR|RLHF|policy optimi[sz]ation)\b", re.I)
_REASONING = re.compile(r"\breason(ing|er|ers)?\b", re.IGNORECASE)
_LLM = re.compile(r"\b(LLMs?|language models?|LRMs?|reasoning models?)\b", re.IGNORECASE)
_TYPE_ORDER = {"new": 0, "cross": 1, "replace": 2, "replace-cross": 3}

Record = dict[str, Any]


def load_listings(path: Path) -> list[Record]:
    """Every listings record, in file order."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def is_rl_reasoning(record: Record) -> bool:
    """RL (in the title) for reasoning of language models: the sample user's interest."""
    text = f"{record['title']} {record['abstract']}"
    return bool(_RL.search(record["title"]) and _REASONING.search(text) and _LLM.search(text))


def is_topical(record: Record) -> bool:
    """Mentions LLMs, transformers, retrieval, RL or reasoning in title or abstract."""
    return bool(_TOPICAL.search(f"{record['title']} {record['abstract']}"))


def pick_day(records: list[Record], rng: random.Random) -> list[Record]:
    """~PER_DAY papers of one day: RL-for-reasoning first, topical up to 40, rest random."""
    ordered = sorted(records, key=lambda r: r["id"])
    rl = [r for r in ordered if is_rl_reasoning(r)]
    topical = [r for r in ordered if is_topical(r) and r not in rl]
    chosen = rl[:TOPICAL_PER_DAY]
    chosen += rng.sample(topical, min(len(topical), TOPICAL_PER_DAY - len(chosen)))
    rest = [r for r in ordered if r not in chosen]
    chosen += rng.sample(rest, min(len(rest), PER_DAY - len(chosen)))
    return chosen


def to_paper(record: Record, announce_type: str, version: int) -> SourcePaper:
    """A listings record as the RSS feed announces it."""
    arxiv_id, _ = canonical_arxiv_id(record["id"])
    return SourcePaper(
        id=arxiv_id,
        title=record["title"],
        abstract=record["abstract"],
        authors=tuple(record["authors"]),
        categories=tuple(record["categories"]),
        link=abs_url(arxiv_id),
        version=version,
        announce_type=announce_type,
        announced=date.fromisoformat(record["announced"]),
    )


def feed_papers(day_records: list[Record], replacements: list[Record]) -> list[SourcePaper]:
    """The day's items in arXiv's order: new, cross, replace, replace-cross."""
    papers = []
    for record in day_records:
        primary_here = record["categories"][0] in FEED_CATEGORIES
        papers.append(to_paper(record, "new" if primary_here else "cross", 1))
    for record in replacements:
        primary_here = record["categories"][0] in FEED_CATEGORIES
        papers.append(to_paper(record, "replace" if primary_here else "replace-cross", 2))
    return sorted(papers, key=lambda p: (_TYPE_ORDER[p.announce_type or "new"], p.id))


def build_sample(listings: list[Record], out: Path, seed: int = 0) -> dict[str, int]:
    """Write the demo feeds, saved.jsonl and README.md into ``out``; return bytes per file."""
    rng = random.Random(seed)
    by_day: dict[str, list[Record]] = {}
    for record in listings:
        by_day.setdefault(record["announced"], []).append(record)
    days = sorted(day for day, records in by_day.items() if records)
    sample_days, earlier_days = days[-DAYS:], days[:-DAYS]
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("arxiv-*.xml"):
        old.unlink()
    sizes: dict[str, int] = {}
    recent_pool = [
        r for day in earlier_days[-10:] for r in sorted(by_day[day], key=lambda r: r["id"])
    ]
    used: set[str] = set()
    for day in sample_days:
        chosen = pick_day(by_day[day], rng)
        pool = [r for r in recent_pool if r["id"] not in used]
        replacements = rng.sample(pool, REPLACEMENTS_PER_DAY)
        used.update(r["id"] for r in replacements)
        papers = feed_papers(chosen, replacements)
        announced = date.fromisoformat(day)
        data = render_arxiv_rss(papers, categories="+".join(FEED_CATEGORIES), announced=announced)
        name = f"arxiv-{day}.xml"
        (out / name).write_bytes(data)
        sizes[name] = len(data)

    earlier = [r for day in earlier_days for r in sorted(by_day[day], key=lambda r: r["id"])]
    candidates = [r for r in earlier if is_rl_reasoning(r) and _REASONING.search(r["title"])]
    candidates = [r for r in candidates if _LLM.search(r["abstract"])]
    step = max(len(candidates) // SAVED, 1)
    saved = candidates[::step][-SAVED:]
    keys = ("id", "title", "abstract", "authors", "categories", "announced")
    lines = "".join(json.dumps({k: r[k] for k in keys}, ensure_ascii=False) + "\n" for r in saved)
    (out / "saved.jsonl").write_text(lines, encoding="utf-8")
    sizes["saved.jsonl"] = len(lines.encode("utf-8"))
    readme = _readme(sample_days, sizes)
    (out / "README.md").write_text(readme, encoding="utf-8")
    sizes["README.md"] = len(readme.encode("utf-8"))
    return sizes


def _readme(days: Iterable[str], sizes: dict[str, int]) -> str:
    feeds = "\n".join(
        f"| `{name}` | arXiv RSS for {'+'.join(FEED_CATEGORIES)}, {name[6:16]} | {size:,} |"
        for name, size in sizes.items()
        if name.endswith(".xml")
    )
    return f"""# Bundled sample data

Real arXiv papers, used by `paperboy demo` to run the whole pipeline offline.
Built by `scripts/make_sample_feeds.py` from the listings of {", ".join(days)}
(the last four announcement days in `arxiv-listings-2025-03_2026-07.jsonl.gz`).

| file | what | bytes |
|---|---|---|
{feeds}
| `saved.jsonl` | the sample user's library: {SAVED} earlier papers on RL for LLM reasoning \
| {sizes["saved.jsonl"]:,} |

`saved.jsonl` holds one JSON object a line: `id`, `title`, `abstract`, `authors`,
`categories`, `announced`.

Each feed is written in the layout of arXiv's own RSS feeds (rss.arxiv.org) by
`jobs.fetch.sources.arxiv_rss.render_arxiv_rss`: about {PER_DAY} papers a day (up to
{TOPICAL_PER_DAY} on LLMs, transformers, retrieval or RL for reasoning, the rest drawn at
random, seed 0), announced as `new` (primary category among {", ".join(FEED_CATEGORIES)})
or `cross`, plus {REPLACEMENTS_PER_DAY} `replace`/`replace-cross` items a day re-announcing
papers from earlier days, which the default config skips. Versions are illustrative (v1 for
new papers, v2 for replacements); items carry no `<dc:rights>` because the listings do not
record each paper's licence.

arXiv metadata (titles, abstracts, authors, categories) is CC0 1.0
(https://info.arxiv.org/help/license/index.html).
"""


def build_rss_fixture(capture: Path, listings: list[Record], out: Path, count: int = 40) -> None:
    """Re-render ``count`` real items of a feedparser capture of arXiv's RSS as XML.

    The capture lacks categories, so only items whose id is in the listings (which record
    them) are used; every item with affiliations in its author list is among them, and
    the announce types keep their mix. Writes the XML and the capture's subset (with the
    categories added) that the tests compare the parse against.
    """
    feeds = json.loads(capture.read_text(encoding="utf-8"))
    feed_url = "https://rss.arxiv.org/rss/cs.CL+cs.CV+cs.MM+cs.LG+cs.SI"
    entries = feeds[feed_url]["entries"]
    categories = {r["id"]: r["categories"] for r in listings}
    known = [e for e in entries if canonical_arxiv_id(e["id"])[0] in categories]
    with_affiliations = [e for e in known if "(" in e["author"]]
    others = [e for e in known if e not in with_affiliations]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in others:
        kind = entry["summary"].split("Announce Type:")[1].split()[0]
        by_type.setdefault(kind, []).append(entry)
    quota = {"new": 17, "cross": 8, "replace": 8, "replace-cross": 4}
    chosen = with_affiliations + [e for kind, n in quota.items() for e in by_type[kind][:n]]
    chosen = [e for e in entries if e in chosen][:count]  # keep the feed's order
    papers = []
    subset = []
    for entry in chosen:
        arxiv_id, version = canonical_arxiv_id(entry["id"])
        kind = entry["summary"].split("Announce Type:")[1].split()[0]
        abstract = entry["summary"].split("Abstract:", 1)[1].strip()
        papers.append(
            SourcePaper(
                id=arxiv_id,
                title=entry["title"],
                abstract=abstract,
                authors=(entry["author"],),  # the raw <dc:creator>, affiliations included
                categories=tuple(categories[arxiv_id]),
                link=entry["link"],
                version=version,
                announce_type=kind,
            )
        )
        subset.append({**entry, "categories": categories[arxiv_id]})
    out.mkdir(parents=True, exist_ok=True)
    xml = render_arxiv_rss(
        papers, categories="cs.CL+cs.CV+cs.MM+cs.LG+cs.SI", announced=date(2025, 8, 6)
    )
    (out / "arxiv-rss-2025-08-06-40.xml").write_bytes(xml)
    source = {"feed_url": feed_url, "feed": feeds[feed_url]["feed"], "entries": subset}
    (out / "arxiv-rss-2025-08-06-40.source.json").write_text(
        json.dumps(source, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--listings", type=Path, required=True, help="listings .jsonl.gz")
    parser.add_argument("--out", type=Path, required=True, help="e.g. jobs/data/sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rss-fixture", type=Path, help="feedparser JSON capture of arXiv RSS")
    parser.add_argument("--fixture-out", type=Path, help="e.g. tests/fixtures/arxiv-rss")
    args = parser.parse_args(argv)
    listings = load_listings(args.listings)
    sizes = build_sample(listings, args.out, seed=args.seed)
    for name, size in sizes.items():
        print(f"{size:>9,}  {args.out / name}")
    print(f"{sum(sizes.values()):>9,}  total")
    if args.rss_fixture:
        if not args.fixture_out:
            parser.error("--rss-fixture needs --fixture-out")
        build_rss_fixture(args.rss_fixture, listings, args.fixture_out)
        print(f"fixture written to {args.fixture_out}")


if __name__ == "__main__":
    main()
