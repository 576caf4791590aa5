"""The ``[sources]`` tables of config.toml: what to fetch (``[sources.arxiv]``,
``[sources.huggingface]``, ``[[sources.feeds]]``, ``[[sources.openreview]]``), checked into
their dataclasses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paperboy.jobs.config.checks import (
    _check_categories,
    _check_keys,
    _check_url,
    _get,
    _Problems,
    _str_list,
    _table,
)
from paperboy.jobs.config.model import (
    ANNOUNCE_TYPES,
    ARXIV_RSS_BASE,
    BUILTIN_SOURCES,
    DEFAULT_BACKFILL_DAYS,
    HF_DAILY_PAPERS_URL,
    OPENREVIEW_API,
    VENUE_STATUSES,
    ArxivSourceConfig,
    FeedConfig,
    HuggingFaceConfig,
    OpenReviewConfig,
)

_ARXIV = ("categories", "announce_types", "base_url", "backfill_days")

_HUGGINGFACE = ("enabled", "url")

_FEED = ("name", "url")

_OPENREVIEW = ("venue", "status", "api_url")

MAX_BACKFILL_DAYS = 365


def _arxiv(sources: Mapping[str, Any], problems: _Problems) -> ArxivSourceConfig | None:
    """[sources.arxiv]: absent means not fetched; present, it names at least one category."""
    if "arxiv" not in sources:
        return None
    raw = _table(sources, "arxiv", ["sources", "arxiv"], problems)
    _check_keys(raw, _ARXIV, ["sources", "arxiv"], "[sources.arxiv]", problems)
    at: list[str | int] = ["sources", "arxiv"]
    categories = _check_categories(
        _str_list(raw, "categories", at, "sources.arxiv", problems),
        at,
        "sources.arxiv",
        problems,
    )
    if not categories:
        problems.add(
            at,
            "sources.arxiv.categories must name at least one category",
            "categories" if "categories" in raw else None,
        )
    types = _str_list(raw, "announce_types", at, "sources.arxiv", problems) or (
        "new",
        "cross",
    )
    bad = [t for t in types if t not in ANNOUNCE_TYPES]
    if bad:
        problems.add(
            at,
            f"sources.arxiv.announce_types: unknown {', '.join(bad)} "
            f"(expected some of {', '.join(ANNOUNCE_TYPES)})",
            "announce_types",
        )
    base_url = _get(raw, "base_url", str, ARXIV_RSS_BASE, at, "sources.arxiv", problems, "a URL")
    backfill_days = _get(
        raw,
        "backfill_days",
        int,
        DEFAULT_BACKFILL_DAYS,
        at,
        "sources.arxiv",
        problems,
        "a whole number of days (0 turns the first-run backfill off)",
    )
    if not 0 <= backfill_days <= MAX_BACKFILL_DAYS:
        problems.add(
            at,
            f"sources.arxiv.backfill_days must be from 0 to {MAX_BACKFILL_DAYS}, "
            f"not {backfill_days}",
            "backfill_days",
        )
        backfill_days = DEFAULT_BACKFILL_DAYS
    return ArxivSourceConfig(categories, types, base_url, backfill_days)


def _huggingface(sources: Mapping[str, Any], problems: _Problems) -> HuggingFaceConfig | None:
    """[sources.huggingface]: absent means off; present, it is on unless enabled = false."""
    if "huggingface" not in sources:
        return None
    at: list[str | int] = ["sources", "huggingface"]
    raw = _table(sources, "huggingface", at, problems)
    label = "sources.huggingface"
    _check_keys(raw, _HUGGINGFACE, at, "[sources.huggingface]", problems)
    enabled = _get(raw, "enabled", bool, True, at, label, problems, "true or false")
    url = _get(raw, "url", str, HF_DAILY_PAPERS_URL, at, label, problems, "a URL")
    if not _check_url(url, at, label, "url", problems):
        url = HF_DAILY_PAPERS_URL
    return HuggingFaceConfig(enabled=enabled, url=url)


def _feeds(sources: Mapping[str, Any], problems: _Problems) -> tuple[FeedConfig, ...]:
    """[[sources.feeds]]: each needs a unique name (not a built-in source's) and a URL."""
    raw_feeds = sources.get("feeds", [])
    if not isinstance(raw_feeds, list):
        message = "sources.feeds must be an array of tables: [[sources.feeds]]"
        problems.add(["sources"], message, "feeds")
        return ()
    feeds: list[FeedConfig] = []
    for index, raw in enumerate(raw_feeds):
        at: list[str | int] = ["sources", "feeds", index]
        if not isinstance(raw, dict):
            problems.add(at, "each [[sources.feeds]] entry must be a table", None)
            continue
        name = _get(raw, "name", str, "", at, "sources.feeds", problems, "a string").strip()
        label = f"[[sources.feeds]] {name!r}" if name else f"[[sources.feeds]] #{index + 1}"
        _check_keys(raw, _FEED, at, label, problems)
        url = _get(raw, "url", str, "", at, label, problems, "a URL").strip()
        ok = True
        if not name:
            problems.add(at, f"{label}: name is required", "name" if "name" in raw else None)
            ok = False
        elif name in BUILTIN_SOURCES or name.startswith("file:"):
            problems.add(
                at,
                f"{label}: the name {name!r} is taken by a built-in source "
                f"({', '.join(BUILTIN_SOURCES)}); choose another",
                "name",
            )
            ok = False
        elif name in {f.name for f in feeds}:
            problems.add(at, f"duplicate feed name {name!r}", "name")
            ok = False
        if not url:
            problems.add(at, f"{label}: url is required", "url" if "url" in raw else None)
            ok = False
        elif not _check_url(url, at, label, "url", problems):
            ok = False
        if ok:
            feeds.append(FeedConfig(name=name, url=url))
    return tuple(feeds)


def _openreview(sources: Mapping[str, Any], problems: _Problems) -> tuple[OpenReviewConfig, ...]:
    """[[sources.openreview]]: a venue id (as in OpenReview's URLs), its status, the API."""
    raw_list = sources.get("openreview", [])
    if not isinstance(raw_list, list):
        message = "sources.openreview must be an array of tables: [[sources.openreview]]"
        problems.add(["sources"], message, "openreview")
        return ()
    found: list[OpenReviewConfig] = []
    for index, raw in enumerate(raw_list):
        at: list[str | int] = ["sources", "openreview", index]
        if not isinstance(raw, dict):
            problems.add(at, "each [[sources.openreview]] entry must be a table", None)
            continue
        label = f"[[sources.openreview]] #{index + 1}"
        _check_keys(raw, _OPENREVIEW, at, label, problems)
        venue = _get(raw, "venue", str, "", at, label, problems, "a venue id").strip()
        status = _get(raw, "status", str, "submitted", at, label, problems, "a string")
        api_url = _get(raw, "api_url", str, OPENREVIEW_API, at, label, problems, "a URL")
        ok = True
        if not venue or " " in venue or "/" not in venue:
            problems.add(
                at,
                f"{label}.venue must be an OpenReview venue id like "
                f"'ICLR.cc/2026/Conference', not {venue!r}",
                "venue" if "venue" in raw else None,
            )
            ok = False
        if status not in VENUE_STATUSES:
            problems.add(
                at,
                f"{label}.status must be one of {', '.join(VENUE_STATUSES)}, not {status!r}",
                "status",
            )
            ok = False
        if not _check_url(api_url, at, label, "api_url", problems):
            ok = False
        if any(f.venue == venue and f.status == status for f in found):
            problems.add(at, f"{label}: {venue} ({status}) is listed twice", "venue")
            ok = False
        if ok:
            found.append(OpenReviewConfig(venue, status, api_url.rstrip("/")))
    return tuple(found)
