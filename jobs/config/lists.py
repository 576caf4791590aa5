"""Edit a user's lists (saved, disliked, keywords, authors, muted) in the file they live in.

A user lives either in a ``[[users]]`` table of config.toml or in their own file in
``users_dir`` (issue #13), whose top level is their table (``whole_file=True`` below).
:func:`edit_profile` knows which, and is the one way the CLI and the web's feedback links
change a profile: :func:`like`, :func:`dislike`, or any list of (op, key, values).

tomlkit parses the file and finds the user's table and where its array starts; the edit
itself is a splice into the text of that one array (:mod:`paperboy.jobs.config.toml_text`),
so comments, order and quoting stay as the person wrote them (issue #6). Every result is
parsed again by tomlkit and compared with the expected list before it is returned, so a
splice can never produce a broken or different file.

    edit_profile(config, user, operations)
      under config_lock(the user's file):
        read_snapshot                      (or the caller's)
        apply_operations: add_values / remove_values, each checked by a re-parse
        validate as the loader would       (ConfigError: nothing written)
        write_config                       (writes.py: atomic, with a .bak; a file changed
                                            meanwhile: ConcurrentEditError, retried on the
                                            new text up to `attempts` times)
"""

from __future__ import annotations

import random
import time
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT

from paperboy.jobs.config.load import parse_config
from paperboy.jobs.config.model import Config
from paperboy.jobs.config.toml_text import (
    _append,
    _delete,
    _indent_of,
    _line_end,
    _newline,
    _render,
    _value_end,
)
from paperboy.jobs.config.users import parse_user_file
from paperboy.jobs.config.writes import (
    ConcurrentEditError,
    ConfigSnapshot,
    config_lock,
    read_snapshot,
    write_config,
)
from paperboy.jobs.core.errors import ConfigError, UnknownPaperError
from paperboy.jobs.core.ids import canonical_arxiv_id

__all__ = [
    "ID_KEYS",
    "LIST_KEYS",
    "Change",
    "Edit",
    "Operation",
    "ProfileEdit",
    "add_values",
    "apply_operations",
    "dislike",
    "dislike_operations",
    "edit_profile",
    "like",
    "like_operations",
    "normalise_value",
    "read_lists",
    "remove_values",
    "same_value",
    "user_file",
    "user_names",
]


ID_KEYS = ("saved", "disliked")

LIST_KEYS = ("saved", "disliked", "keywords", "authors", "muted")


@dataclass(frozen=True, slots=True)
class Edit:
    """The result of an edit: the new text, and which values changed or did not.

    ``changed``: the values added (or removed), as written to (or found in) the file.
    ``unchanged``: for an add, the values already present; for a remove, those not found.
    """

    text: str
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()


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


def _user_table(
    doc: tomlkit.TOMLDocument, user: str, whole_file: bool = False, collection: str = ""
) -> Any:
    """The user's table: the document itself for a users_dir file (``whole_file``); with
    `collection`, that collection's table inside it (issue #23)."""
    table = _find_user(doc, user, whole_file)
    if not collection:
        return table
    found = table.get("collections", [])
    if isinstance(found, list):
        for entry in found:
            if isinstance(entry, dict) and entry.get("name") == collection:
                return entry
    names = (
        [str(e.get("name")) for e in found if isinstance(e, dict)]
        if isinstance(found, list)
        else []
    )
    raise ConfigError(
        f"user {user!r} has no collection named {collection!r} "
        f"(collections: {', '.join(names) or 'none'}); add a [[users.collections]] table "
        "with that name first"
    )


def _find_user(doc: tomlkit.TOMLDocument, user: str, whole_file: bool) -> Any:
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


def read_lists(
    text: str, user: str, *, whole_file: bool = False, collection: str = ""
) -> dict[str, list[str]]:
    """The user's list keys as written in the file (raw values, not normalised); of one of
    their collections with `collection` ("": their top-level lists)."""
    table = _user_table(_parse(text), user, whole_file, collection)
    return {key: _as_list(key, table.get(key)) for key in LIST_KEYS}


