"""The users: a ``[[users]]`` table of config.toml and a users_dir file are checked by the
same code (:func:`_user`, with its ``[users.zotero]``).

users_dir (issue #13) holds one ``*.toml`` file per user, whose top-level keys are the keys
of a ``[[users]]`` table, named by its ``name`` key or else by its file stem. Each file is
read once; a reload re-reads only the files whose (mtime, size, inode) changed
(:func:`_reusable_users`), and :func:`config_stamp` is the daemon's cheap "anything
changed?" check.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from stat import S_ISREG
from typing import Any

from paperboy.emails.addresses import address_problem
from paperboy.jobs.config.channels import parse_notify
from paperboy.jobs.config.checks import (
    _check_categories,
    _check_cron,
    _check_keys,
    _check_timezone,
    _check_url,
    _get,
    _parse_time,
    _Problems,
    _resolve_path,
    _str_list,
)
from paperboy.jobs.config.collections import parse_collections
from paperboy.jobs.config.model import (
    TRANSPORTS,
    ZOTERO_API,
    Config,
    EmailConfig,
    UserConfig,
    ZoteroConfig,
)
from paperboy.jobs.core.errors import UnknownPaperError
from paperboy.jobs.core.ids import canonical_arxiv_id
from paperboy.jobs.core.text_safety import name_problem

_USER = (
    "name",
    "email",
    "notify",
    "schedule",
    "send_at",
    "timezone",
    "max_papers",
    "min_score",
    "diversity",
    "categories",
    "saved",
    "library",
    "keywords",
    "authors",
    "muted",
    "disliked",
    "transport",
    "send_empty",
    "zotero",
)

_ZOTERO = ("library", "api_key_env", "collections", "exclude_tags", "url")

_ZOTERO_LIBRARY_RE = re.compile(r"^(users|groups)/\d+$")


def parse_user_file(text: str, path: Path, config: Config) -> UserConfig:
    """Validate the text of one users_dir file as `config` would load it (the same checks
    as a [[users]] table); ConfigError naming the file and line otherwise."""
    problems, user = _user_file(path, config.timezone, config.email, text)
    problems.raise_if_any()
    assert user is not None  # no problems means a user
    return user


def config_stamp(config: Config) -> tuple[object, ...]:
    """What changes when config.toml or a users_dir file is changed, added or removed.

    The daemon compares it every few seconds: (mtime, size) of config.toml and (mtime,
    size, inode) of each ``*.toml`` file in users_dir, one stat each from a single
    directory scan (10,000 files: about 0.1 s on a busy 2-core machine).
    """

    def stat(path: Path) -> tuple[int, int] | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    files: list[tuple[str, int, int, int]] = []
    if config.users_dir is not None:
        try:
            with os.scandir(config.users_dir) as entries:
                for entry in entries:
                    if not _is_user_file_name(entry.name):
                        continue
                    try:
                        st = entry.stat()
                    except OSError:  # removed while we looked: the next check sees it
                        continue
                    if S_ISREG(st.st_mode):
                        files.append((entry.name, st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:  # a vanished folder: the reload names the problem
            files.append(("", 0, 0, 0))
        files.sort()
    return (stat(config.path), tuple(files))


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    """(mtime_ns, size, inode): an edit in place or an atomic replace changes it."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _reusable_users(
    previous: Config | None, path: Path, folder: Path, timezone: str, email: EmailConfig
) -> dict[str, tuple[tuple[int, int, int], UserConfig]]:
    """The previous load's users_dir users by file name, with the stamp they were read at;
    none when anything they were checked against (the defaults, [email]) has changed."""
    if (
        previous is None
        or previous.path != path
        or previous.users_dir != folder
        or previous.timezone != timezone
        or previous.email != email
    ):
        return {}
    known = {}
    for user in previous.users:
        if user.source is not None:
            stamp = previous.user_file_stamps.get(user.source.name)
            if stamp is not None:
                known[user.source.name] = (stamp, user)
    return known


def _check_user_transport(
    user: UserConfig, email: EmailConfig, where: Sequence[str | int], problems: _Problems
) -> None:
    if user.transport == "smtp" and email.smtp is None:
        label = f"[[users]] {user.name!r}" if where else f"user {user.name!r}"
        problems.add(
            where,
            f'{label}.transport is "smtp" but there is no [email.smtp] table',
            "transport",
        )


