"""Edit a user's lists in config.toml (saved, disliked, keywords, authors, muted) in place.

A user lives either in a ``[[users]]`` table of config.toml or in their own file in
``users_dir`` (issue #13), whose top level is their table (``whole_file=True`` below).
:func:`edit_profile` knows which, and is the one way the CLI and the web's feedback links
change a profile: :func:`like`, :func:`dislike`, or any list of (op, key, values).

The file is a person's: their comments, order, spacing and quoting stay as they wrote them,
byte for byte outside the list being edited (issue #6). tomlkit parses the file and finds
the user's table; the edit itself is a splice into the text of that one array, so that:

- an added value goes where a person would type it: ``, "x"`` after the last element of a
  one-line array, a new line (same indentation, same comma style) in a multi-line one;
- a removed value takes its separator, or its whole line with its comment, along;
- adding a value and removing it again gives back the original file exactly.

Every result is parsed again by tomlkit and compared with the expected list before it is
returned, so a splice can never produce a broken or different file.

The second half of this module writes the file safely: to a temporary file in the same
folder, fsync, a backup of the previous file (``config.toml.bak``), then ``os.replace``;
and only if nobody changed the file in between (a hand edit in an editor is never lost).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import re
import tempfile
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from paperboy.jobs.config.load import Config, parse_config, parse_user_file
from paperboy.jobs.core.errors import ConfigError, PaperboyError, UnknownPaperError
from paperboy.jobs.core.ids import canonical_arxiv_id

__all__ = [
    "ID_KEYS",
    "LIST_KEYS",
    "Change",
    "ConcurrentEditError",
    "ConfigSnapshot",
    "Edit",
    "Operation",
    "ProfileEdit",
    "add_values",
    "apply_operations",
    "backup_path",
    "config_lock",
    "dislike",
    "dislike_operations",
    "edit_profile",
    "like",
    "like_operations",
    "normalise_value",
    "read_lists",
    "read_snapshot",
    "remove_values",
    "same_value",
    "user_file",
    "user_names",
    "write_config",
]

ID_KEYS = ("saved", "disliked")
LIST_KEYS = ("saved", "disliked", "keywords", "authors", "muted")


class ConcurrentEditError(PaperboyError):
    """config.toml changed on disk between reading it and writing the edit."""


@dataclass(frozen=True, slots=True)
class Edit:
    """The result of an edit: the new text, and which values changed or did not.

    ``changed``: the values added (or removed), as written to (or found in) the file.
    ``unchanged``: for an add, the values already present; for a remove, those not found.
    """

    text: str
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()


# --- values ------------------------------------------------------------------------------


def normalise_value(key: str, value: str) -> str:
    """The form a value is stored in: the canonical arXiv id for saved/disliked, else the
    text with its spaces collapsed. UnknownPaperError for a bad id, ValueError if empty."""
    if key in ID_KEYS:
        return canonical_arxiv_id(value)[0]
    text = " ".join(value.split())
    if not text:
        raise ValueError(f"an empty value cannot be added to {key}")
    return text


def _match_key(key: str, value: str) -> str:
    """What two values are compared by: ids by canonical id, words without case or accents."""
    if key in ID_KEYS:
        try:
            return canonical_arxiv_id(value)[0]
        except UnknownPaperError:
            return value.strip()
    decomposed = unicodedata.normalize("NFKD", " ".join(value.split()))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def same_value(key: str, a: str, b: str) -> bool:
    """True if `a` and `b` are the same entry of list `key` ("arXiv:2401.01234v2" is
    "2401.01234"; "Bandits" is "bandits")."""
    return _match_key(key, a) == _match_key(key, b)


# --- finding the user's table ------------------------------------------------------------


def _parse(text: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except TOMLKitError as e:
        raise ConfigError(f"invalid TOML: {e}") from e


def user_names(text: str) -> list[str]:
    """The names of the [[users]] in a config file's text, in order."""
    users = _parse(text).get("users", [])
    if not isinstance(users, list):
        return []
    return [str(u.get("name")) for u in users if isinstance(u, dict) and "name" in u]


def _user_table(doc: tomlkit.TOMLDocument, user: str, whole_file: bool = False) -> Any:
    """The user's table: the document itself for a users_dir file (``whole_file``)."""
    if whole_file:
        return doc
    users = doc.get("users", [])
    if isinstance(users, list):
        for table in users:
            if isinstance(table, dict) and table.get("name") == user:
                return table
    known = ", ".join(user_names(doc.as_string())) or "none"
    raise ConfigError(f"no user named {user!r} in the config (configured: {known})")


