"""Load and validate config.toml (and the users_dir files it names) into the frozen
dataclasses of :mod:`paperboy.jobs.config.model`.

Every problem is collected and reported together with the file, the line and the key, so
a person can fix the whole file in one go. Unknown keys are errors, with a suggestion for
a misspelt one. Secrets are never read from the file: the file names an environment
variable (or a file) that holds them.

    load_config(path, previous)
      read config.toml                       (ConfigError: missing, unreadable)
      parse_config: TOML syntax              (ConfigError naming file:line:column)
        [paperboy]                           here
        [sources.*]                          sources.py
        [email], [web], [queue]              services.py
        [[users]], then each users_dir file  users.py (unchanged files: kept from `previous`)
        duplicate user names across all files
        every problem of every file, or the Config (nothing half-loaded is returned)

Users live in config.toml (``[[users]]`` tables) and, for many users, one file each in
``[paperboy] users_dir`` (issue #13); both are checked by the same code
(:func:`paperboy.jobs.config.users._user`), and a problem in any file stops the load like a
problem in config.toml.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from paperboy.jobs.config.checks import (
    _check_cron,
    _check_keys,
    _check_timezone,
    _get,
    _Problems,
    _raise_all,
    _resolve_database,
    _resolve_path,
    _table,
)
from paperboy.jobs.config.model import (
    DEFAULT_FETCH_CRON,
    DEFAULT_FETCH_TIMEZONE,
    INDEX_STORES,
    Config,
    UserConfig,
)
from paperboy.jobs.config.services import _email, _queue, _web
from paperboy.jobs.config.sources import _arxiv, _feeds, _huggingface, _openreview
from paperboy.jobs.config.users import (
    _check_user_transport,
    _file_stamp,
    _reusable_users,
    _user,
    _user_file,
    _user_files,
)
from paperboy.jobs.core.errors import ConfigError

_TOP = ("paperboy", "sources", "email", "users", "web", "queue")

_PAPERBOY = (
    "database",
    "users_dir",
    "index",
    "index_store",
    "workers",
    "timezone",
    "contact",
    "fetch_schedule",
    "fetch_timezone",
)

_SOURCES = ("arxiv", "huggingface", "feeds", "openreview")


def load_config(
    path: Path | str, *, previous: Config | None = None, check_schedules: bool = True
) -> Config:
    """Read and validate config.toml; raise ConfigError listing every problem found.

    `previous`: the config loaded before from the same file (the daemon's reload). Its
    users from users_dir files that have not changed since (same mtime, size and inode,
    same defaults in config.toml) are kept as they are instead of read again.
    `check_schedules`: see :func:`parse_config`.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: no such config file (create one with `paperboy init`)") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config file: {e}") from e
    if previous is not None:
        try:
            return parse_config(text, path, previous=previous, check_schedules=check_schedules)
        except ConfigError:
            pass  # the full message below: every file read, every line found
    return parse_config(text, path, check_schedules=check_schedules)


def _unfinished(text: str) -> tuple[int, str]:
    """Where a TOML text that ends too early went wrong: the line of the first bracket or
    string still open at the end (with what it is), else the last line with content."""
    opened: list[tuple[str, int]] = []
    quote: tuple[str, int] | None = None  # the open string's delimiter and line
    line = 1
    last = 1
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\n":
            line += 1
            if quote is not None and len(quote[0]) == 1:
                quote = None  # a one-line string ends with its line (tomllib said where)
        elif quote is not None:
            delimiter = quote[0]
            if c == "\\" and delimiter[0] == '"':
                i += 1
            elif text.startswith(delimiter, i):
                i += len(delimiter) - 1
                quote = None
        elif c == "#":
            while i + 1 < len(text) and text[i + 1] != "\n":
                i += 1
        elif c in "\"'":
            delimiter = c * 3 if text.startswith(c * 3, i) else c
            quote = (delimiter, line)
            i += len(delimiter) - 1
        elif c in "[{":
            opened.append((c, line))
        elif c in "]}" and opened:
            opened.pop()
        if not c.isspace():
            last = line
        i += 1
    if quote is not None and len(quote[0]) == 3:
        return quote[1], f"the string opened on line {quote[1]} is never closed"
    if opened:
        kind = "array" if opened[0][0] == "[" else "inline table"
        return opened[0][1], f"the {kind} opened on line {opened[0][1]} is never closed"
    return last, ""