def _user_files(folder: Path, problems: _Problems, skip: str | None = None) -> list[Path]:
    """The users_dir's ``*.toml`` files (but `skip`), by name; hidden files and anything
    else ignored (editors' backups, ``ada.toml.bak``, the temporary files of a write)."""
    try:
        with os.scandir(folder) as scan:
            entries = list(scan)
    except FileNotFoundError:
        problems.add(
            ["paperboy"], f"paperboy.users_dir: no such folder {str(folder)!r}", "users_dir"
        )
        return []
    except OSError as e:  # not a folder, no permission
        problems.add(
            ["paperboy"], f"paperboy.users_dir: cannot list {str(folder)!r}: {e}", "users_dir"
        )
        return []
    names = sorted(
        e.name for e in entries if _is_user_file_name(e.name) and e.name != skip and e.is_file()
    )
    return [folder / name for name in names]


def _is_user_file_name(name: str) -> bool:
    """``*.toml``, not hidden (an editor's ``.#ada.toml`` lock is not a user)."""
    return name.endswith(".toml") and not name.startswith(".")


def _read_user_file(path: Path) -> str:
    """The text of one users_dir file (OSError, UnicodeDecodeError as they come)."""
    return path.read_text(encoding="utf-8")


def _user_file(
    path: Path,
    default_tz: str,
    email: EmailConfig,
    text: str | None = None,
    base: Path | None = None,
    check_schedules: bool = True,
) -> tuple[_Problems, UserConfig | None]:
    """Read (unless `text` is given) and check one users_dir file; its problems and user.

    Relative paths in it (``library``) are relative to its folder, `base` if given.
    `check_schedules`: see jobs.config.load.parse_config."""
    if text is None:
        try:
            text = _read_user_file(path)
        except (OSError, UnicodeDecodeError) as e:
            problems = _Problems(path, "")
            problems.add_at(None, f"cannot read user file: {e}")
            return problems, None
    problems = _Problems(path, text, schedules=check_schedules)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        problems.add_at(int(m.group(1)) if m else None, f"invalid TOML: {e}")
        return problems, None
    if "users" in data:
        problems.add(
            ["users", 0] if isinstance(data["users"], list) else [],
            "a users_dir file holds one user: write the keys of the user's table at the "
            "top level, without a [[users]] header",
            None if isinstance(data["users"], list) else "users",
        )
        return problems, None
    user = _user(
        data,
        0,
        path.parent.resolve() if base is None else base,
        default_tz,
        problems,
        where=[],
        default_name=path.name.removesuffix(".toml"),
    )
    if user is not None:
        _check_user_transport(user, email, [], problems)
    return problems, user


def _user(
    raw: Any,
    index: int,
    base: Path,
    default_tz: str,
    problems: _Problems,
    *,
    where: list[str | int] | None = None,
    default_name: str = "",
) -> UserConfig | None:
    """One user: a [[users]] table of config.toml (`index`), or a users_dir file's top
    level (``where=[]``, named by its file stem unless it has a ``name``)."""
    in_file = where is not None
    where = ["users", index] if where is None else where
    if not isinstance(raw, dict):
        problems.add(where, "each [[users]] entry must be a table", None)
        return None
    name = _get(raw, "name", str, default_name, where, "users", problems, "a string")
    if in_file:
        label = f"user {name!r}"
    else:
        label = f"[[users]] {name!r}" if name else f"[[users]] #{index + 1}"
    if not name:
        problems.add(where, f"{label}: name is required", None)
    # Issue #20 item 23: no control, line-break or bidi character in a name.
    if name and (bad_name := name_problem(name)) is not None:
        problems.add(where, f"{label}: name {bad_name}", "name" if "name" in raw else None)
    _check_keys(raw, (*_USER, "collections"), where, label, problems)

    def field_(key: str, kind: type | tuple[type, ...], default: Any, expected: str) -> Any:
        return _get(raw, key, kind, default, where, label, problems, expected)

    emails = _str_list(raw, "email", where, label, problems)
    notify = parse_notify(raw, where, label, problems)
    if not emails and not notify and "notify" not in raw:
        problems.add(where, f"{label}: email is required", "email" if "email" in raw else None)
    elif not emails and not notify:
        problems.add(where, f"{label}: give an email or a notify channel", "notify")
    for address in emails:
        problem = address_problem(address)
        if problem is not None:
            problems.add(
                where, f"{label}: {address!r} is not an e-mail address ({problem})", "email"
            )
    schedule = field_("schedule", str, "daily", "'daily', 'weekly' or a cron expression")
    if schedule not in ("daily", "weekly"):
        _check_cron(schedule, where, label, "schedule", problems)
    send_at = _parse_time(raw.get("send_at", "07:30"), where, label, problems)
    timezone = _check_timezone(
        field_("timezone", str, default_tz, "a time zone name"), where, "timezone", problems
    )
    max_papers = field_("max_papers", int, 12, "a whole number")
    if max_papers < 1:
        problems.add(where, f"{label}.max_papers must be at least 1", "max_papers")
    min_score = float(field_("min_score", (int, float), 0.0, "a number from 0 to 1"))
    if not 0 <= min_score <= 1:
        problems.add(where, f"{label}.min_score must be between 0 and 1", "min_score")
    diversity = float(field_("diversity", (int, float), 0.0, "a number from 0 to 1"))
    if not 0 <= diversity <= 1:
        problems.add(where, f"{label}.diversity must be between 0 and 1", "diversity")
        diversity = 0.0
    saved = _id_list(raw, "saved", where, label, problems)
    disliked = _id_list(raw, "disliked", where, label, problems)
    for both in (pid for pid in disliked if pid in saved):
        problems.add(
            where,
            f"{label}: {both} is both saved and disliked; keep it in one of the two",
            "disliked",
        )
    transport = field_("transport", str, None, "one of " + ", ".join(TRANSPORTS))
    if transport is not None and transport not in TRANSPORTS:
        problems.add(
            where,
            f"{label}.transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}",
            "transport",
        )
        transport = None
    library = field_("library", str, None, "the path of a BibTeX file")
    zotero = _zotero(raw, where, label, problems)
    collections = parse_collections(
        raw,
        where,
        label,
        problems,
        id_list=_id_list,
        has_zotero=zotero is not None or "zotero" in raw,
    )
    return UserConfig(
        name=name,
        email=emails,
        schedule=schedule,
        send_at=send_at,
        timezone=timezone,
        max_papers=max_papers,
        min_score=min_score,
        diversity=diversity,
        categories=_check_categories(
            _str_list(raw, "categories", where, label, problems), where, label, problems
        ),
        saved=tuple(saved),
        library=_resolve_path(base, library) if isinstance(library, str) else None,
        keywords=_str_list(raw, "keywords", where, label, problems),
        authors=_str_list(raw, "authors", where, label, problems),
        muted=_str_list(raw, "muted", where, label, problems),
        disliked=tuple(disliked),
        transport=transport,
        send_empty=field_("send_empty", bool, False, "true or false"),
        zotero=zotero,
        source=problems.path if in_file else None,
        notify=notify,
        collections=collections,
    )