def _as_list(key: str, value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [str(value)]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    raise ConfigError(f"{key} must be a list of strings, not {value!r}; fix it by hand first")


def read_lists(text: str, user: str, *, whole_file: bool = False) -> dict[str, list[str]]:
    """The user's list keys as written in the file (raw values, not normalised)."""
    table = _user_table(_parse(text), user, whole_file)
    return {key: _as_list(key, table.get(key)) for key in LIST_KEYS}


# --- scanning TOML values in the text ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "str" | "comma" | "comment" | "newline" | "space" | "open" | "close"
    start: int
    end: int


_SPACE = re.compile(r"[ \t]+")
_BASIC = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_LITERAL = re.compile(r"'[^'\n]*'")
_COMMENT = re.compile(r"#[^\r\n]*")


def _match_end(pattern: re.Pattern[str], text: str, pos: int) -> int:
    match = pattern.match(text, pos)
    return match.end() if match else pos + 1


def _string_end(text: str, pos: int) -> int:
    """The end of the string that starts at `pos` (basic, literal or multi-line)."""
    for quote in ('"""', "'''"):
        if text.startswith(quote, pos):
            i = pos + 3
            while True:
                j = text.find(quote, i)
                if j < 0:
                    raise ConfigError("unterminated multi-line string")
                if quote == '"""' and _escaped(text, j):
                    i = j + 1
                    continue
                # A multi-line string may end with up to two extra quotes: """a"""".
                while text.startswith(quote[0], j + 3) and j + 3 < len(text):
                    j += 1
                return j + 3
    match = (_BASIC if text[pos] == '"' else _LITERAL).match(text, pos)
    if match is None:
        raise ConfigError("unterminated string")
    return match.end()


def _escaped(text: str, j: int) -> bool:
    backslashes = 0
    while j - 1 - backslashes >= 0 and text[j - 1 - backslashes] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _tokens(text: str, start: int) -> tuple[list[_Token], int]:
    """Tokens of the array that opens at text[start] == "[", and the offset after its "]"."""
    tokens: list[_Token] = []
    depth = 0
    pos = start
    while pos < len(text):
        ch = text[pos]
        if ch in "[{":
            depth += 1
            tokens.append(_Token("open", pos, pos + 1))
            pos += 1
        elif ch in "]}":
            depth -= 1
            tokens.append(_Token("close", pos, pos + 1))
            pos += 1
            if depth == 0:
                return tokens, pos
        elif ch in "\"'":
            end = _string_end(text, pos)
            tokens.append(_Token("str", pos, end))
            pos = end
        elif ch == ",":
            tokens.append(_Token("comma", pos, pos + 1))
            pos += 1
        elif ch == "#":
            end = _match_end(_COMMENT, text, pos)
            tokens.append(_Token("comment", pos, end))
            pos = end
        elif ch == "\n" or text.startswith("\r\n", pos):
            end = pos + (1 if ch == "\n" else 2)
            tokens.append(_Token("newline", pos, end))
            pos = end
        elif ch in " \t":
            end = _match_end(_SPACE, text, pos)
            tokens.append(_Token("space", pos, end))
            pos = end
        else:  # a number, a boolean, a date: not a list of strings
            end = pos + 1
            tokens.append(_Token("other", pos, end))
            pos = end
    raise ConfigError("unterminated array")


def _value_end(text: str, start: int) -> int:
    """The offset just after the TOML value that starts at `start`."""
    if text[start] in "[{":
        return _tokens(text, start)[1]
    if text[start] in "\"'":
        return _string_end(text, start)
    end = text.find("\n", start)
    return len(text) if end < 0 else end


def _line_end(text: str, pos: int) -> int:
    """The offset after the newline that ends the line `pos` is on (or the end of text)."""
    end = text.find("\n", pos)
    return len(text) if end < 0 else end + 1


def _value_start(text: str, user: str, key: str, whole_file: bool = False) -> int:
    """Where the value of `key` in the user's table starts in `text`.

    tomlkit renders a document byte for byte as it read it; replacing the one value by a
    unique marker and rendering again shows where the value is.
    """
    doc = _parse(text)
    table = _user_table(doc, user, whole_file)
    marker = f"paperboy-marker-{uuid.uuid4().hex}"
    table[key] = marker
    rendered = doc.as_string()
    quoted = f'"{marker}"'
    start = rendered.find(quoted)
    if start < 0 or rendered[:start] != text[:start]:
        raise ConfigError(f"cannot locate {key} of user {user!r} in the file; edit it by hand")
    return start


# --- editing -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Element:
    start: int
    end: int
    comma: _Token | None  # the comma that follows the element, if any
    index: int  # token index


def _elements(tokens: list[_Token]) -> list[_Element]:
    out: list[_Element] = []
    for i, tok in enumerate(tokens):
        if tok.kind == "other" or (tok.kind == "open" and i > 0):
            raise ConfigError("the list holds something other than strings; fix it by hand")
        if tok.kind != "str":
            continue
        comma = None
        for nxt in tokens[i + 1 :]:
            if nxt.kind == "comma":
                comma = nxt
                break
            if nxt.kind not in ("space", "newline", "comment"):
                break
        out.append(_Element(tok.start, tok.end, comma, i))
    return out


def _alone_on_line(text: str, tokens: list[_Token], el: _Element) -> bool:
    """Only spaces before the element on its line; after it only a comma, spaces and a
    comment before the end of the line."""
    before = tokens[el.index - 1] if el.index > 0 else None
    if before is not None and before.kind == "space":
        before = tokens[el.index - 2] if el.index > 1 else None
    if before is None or before.kind != "newline":
        return False
    for tok in tokens[el.index + 1 :]:
        if tok.kind == "newline":
            return True
        if tok.kind not in ("space", "comma", "comment"):
            return False
    return False


def _render(value: str) -> str:
    return tomlkit.string(value).as_string()


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _indent_of(text: str, pos: int) -> str:
    """The spaces and tabs that start the line `pos` is on."""
    line_start = text.rfind("\n", 0, pos) + 1
    line = text[line_start:pos]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _append(text: str, start: int, value: str) -> str:
    """Append `value` to the array (or single string) whose value starts at `start`."""
    item = _render(value)
    if text[start] in "\"'":  # `keywords = "bandits"`: becomes a list
        end = _string_end(text, start)
        return f"{text[:start]}[{text[start:end]}, {item}]{text[end:]}"
    tokens, _end = _tokens(text, start)
    elements = _elements(tokens)
    nl = _newline(text)
    if not elements:
        close = tokens[-1]
        line_start = text.rfind("\n", start, close.start) + 1
        if line_start > start and not text[line_start : close.start].strip():
            # A multi-line empty array: a new line before the closing bracket.
            inner = [t for t in tokens if t.kind == "comment"]
            indent = _indent_of(text, inner[-1].start) if inner else "    "
            return f"{text[:line_start]}{indent}{item},{nl}{text[line_start:]}"
        return f"{text[: start + 1]}{item}{text[start + 1 :]}"
    last = elements[-1]
    if _alone_on_line(text, tokens, last):
        indent = _indent_of(text, last.start)
        after = _line_end(text, last.end)
        line = f"{indent}{item}{',' if last.comma else ''}{nl}"
        if last.comma is None:
            return f"{text[: last.end]},{text[last.end : after]}{line}{text[after:]}"
        return f"{text[:after]}{line}{text[after:]}"
    return f"{text[: last.end]}, {item}{text[last.end :]}"


def _delete(text: str, start: int, index: int) -> str:
    """Delete the index-th element of the array (or the single string) at `start`."""
    if text[start] in "\"'":
        end = _string_end(text, start)
        return f"{text[:start]}[]{text[end:]}"
    tokens, _end = _tokens(text, start)
    elements = _elements(tokens)
    el = elements[index]
    if _alone_on_line(text, tokens, el):
        line_start = text.rfind("\n", 0, el.start) + 1
        cut = text[:line_start] + text[_line_end(text, el.end) :]
        last = index == len(elements) - 1
        previous = elements[index - 1] if index > 0 else None
        if last and el.comma is None and previous is not None and previous.comma is not None:
            # Our own add wrote "b,\n  x\n": give b its comma-less end back.
            c = previous.comma
            cut = cut[: c.start] + cut[c.end :]
        return cut
    prev = elements[index - 1] if index > 0 else None
    nxt = elements[index + 1] if index + 1 < len(elements) else None

    def clean(a: int, b: int, newline_ok: bool) -> bool:
        gap = [t for t in tokens if a <= t.start < b]
        return not any(t.kind == "comment" or (t.kind == "newline" and not newline_ok) for t in gap)

    if prev is not None and clean(prev.end, el.start, False):
        return text[: prev.end] + text[el.end :]
    if nxt is not None and clean(el.end, nxt.start, False):
        return text[: el.start] + text[nxt.start :]
    if prev is not None and clean(prev.end, el.start, True):
        return text[: prev.end] + text[el.end :]
    if nxt is not None and clean(el.end, nxt.start, True):
        return text[: el.start] + text[nxt.start :]
    end = el.comma.end if el.comma is not None else el.end
    return text[: el.start] + text[end:]


def _insert_key(text: str, user: str, key: str, value: str, whole_file: bool = False) -> str:
    """Add ``key = [value]`` on a new line after the last key of the user's table."""
    table = _user_table(_parse(text), user, whole_file)
    keys = [k for k in table if not isinstance(table[k], dict)]
    if not keys:
        raise ConfigError(f"cannot find where to add {key} for user {user!r}; add it by hand")
    start = _value_start(text, user, keys[-1], whole_file)
    after = _line_end(text, _value_end(text, start))
    nl = _newline(text)
    prefix = text[:after] if text[:after].endswith("\n") else text[:after] + nl
    indent = _indent_of(text, start)
    return f"{prefix}{indent}{key} = [{_render(value)}]{nl}{text[after:]}"


def _check(
    new_text: str, user: str, key: str, expected: list[str], whole_file: bool = False
) -> str:
    """Parse the result again: exactly the expected list, or refuse to go on."""
    got = read_lists(new_text, user, whole_file=whole_file)[key]
    if got != expected:
        raise ConfigError(
            f"editing {key} of {user!r} would not give the expected list "
            f"({got!r} instead of {expected!r}); edit the file by hand"
        )
    return new_text


def add_values(
    text: str, user: str, key: str, values: Sequence[str], *, whole_file: bool = False
) -> Edit:
    """Add values to one of the user's lists, skipping those already there.

    Values are normalised first (:func:`normalise_value`: canonical ids for saved and
    disliked); a value is "already there" if :func:`same_value` says so. A missing key is
    added as ``key = [...]`` after the user's last key. ``whole_file``: `text` is a
    users_dir file, whose top level is the user's table.
    """
    if key not in LIST_KEYS:
        raise ValueError(f"not a list key: {key!r} (one of {', '.join(LIST_KEYS)})")
    current = read_lists(text, user, whole_file=whole_file)[key]
    have = {_match_key(key, v) for v in current}
    added: list[str] = []
    present: list[str] = []
    for raw in values:
        value = normalise_value(key, raw)
        if _match_key(key, value) in have:
            present.append(value)
        else:
            have.add(_match_key(key, value))
            added.append(value)
    if not added:
        return Edit(text, (), tuple(present))
    rest = added
    if key not in _user_table(_parse(text), user, whole_file):
        text = _insert_key(text, user, key, added[0], whole_file)
        rest = added[1:]
    start = _value_start(text, user, key, whole_file)
    for value in rest:  # each append changes the text after `start` only
        text = _append(text, start, value)
    new_text = _check(text, user, key, [*current, *added], whole_file)
    return Edit(new_text, tuple(added), tuple(present))


def remove_values(
    text: str, user: str, key: str, values: Sequence[str], *, whole_file: bool = False
) -> Edit:
    """Remove values from one of the user's lists, whatever form they are given in.

    ``2401.01234``, ``arXiv:2401.01234v3`` and the abs URL remove the same saved paper;
    keywords, authors and muted words match without regard to case and accents. The key
    stays (``keywords = []``) when its last value goes.
    """
    if key not in LIST_KEYS:
        raise ValueError(f"not a list key: {key!r} (one of {', '.join(LIST_KEYS)})")
    current = read_lists(text, user, whole_file=whole_file)[key]
    wanted = {_match_key(key, v) for v in values}
    found = {_match_key(key, v) for v in current}
    missing = tuple(v for v in values if _match_key(key, v) not in found)
    doomed = [i for i, v in enumerate(current) if _match_key(key, v) in wanted]
    if not doomed:
        return Edit(text, (), missing)
    start = _value_start(text, user, key, whole_file)
    for i in reversed(doomed):  # from the end, so earlier indices stay valid
        text = _delete(text, start, i)
    kept = [v for i, v in enumerate(current) if i not in set(doomed)]
    removed = tuple(current[i] for i in doomed)
    return Edit(_check(text, user, key, kept, whole_file), removed, missing)


# --- writing the file safely -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigSnapshot:
    """The config file as read: its text and what identifies this version of it."""

    path: Path
    text: str
    sha256: str
    mtime_ns: int
    size: int


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8: {e}") from e


def read_snapshot(path: Path) -> ConfigSnapshot:
    """Read the config file, remembering its hash and mtime to detect a concurrent edit.

    Newlines are kept as they are (a CRLF file stays CRLF).
    """
    try:
        data = path.read_bytes()
        stat = path.stat()
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: no such config file (create one with `paperboy init`)") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config file: {e}") from e
    return ConfigSnapshot(
        path, _decode(path, data), hashlib.sha256(data).hexdigest(), stat.st_mtime_ns, stat.st_size
    )


