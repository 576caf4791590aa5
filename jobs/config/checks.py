"""The validators every part of the config loader shares: the problem list (every problem
with its file and line, reported together), typed look-ups of keys, and the checks of values
that recur in several tables (time zones, arXiv categories, cron lines, URLs, paths).

Internal to :mod:`paperboy.jobs.config`: load.py, sources.py, services.py and users.py use
these underscore names; nothing outside the package does.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from paperboy.jobs.core.errors import ConfigError


class _Problems:
    """Collects problems with their line numbers so all are reported at once.

    `schedules`: whether cron lines are checked (:func:`_check_cron`; see
    :func:`paperboy.jobs.config.load.parse_config`'s `check_schedules`)."""

    def __init__(self, path: Path, text: str, *, schedules: bool = True) -> None:
        self.path = path
        self.schedules = schedules
        # Lines end at LF (TOML's rule): splitlines() would also split on U+2028, U+0085…
        # inside a string, and every later line number would be off.
        self.lines = text.split("\n")
        self.items: list[tuple[int | None, str]] = []

    def add(
        self,
        where: Sequence[str | int],
        message: str,
        key: str | None = None,
        value: str | None = None,
    ) -> None:
        line = self._locate(where, key)
        if line is not None and value is not None:
            line = self._element_line(line, value)
        self.items.append((line, message))

    def add_at(self, line: int | None, message: str) -> None:
        """A problem whose line is already known (a TOML syntax error)."""
        self.items.append((line, message))

    def location(self, where: Sequence[str | int], key: str | None) -> str:
        """``file:line`` of `key` in the table at `where` (just ``file`` if not found)."""
        line = self._locate(where, key)
        return f"{self.path}:{line}" if line else str(self.path)

    def _element_line(self, key_line: int, value: str) -> int:
        """The line of a list element (a multi-line `saved = [...]`), else the key's line."""
        quoted = (f'"{value}"', f"'{value}'")
        for number in range(key_line, len(self.lines) + 1):
            line = self.lines[number - 1]
            if any(q in line for q in quoted):
                return number
            if number > key_line and re.match(r"^\s*(\[|[\w\-\"']+\s*=)", line):
                break
        return key_line

    def _locate(self, where: Sequence[str | int], key: str | None) -> int | None:
        """Find the line of `key` inside the table at `where` (e.g. ["users", 1], or
        ["users", 1, "collections", 0] for the first [[users.collections]] of the second
        [[users]]: each index counts the array's tables since its parent's header)."""
        parts: list[str] = []
        wanted: dict[str, int] = {}
        for p in where:
            if isinstance(p, int):
                wanted[".".join(parts)] = p
            else:
                parts.append(p)
        header = ".".join(parts)
        counts: dict[str, int] = {}
        inside = not header
        for number, raw in enumerate(self.lines, start=1):
            line = raw.strip()
            table = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", line)
            if table:
                name = table.group(1)
                if line.startswith("[["):
                    counts[name] = counts.get(name, -1) + 1
                    for nested in [k for k in counts if k.startswith(name + ".")]:
                        del counts[nested]  # a new parent: its arrays count from 0 again
                inside = name == header and all(
                    counts.get(array, -1) == index for array, index in wanted.items()
                )
                if inside and key is None:
                    return number
                continue
            if inside and key is not None and re.match(rf"^\"?{re.escape(key)}\"?\s*=", line):
                return number
        return None

    def raise_if_any(self) -> None:
        if not self.items:
            return
        lines = self.lines_out()
        count = len(self.items)
        head = f"{count} problem{'s' if count > 1 else ''} in {self.path}:"
        raise ConfigError("\n".join([head, *("  " + line for line in lines)]))

    def lines_out(self) -> list[str]:
        """Each problem as ``file:line: message``, in line order."""
        out = []
        for line, message in sorted(self.items, key=lambda item: item[0] or 0):
            out.append(f"{self.path}:{line}: {message}" if line else f"{self.path}: {message}")
        return out


MAX_PROBLEM_LINES = 100  # 10,000 copies of one broken users_dir file: the first 100 problems


def _raise_all(problem_sets: Sequence[_Problems]) -> None:
    """One ConfigError for the problems of config.toml and of every users_dir file."""
    bad = [p for p in problem_sets if p.items]
    if not bad:
        return
    if len(bad) == 1:
        bad[0].raise_if_any()
    lines = [line for p in bad for line in p.lines_out()]
    shown = lines[:MAX_PROBLEM_LINES]
    if len(lines) > len(shown):
        shown.append(f"... and {len(lines) - len(shown)} more")
    head = f"{len(lines)} problems in {len(bad)} files:"
    raise ConfigError("\n".join([head, *("  " + line for line in shown)]))


def _check_keys(
    table: Mapping[str, Any],
    allowed: Sequence[str],
    where: Sequence[str | int],
    label: str,
    problems: _Problems,
) -> None:
    for key in table:
        if key in allowed:
            continue
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(allowed)})"
        problems.add(where, f"unknown key {key!r} in {label}{hint}", key)