def _value_start(
    text: str, user: str, key: str, whole_file: bool = False, collection: str = ""
) -> int:
    """Where the value of `key` in the user's table starts in `text`.

    tomlkit renders a document byte for byte as it read it; replacing the one value by a
    unique marker and rendering again shows where the value is.
    """
    doc = _parse(text)
    table = _user_table(doc, user, whole_file, collection)
    marker = f"paperboy-marker-{uuid.uuid4().hex}"
    table[key] = marker
    rendered = doc.as_string()
    quoted = f'"{marker}"'
    start = rendered.find(quoted)
    if start < 0 or rendered[:start] != text[:start]:
        raise ConfigError(f"cannot locate {key} of user {user!r} in the file; edit it by hand")
    return start


def _insert_key(
    text: str, user: str, key: str, value: str, whole_file: bool = False, collection: str = ""
) -> str:
    """Add ``key = [value]`` on a new line after the last key of the user's (or the
    collection's) table; never after a sub-table or an array of tables, which TOML
    writes after the table's own keys."""
    table = _user_table(_parse(text), user, whole_file, collection)
    keys = [k for k in table if not isinstance(table[k], dict | AoT)]
    if not keys:
        raise ConfigError(f"cannot find where to add {key} for user {user!r}; add it by hand")
    start = _value_start(text, user, keys[-1], whole_file, collection)
    after = _line_end(text, _value_end(text, start))
    nl = _newline(text)
    prefix = text[:after] if text[:after].endswith("\n") else text[:after] + nl
    indent = _indent_of(text, start)
    return f"{prefix}{indent}{key} = [{_render(value)}]{nl}{text[after:]}"


def _check(
    new_text: str,
    user: str,
    key: str,
    expected: list[str],
    whole_file: bool = False,
    collection: str = "",
) -> str:
    """Parse the result again: exactly the expected list, or refuse to go on."""
    got = read_lists(new_text, user, whole_file=whole_file, collection=collection)[key]
    if got != expected:
        raise ConfigError(
            f"editing {key} of {user!r} would not give the expected list "
            f"({got!r} instead of {expected!r}); edit the file by hand"
        )
    return new_text


def add_values(
    text: str,
    user: str,
    key: str,
    values: Sequence[str],
    *,
    whole_file: bool = False,
    collection: str = "",
) -> Edit:
    """Add values to one of the user's lists, skipping those already there.

    Values are normalised first (:func:`normalise_value`: canonical ids for saved and
    disliked); a value is "already there" if :func:`same_value` says so. A missing key is
    added as ``key = [...]`` after the user's last key. ``whole_file``: `text` is a
    users_dir file, whose top level is the user's table.
    """
    if key not in LIST_KEYS:
        raise ValueError(f"not a list key: {key!r} (one of {', '.join(LIST_KEYS)})")
    current = read_lists(text, user, whole_file=whole_file, collection=collection)[key]
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
    if key not in _user_table(_parse(text), user, whole_file, collection):
        text = _insert_key(text, user, key, added[0], whole_file, collection)
        rest = added[1:]
    start = _value_start(text, user, key, whole_file, collection)
    for value in rest:  # each append changes the text after `start` only
        text = _append(text, start, value)
    new_text = _check(text, user, key, [*current, *added], whole_file, collection)
    return Edit(new_text, tuple(added), tuple(present))