def backup_path(path: Path) -> Path:
    """Where the previous version of the config file is kept: ``config.toml.bak``."""
    return path.with_name(path.name + ".bak")


def _write_temp(folder: Path, name: str, data: bytes, mode: int | None) -> Path:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _unchanged_since(snapshot: ConfigSnapshot) -> None:
    path = snapshot.path
    try:
        data = path.read_bytes()
        mtime_ns = path.stat().st_mtime_ns
    except OSError as e:
        raise ConcurrentEditError(f"{path} went away while it was being edited: {e}") from e
    if hashlib.sha256(data).hexdigest() != snapshot.sha256 or mtime_ns != snapshot.mtime_ns:
        raise ConcurrentEditError(
            f"{path} was changed by someone else (an editor?) while Paperboy was editing "
            "it; nothing was written. Run the command again."
        )


def write_config(
    snapshot: ConfigSnapshot,
    new_text: str,
    *,
    _before_replace: Callable[[], None] | None = None,
) -> bool:
    """Replace the config file with `new_text`, atomically, keeping a backup.

    Writes a temporary file in the same folder (fsync), keeps the previous file as
    ``config.toml.bak``, then checks that the file on disk is still the one `snapshot`
    read (hash and mtime) and only then ``os.replace``s it. If someone changed it in the
    meantime, nothing is replaced and ConcurrentEditError says so. Returns False (and
    writes nothing) when the text did not change.
    """
    if new_text == snapshot.text:
        return False
    path = snapshot.path.resolve()  # a symlinked config.toml: edit the file it points to
    folder = path.parent
    try:
        mode = path.stat().st_mode & 0o7777
        tmp = _write_temp(folder, path.name, new_text.encode("utf-8"), mode)
    except OSError as e:
        raise ConfigError(f"{path}: cannot write next to the config file: {e}") from e
    try:
        if _before_replace is not None:
            _before_replace()
        _unchanged_since(snapshot)  # a refused edit leaves the old backup alone too
        bak = _write_temp(folder, path.name + ".bak", snapshot.text.encode("utf-8"), mode)
        os.replace(bak, backup_path(path))
        _unchanged_since(snapshot)  # again, as close to the replace as it gets
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)
    return True