def _get(
    table: Mapping[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    default: Any,
    where: Sequence[str | int],
    label: str,
    problems: _Problems,
    expected: str,
) -> Any:
    if key not in table:
        return default
    value = table[key]
    if isinstance(value, bool) and kind is not bool and bool not in _as_tuple(kind):
        problems.add(where, f"{label}.{key} must be {expected}, not {value!r}", key)
        return default
    if not isinstance(value, kind):
        problems.add(where, f"{label}.{key} must be {expected}, not {value!r}", key)
        return default
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _str_list(
    table: Mapping[str, Any],
    key: str,
    where: Sequence[str | int],
    label: str,
    problems: _Problems,
) -> tuple[str, ...]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.add(where, f"{label}.{key} must be a list of strings", key)
        return ()
    return tuple(v.strip() for v in value if v.strip())


def _table(
    data: Mapping[str, Any], key: str, where: Sequence[str | int], problems: _Problems
) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        problems.add(where, f"{key} must be a table", key)
        return {}
    return value


def _check_timezone(name: str, where: Sequence[str | int], key: str, problems: _Problems) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        problems.add(where, f"unknown time zone {name!r} (expected e.g. 'Europe/Berlin')", key)
        return "UTC"
    return name


_CATEGORY_RE = re.compile(r"^[a-z\-]+(\.[A-Za-z\-]+)?$")


def _check_categories(
    values: tuple[str, ...], where: Sequence[str | int], label: str, problems: _Problems
) -> tuple[str, ...]:
    bad = [v for v in values if not _CATEGORY_RE.match(v)]
    if bad:
        problems.add(
            where,
            f"{label}.categories: {', '.join(map(repr, bad))} are not arXiv categories "
            "(expected e.g. 'cs.LG', 'stat.ML', 'hep-th')",
            "categories",
        )
    return tuple(v for v in values if v not in bad)


def _parse_time(value: Any, where: Sequence[str | int], label: str, problems: _Problems) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
        if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
            return time(int(m.group(1)), int(m.group(2)))
    problems.add(where, f'{label}.send_at must be a time like "07:30", not {value!r}', "send_at")
    return time(7, 30)


def _check_cron(
    schedule: str, where: Sequence[str | int], label: str, key: str, problems: _Problems
) -> None:
    """A cron line must parse and fire some day. APScheduler does the parsing: it is
    imported here, and only by a load that checks schedules."""
    if not problems.schedules:
        return
    from apscheduler.triggers.cron import CronTrigger

    try:
        trigger = CronTrigger.from_crontab(schedule, timezone="UTC")
    except ValueError as e:
        problems.add(
            where,
            f"{label}.{key} must be 'daily', 'weekly' or a cron expression "
            f"like '30 7 * * mon-fri', not {schedule!r} ({e})",
            key,
        )
        return
    # A valid expression that names no real day ("0 0 30 2 *", February 30th) would be
    # "not due yet" forever. Cron fields are wall-clock fields: one zone stands for all.
    if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
        problems.add(
            where,
            f"{label}.{key} {schedule!r} never fires (no such date in any year)",
            key,
        )


def _check_url(
    url: str, where: Sequence[str | int], label: str, key: str, problems: _Problems
) -> bool:
    if re.match(r"^https?://[^/\s]+", url):
        return True
    problems.add(where, f"{label}.{key} must be an http(s) URL, not {url!r}", key)
    return False


def _resolve_path(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _resolve_database(base: Path, url: str) -> str:
    """Relative SQLite paths are relative to the config file, not to the working directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        rest = url[len(prefix) :]
        return prefix + str(_resolve_path(base, rest))
    return url