def parse_config(
    text: str,
    path: Path,
    *,
    read_users_dir: bool = True,
    previous: Config | None = None,
    check_schedules: bool = True,
) -> Config:
    """Validate the TOML text of a config file (path is used in messages and for relative paths).

    With ``[paperboy] users_dir``, its files are read and checked too, unless
    `read_users_dir` is False (then the Config holds config.toml's own users only).
    `previous`: see :func:`load_config`.

    `check_schedules`: whether the cron lines (fetch_schedule, a user's cron schedule)
    are checked. The commands that use no schedule (`paperboy profile ...`, `init`) pass
    False: the check imports APScheduler (and asyncio with it), which they have no other
    use for. A command that uses them (`run`, `digest`, `fetch`, `status`, ...) checks them.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        # tomllib's message ends "(at line L, column C)"; lead with file:line as compilers do.
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        if m:
            where = f"{path}:{m.group(1)}:{m.group(2)}"
        else:  # "(at end of document)": name where the unfinished value began
            line, what = _unfinished(text)
            where = f"{path}:{line}"
            e = tomllib.TOMLDecodeError(f"{e}; {what}" if what else str(e))
        raise ConfigError(f"{where}: invalid TOML: {e}") from e

    problems = _Problems(path, text, schedules=check_schedules)
    base = path.parent.resolve()
    _check_keys(data, _TOP, [], "the top level", problems)

    general = _table(data, "paperboy", [], problems)
    _check_keys(general, _PAPERBOY, ["paperboy"], "[paperboy]", problems)
    database = _get(
        general,
        "database",
        str,
        "sqlite:///paperboy.db",
        ["paperboy"],
        "paperboy",
        problems,
        'a database URL like "sqlite:///paperboy.db"',
    )
    index_file = _get(
        general, "index", str, "paperboy.index", ["paperboy"], "paperboy", problems, "a file path"
    )
    index_store = _get(
        general, "index_store", str, "file", ["paperboy"], "paperboy", problems, "a string"
    )
    if isinstance(index_store, str) and index_store not in INDEX_STORES:
        problems.add(
            ["paperboy"],
            f'paperboy.index_store must be "file" or "database", not {index_store!r}',
            "index_store",
        )
    workers = _get(general, "workers", int, 0, ["paperboy"], "paperboy", problems, "a whole number")
    if isinstance(workers, int) and workers < 0:
        problems.add(
            ["paperboy"],
            f"paperboy.workers must be 0 (one per core) or more, not {workers}",
            "workers",
        )
    timezone = _check_timezone(
        _get(general, "timezone", str, "UTC", ["paperboy"], "paperboy", problems, "a string"),
        ["paperboy"],
        "timezone",
        problems,
    )
    contact = _get(
        general, "contact", str, None, ["paperboy"], "paperboy", problems, "an e-mail address"
    )
    fetch_schedule = _get(
        general,
        "fetch_schedule",
        str,
        DEFAULT_FETCH_CRON,
        ["paperboy"],
        "paperboy",
        problems,
        "a cron expression",
    )
    _check_cron(fetch_schedule, ["paperboy"], "paperboy", "fetch_schedule", problems)
    fetch_timezone = _check_timezone(
        _get(
            general,
            "fetch_timezone",
            str,
            DEFAULT_FETCH_TIMEZONE,
            ["paperboy"],
            "paperboy",
            problems,
            "a string",
        ),
        ["paperboy"],
        "fetch_timezone",
        problems,
    )

    sources = _table(data, "sources", [], problems)
    _check_keys(sources, _SOURCES, ["sources"], "[sources]", problems)
    arxiv = _arxiv(sources, problems)
    huggingface = _huggingface(sources, problems)
    feeds = _feeds(sources, problems)
    openreview = _openreview(sources, problems)

    email = _email(_table(data, "email", [], problems), base, problems)
    web = _web(_table(data, "web", [], problems), base, problems)
    queue = _queue(data, problems)

    raw_users = data.get("users", [])
    # Each user with the file it is in and where in that file, for duplicate names.
    placed: list[tuple[UserConfig, _Problems, list[str | int]]] = []
    if not isinstance(raw_users, list):
        problems.add(["users"], "users must be an array of tables: [[users]]", None)
        raw_users = []
    for index, raw_user in enumerate(raw_users):
        user = _user(raw_user, index, base, timezone, problems)
        if user is not None:
            placed.append((user, problems, ["users", index]))
            _check_user_transport(user, email, ["users", index], problems)

    problem_sets = [problems]
    stamps: dict[str, tuple[int, int, int]] = {}
    users_dir = _get(
        general, "users_dir", str, None, ["paperboy"], "paperboy", problems, "a folder path"
    )
    users_folder = None if users_dir is None else _resolve_path(path.parent, users_dir)
    if users_folder is not None and read_users_dir:
        folder_base = users_folder.resolve()  # once, not once per file
        # users_dir = ".": config.toml is in the folder but is not a user
        itself = path.name if folder_base == path.resolve().parent else None
        known = _reusable_users(previous, path, users_folder, timezone, email)
        for user_file in _user_files(users_folder, problems, skip=itself):
            stamp = _file_stamp(user_file)  # before the read: a later change is seen next time
            if stamp is not None:
                stamps[user_file.name] = stamp
            kept = known.get(user_file.name)
            if kept is not None and stamp is not None and kept[0] == stamp:
                placed.append((kept[1], _Problems(user_file, ""), []))
                continue
            file_problems, user = _user_file(
                user_file, timezone, email, base=folder_base, check_schedules=check_schedules
            )
            problem_sets.append(file_problems)
            if user is not None:
                placed.append((user, file_problems, []))

    # A dict, not names.count(): 10,000 users must not mean 10,000² comparisons.
    first: dict[str, tuple[_Problems, list[str | int]]] = {}
    for user, at_problems, at in placed:
        if user.name not in first:
            first[user.name] = (at_problems, at)
            continue
        other_problems, other_at = first[user.name]
        also = other_problems.location(other_at, "name")
        at_problems.add(at, f"duplicate user name {user.name!r} (also in {also})", "name")

    _raise_all(problem_sets)
    users = [user for user, _problems, _where in placed]
    return Config(
        path=path,
        database=_resolve_database(base, database),
        index=_resolve_path(base, index_file),
        index_store=index_store,
        workers=workers,
        timezone=timezone,
        contact=contact,
        fetch_schedule=fetch_schedule,
        fetch_timezone=fetch_timezone,
        arxiv=arxiv,
        huggingface=huggingface,
        feeds=feeds,
        openreview=openreview,
        email=email,
        users=tuple(users),
        users_dir=users_folder,
        user_file_stamps=stamps,
        web=web,
        queue=queue,
    )


def config_path(option: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """--config PATH, else $PAPERBOY_CONFIG, else ./config.toml."""
    env = os.environ if environ is None else environ
    return Path(option or env.get("PAPERBOY_CONFIG") or "config.toml")