# --- one code path for every edit: the CLI's and the web's ------------------------------

# ("add" | "remove", list key, values): e.g. ("add", "saved", ["2401.01234"]).
Operation = tuple[str, str, Sequence[str]]


def like_operations(ids: Sequence[str]) -> list[Operation]:
    """`paperboy profile like` and "More like this": saved, and no longer disliked."""
    return [("remove", "disliked", ids), ("add", "saved", ids)]


def dislike_operations(ids: Sequence[str]) -> list[Operation]:
    """`paperboy profile dislike` and "Less like this": disliked, and no longer saved."""
    return [("remove", "saved", ids), ("add", "disliked", ids)]


@dataclass(frozen=True, slots=True)
class Change:
    """One value's fate in one list: ``added``, ``already-present``, ``removed`` or
    ``not-found``."""

    key: str
    action: str
    value: str


@dataclass(frozen=True, slots=True)
class ProfileEdit:
    """What :func:`edit_profile` did: the file it edited, each value's fate, and whether
    the file was written (False: nothing changed, or ``write=False``)."""

    path: Path
    changes: tuple[Change, ...]
    written: bool


def user_file(config: Config, user: str) -> Path:
    """The file that holds the user's table: their users_dir file, else config.toml.

    ConfigError (naming the configured users) for an unknown user.
    """
    return config.user(user).source or config.path