def _zotero(
    raw: Mapping[str, Any], user_where: list[str | int], label: str, problems: _Problems
) -> ZoteroConfig | None:
    """[users.zotero] of one user: library = "users/123" or "groups/456", the key's
    variable, optional collection names and tags to leave out."""
    if "zotero" not in raw:
        return None
    where: list[str | int] = [*user_where, "zotero"]
    name = f"{label} [users.zotero]"
    table = raw["zotero"]
    if not isinstance(table, dict):
        problems.add(user_where, f"{label}.zotero must be a table", "zotero")
        return None
    _check_keys(table, (*_ZOTERO, "api_key"), where, name, problems)
    if "api_key" in table:
        problems.add(
            where,
            f"{name}: secrets never live in config.toml; use "
            'api_key_env = "ZOTERO_API_KEY" and set that variable',
            "api_key",
        )
    library = _get(table, "library", str, "", where, name, problems, 'e.g. "users/123456"')
    ok = True
    if not _ZOTERO_LIBRARY_RE.match(library.strip()):
        problems.add(
            where,
            f'{name}.library must be "users/<user id>" or "groups/<group id>" (the id is '
            f"on zotero.org/settings/keys), not {library!r}",
            "library" if "library" in table else None,
        )
        ok = False
    api_key_env = _get(
        table, "api_key_env", str, None, where, name, problems, "an environment variable name"
    )
    url = _get(table, "url", str, ZOTERO_API, where, name, problems, "a URL")
    if not _check_url(url, where, name, "url", problems):
        ok = False
    if not ok:
        return None
    return ZoteroConfig(
        library=library.strip(),
        api_key_env=api_key_env or None,
        collections=_str_list(table, "collections", where, name, problems),
        exclude_tags=_str_list(table, "exclude_tags", where, name, problems),
        url=url.rstrip("/"),
    )


def _id_list(
    raw: Mapping[str, Any], key: str, where: Sequence[str | int], label: str, problems: _Problems
) -> list[str]:
    """A list of arXiv ids in any accepted form, canonical and without repeats."""
    ids: list[str] = []
    for value in _str_list(raw, key, where, label, problems):
        try:
            canonical, _version = canonical_arxiv_id(value)
        except UnknownPaperError as e:
            problems.add(where, f"{label}.{key}: {e}", key, value)
            continue
        if canonical not in ids:
            ids.append(canonical)
    return ids
