"""A user's collections (issue #23): ``[[users.collections]]`` tables in config.toml, or
``[[collections]]`` tables in a users_dir file, each a named interest with its own lists.

    [[users]]
    name = "ada"
    email = "ada@example.org"
    saved = ["1706.03762"]              # the default collection: the user's top level

    [[users.collections]]
    name = "rl-reasoning"               # letters, digits, '.', '_', '-'; not "default"
    saved = ["2501.12948"]
    keywords = ["reinforcement learning"]
    authors = []
    muted = []
    disliked = []
    max_papers = 5                      # default: the user's max_papers
    notify = ["ntfy://ntfy.example.org/rl"]   # this section also goes here
    zotero = "RL reading"               # a Zotero collection (name or key) that feeds it

Problems are reported with the file and line of the collection's table (or, for an inline
``collections = [...]`` array, of that key), like every other config problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from paperboy.jobs.config.channels import parse_notify
from paperboy.jobs.config.checks import _check_keys, _get, _Problems, _str_list
from paperboy.jobs.config.model import CollectionConfig

__all__ = ["COLLECTION_KEYS", "collection_name_problem", "parse_collections"]

COLLECTION_KEYS = (
    "name",
    "saved",
    "keywords",
    "authors",
    "muted",
    "disliked",
    "max_papers",
    "notify",
    "zotero",
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
RESERVED_NAMES = ("default",)  # the CLI and the web say "default" for the top level


def collection_name_problem(name: str) -> str | None:
    """Why `name` cannot name a collection, or None."""
    if not _NAME.match(name):
        return (
            f"{name!r} is not a collection name (letters, digits, '.', '_' and '-', "
            "starting with a letter or digit, at most 64)"
        )
    if name.casefold() in RESERVED_NAMES:
        return f"{name!r} is reserved for the user's top-level lists"
    return None


IdList = Callable[[Any, str, Sequence[str | int], str, _Problems], list[str]]


def parse_collections(
    raw: dict[str, Any],
    user_where: list[str | int],
    label: str,
    problems: _Problems,
    *,
    id_list: IdList,
    has_zotero: bool,
) -> tuple[CollectionConfig, ...]:
    """The user's collections, each checked; problems added with their file and line.
    `id_list` reads a list of arXiv ids the way the user's own `saved` is read."""
    if "collections" not in raw:
        return ()
    value = raw["collections"]
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        problems.add(
            user_where,
            f"{label}.collections must be [[users.collections]] tables (one per collection)",
            "collections",
        )
        return ()
    out: list[CollectionConfig] = []
    seen: dict[str, str] = {}
    for i, table in enumerate(value):
        where: list[str | int] = [*user_where, "collections", i]
        if problems.location(where, None) == str(problems.path):
            where = user_where  # an inline array: point at its `collections =` line
        collection = _collection(
            table, i, where, label, problems, seen, id_list=id_list, has_zotero=has_zotero
        )
        if collection is not None:
            out.append(collection)
    return tuple(out)


def _collection(
    table: dict[str, Any],
    i: int,
    where: list[str | int],
    label: str,
    problems: _Problems,
    seen: dict[str, str],
    *,
    id_list: IdList,
    has_zotero: bool,
) -> CollectionConfig | None:
    """One collection's table (the `i`-th), checked; None when it cannot be used."""
    inline = not where or where[-2:-1] != ["collections"]

    def add(message: str, key: str | None) -> None:
        problems.add(where, message, "collections" if inline else key)

    name = table.get("name")
    what = f"{label} collection #{i + 1}"
    if not isinstance(name, str) or not name.strip():
        add(f"{what}: name is required (a string)", "name" if "name" in table else None)
        return None
    name = name.strip()
    what = f"{label} collection {name!r}"
    bad = collection_name_problem(name)
    if bad is not None:
        add(f"{what}: {bad}", "name")
        return None
    if name.casefold() in seen:
        add(f"{what}: another collection of this user is named {seen[name.casefold()]!r}", "name")
        return None
    seen[name.casefold()] = name
    _check_keys(table, COLLECTION_KEYS, where, what, problems)
    saved = id_list(table, "saved", where, what, problems)
    disliked = id_list(table, "disliked", where, what, problems)
    for both in (pid for pid in disliked if pid in saved):
        add(f"{what}: {both} is both saved and disliked; keep it in one of the two", "disliked")
    max_papers = _get(table, "max_papers", int, None, where, what, problems, "a whole number")
    if max_papers is not None and max_papers < 1:
        add(f"{what}.max_papers must be at least 1", "max_papers")
        max_papers = None
    zotero = _get(table, "zotero", str, None, where, what, problems, "a Zotero collection name")
    if zotero is not None and not zotero.strip():
        add(f"{what}.zotero is empty: name a Zotero collection (or its key)", "zotero")
        zotero = None
    elif zotero is not None and not has_zotero:
        add(
            f"{what}.zotero names a Zotero collection, but the user follows no Zotero "
            "library: add a [users.zotero] table",
            "zotero",
        )
    return CollectionConfig(
        name=name,
        saved=tuple(saved),
        keywords=_str_list(table, "keywords", where, what, problems),
        authors=_str_list(table, "authors", where, what, problems),
        muted=_str_list(table, "muted", where, what, problems),
        disliked=tuple(disliked),
        max_papers=max_papers,
        notify=parse_notify(table, where, what, problems),
        zotero=zotero.strip() if zotero else None,
    )