def apply_operations(
    text: str, user: str, operations: Sequence[Operation], *, whole_file: bool = False
) -> tuple[str, list[Change]]:
    """Apply (op, key, values) edits to a config file's text, in order; the new text and
    what happened to each value. ``whole_file``: the text is a users_dir file (the
    user's keys at its top level). ValueError for an empty value."""
    changes: list[Change] = []
    for op, key, values in operations:
        if not values:
            continue
        if op == "add":
            edit = add_values(text, user, key, values, whole_file=whole_file)
            changes += [Change(key, "added", v) for v in edit.changed]
            changes += [Change(key, "already-present", v) for v in edit.unchanged]
        elif op == "remove":
            edit = remove_values(text, user, key, values, whole_file=whole_file)
            changes += [Change(key, "removed", v) for v in edit.changed]
            changes += [Change(key, "not-found", v) for v in edit.unchanged]
        else:
            raise ValueError(f"not an operation: {op!r} (add or remove)")
        text = edit.text
    return text, changes


# (thread, folder) -> depth: the folders each thread holds config_lock on. Per thread: the
# web server edits from several threads, each of which must take the lock itself.
_held_locks: dict[tuple[int, Path], int] = {}


@contextlib.contextmanager
def config_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on a config file's folder while reading, editing and
    writing it, so that two Paperboy processes (the CLI and `paperboy serve`) take turns
    instead of refusing each other's edit. An editor takes no lock: the "changed meanwhile"
    check of write_config still protects its change. Re-entrant within a process (the CLI
    holds it for a whole command, around edit_profile's own). No-op where flock does not
    exist."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    folder = path.resolve().parent
    key = (threading.get_ident(), folder)
    if _held_locks.get(key):
        _held_locks[key] += 1
        try:
            yield
        finally:
            _held_locks[key] -= 1
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # cannot open the folder: edit without the lock, still checked
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _held_locks[key] = 1
        yield
    finally:
        _held_locks.pop(key, None)
        os.close(fd)  # closing the descriptor releases the lock


def edit_profile(
    config: Config,
    user: str,
    operations: Sequence[Operation],
    *,
    snapshot: ConfigSnapshot | None = None,
    write: bool = True,
    attempts: int = 1,
    sleep: Callable[[float], None] = time.sleep,
) -> ProfileEdit:
    """Apply `operations` to the user's lists in the file they live in, check, write.

    The file is config.toml or the user's users_dir file (:func:`user_file`); `snapshot`
    is that file as already read, if the caller has it. Under :func:`config_lock`, the
    edited text is validated as the loader would (a [[users]] edit: config.toml again; a
    users_dir file: that file, with config.toml's defaults) and written atomically with a
    ``.bak``, only if nobody changed the file meanwhile. Such a change (an editor's save)
    is retried on the new text up to `attempts` times (the web's clicks: neither change is
    lost), else raises ConcurrentEditError (the CLI: the person re-runs). ValueError for
    an empty value, UnknownPaperError for a bad id, ConfigError for an unknown user or an
    edit that would not load.
    """
    path = user_file(config, user)
    whole_file = config.user(user).source is not None
    for attempt in range(1, max(attempts, 1) + 1):
        with config_lock(path):
            if attempt > 1 or snapshot is None or snapshot.path != path:
                snapshot = read_snapshot(path)
            text, changes = apply_operations(snapshot.text, user, operations, whole_file=whole_file)
            try:  # never write a file that would not load
                if whole_file:
                    parse_user_file(text, path, config)
                else:  # names do not change: the users_dir files need no second read
                    parse_config(text, path, read_users_dir=False)
            except ConfigError as e:
                raise ConfigError(
                    f"the edit would leave {path} invalid, so nothing was written:\n{e}"
                ) from e
            try:
                written = write_config(snapshot, text) if write else False
            except ConcurrentEditError:
                if attempt >= attempts:
                    raise
            else:
                return ProfileEdit(path, tuple(changes), written)
        sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def like(config: Config, user: str, ids: Sequence[str], *, attempts: int = 1) -> ProfileEdit:
    """More like this: save the papers (any id form) and take them off the disliked."""
    return edit_profile(config, user, like_operations(ids), attempts=attempts)


def dislike(config: Config, user: str, ids: Sequence[str], *, attempts: int = 1) -> ProfileEdit:
    """Less like this: put the papers in ``disliked`` and take them off the saved."""
    return edit_profile(config, user, dislike_operations(ids), attempts=attempts)