def remove_values(
    text: str,
    user: str,
    key: str,
    values: Sequence[str],
    *,
    whole_file: bool = False,
    collection: str = "",
) -> Edit:
    """Remove values from one of the user's lists, whatever form they are given in.

    ``2401.01234``, ``arXiv:2401.01234v3`` and the abs URL remove the same saved paper;
    keywords, authors and muted words match without regard to case and accents. The key
    stays (``keywords = []``) when its last value goes.
    """
    if key not in LIST_KEYS:
        raise ValueError(f"not a list key: {key!r} (one of {', '.join(LIST_KEYS)})")
    current = read_lists(text, user, whole_file=whole_file, collection=collection)[key]
    wanted = {_match_key(key, v) for v in values}
    found = {_match_key(key, v) for v in current}
    missing = tuple(v for v in values if _match_key(key, v) not in found)
    doomed = [i for i, v in enumerate(current) if _match_key(key, v) in wanted]
    if not doomed:
        return Edit(text, (), missing)
    start = _value_start(text, user, key, whole_file, collection)
    for i in reversed(doomed):  # from the end, so earlier indices stay valid
        text = _delete(text, start, i)
    kept = [v for i, v in enumerate(current) if i not in set(doomed)]
    removed = tuple(current[i] for i in doomed)
    return Edit(_check(text, user, key, kept, whole_file, collection), removed, missing)


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
    text: str,
    user: str,
    operations: Sequence[Operation],
    *,
    whole_file: bool = False,
    collection: str = "",
) -> tuple[str, list[Change]]:
    """Apply (op, key, values) edits to a config file's text, in order; the new text and
    what happened to each value. ``whole_file``: the text is a users_dir file (the
    user's keys at its top level); `collection`: the edits are to that collection's lists.
    ValueError for an empty value."""
    changes: list[Change] = []
    for op, key, values in operations:
        if not values:
            continue
        if op == "add":
            edit = add_values(text, user, key, values, whole_file=whole_file, collection=collection)
            changes += [Change(key, "added", v) for v in edit.changed]
            changes += [Change(key, "already-present", v) for v in edit.unchanged]
        elif op == "remove":
            edit = remove_values(
                text, user, key, values, whole_file=whole_file, collection=collection
            )
            changes += [Change(key, "removed", v) for v in edit.changed]
            changes += [Change(key, "not-found", v) for v in edit.unchanged]
        else:
            raise ValueError(f"not an operation: {op!r} (add or remove)")
        text = edit.text
    return text, changes


def edit_profile(
    config: Config,
    user: str,
    operations: Sequence[Operation],
    *,
    snapshot: ConfigSnapshot | None = None,
    write: bool = True,
    attempts: int = 1,
    sleep: Callable[[float], None] = time.sleep,
    collection: str = "",
) -> ProfileEdit:
    """Apply `operations` to the user's lists in the file they live in, check, write.

    The file is config.toml or the user's users_dir file (:func:`user_file`); `snapshot`
    is that file as already read, if the caller has it. Under :func:`config_lock`, the
    edited text is validated as the loader would (a [[users]] edit: config.toml again; a
    users_dir file: that file, with config.toml's defaults) and written atomically with a
    ``.bak``, only if nobody changed the file meanwhile. Such a change (an editor's save)
    is retried on the new text up to `attempts` times (the web's clicks: neither change is
    lost), else raises ConcurrentEditError (the CLI: the person re-runs). ValueError for
    an empty value, UnknownPaperError for a bad id, ConfigError for an unknown user or
    collection, or an edit that would not load. `collection`: edit that collection's lists
    (issue #23; "": the user's top-level lists, their default collection).
    """
    path = user_file(config, user)
    whole_file = config.user(user).source is not None
    for attempt in range(1, max(attempts, 1) + 1):
        with config_lock(path):
            if attempt > 1 or snapshot is None or snapshot.path != path:
                snapshot = read_snapshot(path)
            text, changes = apply_operations(
                snapshot.text, user, operations, whole_file=whole_file, collection=collection
            )
            try:  # never write a file that would not load
                if whole_file:
                    parse_user_file(text, path, config)
                else:  # names do not change: the users_dir files need no second read;
                    # nor do schedules, which a list edit never touches
                    parse_config(text, path, read_users_dir=False, check_schedules=False)
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


def like(
    config: Config, user: str, ids: Sequence[str], *, attempts: int = 1, collection: str = ""
) -> ProfileEdit:
    """More like this: save the papers (any id form) and take them off the disliked, in
    the user's top-level lists or in one of their collections."""
    return edit_profile(
        config, user, like_operations(ids), attempts=attempts, collection=collection
    )


def dislike(
    config: Config, user: str, ids: Sequence[str], *, attempts: int = 1, collection: str = ""
) -> ProfileEdit:
    """Less like this: put the papers in ``disliked`` and take them off the saved (of the
    top-level lists, or of one collection)."""
    return edit_profile(
        config, user, dislike_operations(ids), attempts=attempts, collection=collection
    )
