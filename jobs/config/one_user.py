"""config.toml and one user, as they are now: what a request of the feedback pages reads
(issue #20 item 2).

A link names one user. Loading every users_dir file for it would cost seconds at 10,000
users (mail scanners follow every link of every digest), and a problem in any other
user's file would refuse this user's page. :class:`UserLookup` reads config.toml (again
only when it changed) and the one file the user lives in, found through a small index of
users_dir: file name -> (mtime_ns, size, inode, the user name it holds).

    UserLookup(path, seed)             seed: the Config loaded at start (no file read again)
      load(name) -> (Config, UserConfig) | None
        config.toml                    re-parsed when its stamp changed; its own [[users]]
                                       only (ConfigError: as the loader says)
        in config.toml's [[users]]     -> that user
        the index                      rebuilt when the folder's mtime changed: one scan,
                                       only new or changed files read (for their name); a
                                       name not found, or a file that no longer holds its
                                       name (edited in place), rescans once
        the user's file                read and checked like the loader does (ConfigError:
                                       this file's problems only)
      The Config returned holds config.toml's users and this one: enough for
      jobs.config.lists.edit_profile and for rendering, and the same object for both.

A duplicate name (two files, or a file and config.toml) is a ConfigError for that name
only. A file broken so that its name cannot be read is indexed under its file stem. The
daemon's full load (jobs.config.load) still checks every file; this is a reader, not a
checker. Thread-safe: one lock around the caches.
"""

from __future__ import annotations

import logging
import os
import threading
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from stat import S_ISREG

from paperboy.jobs.config import users as _users
from paperboy.jobs.config.load import parse_config
from paperboy.jobs.config.model import Config, UserConfig
from paperboy.jobs.core.errors import ConfigError

__all__ = ["UserLookup"]

log = logging.getLogger(__name__)

Stamp = tuple[int, int, int]  # (mtime_ns, size, inode)


@dataclass(frozen=True, slots=True)
class _Entry:
    stamp: Stamp
    name: str  # the user the file holds (its stem when the file cannot be read)


def _stamp(path: Path) -> Stamp | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _name_in(path: Path) -> str:
    """The user name a users_dir file holds: its `name`, else its stem (also when the
    file cannot be read or parsed: its problems are reported when it is loaded)."""
    stem = path.name.removesuffix(".toml")
    try:
        data = tomllib.loads(_users._read_user_file(path))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return stem
    name = data.get("name", stem)
    return name if isinstance(name, str) else stem


class UserLookup:
    """Loads config.toml and one user per call; see the module's docstring."""

    def __init__(self, path: Path, seed: Config | None = None) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._main: tuple[Stamp, Config] | None = None
        self._files: dict[str, _Entry] = {}
        self._folder_stamp: int | None = None  # the folder's mtime_ns when last scanned
        self._folder: Path | None = None
        if seed is not None and seed.users_dir is not None:
            self._folder = seed.users_dir
            for user in seed.users:
                stamp = seed.user_file_stamps.get(user.source.name) if user.source else None
                if user.source is not None and stamp is not None:
                    self._files[user.source.name] = _Entry(stamp, user.name)

    def load(self, name: str) -> tuple[Config, UserConfig] | None:
        """config.toml and the user called `name`; None if there is no such user.
        ConfigError if config.toml, or this user's file, does not load."""
        with self._lock:
            main = self._main_config()
            own = [u for u in main.users if u.name == name]
            folder = main.users_dir
            if folder is None:
                return (main, own[0]) if own else None
            if folder != self._folder:  # users_dir changed in config.toml
                self._folder, self._files, self._folder_stamp = folder, {}, None
            for attempt in range(2):
                last = attempt == 1
                self._scan(folder, force=last)
                files = sorted(f for f, e in self._files.items() if e.name == name)
                if own and not files:
                    return main, own[0]
                if len(own) + len(files) > 1:
                    if not last:
                        continue  # perhaps a stale index: look again
                    where = ", ".join(
                        [str(self.path)] * len(own) + [str(folder / f) for f in files]
                    )
                    raise ConfigError(f"duplicate user name {name!r} (in {where})")
                if not files:
                    continue  # perhaps added within the folder's mtime tick: look again
                user = self._read(main, folder / files[0], name)
                if user is not None:
                    return replace(main, users=(*main.users, user)), user
            return None

    def _main_config(self) -> Config:
        """config.toml without the users_dir files, parsed again only when it changed."""
        stamp = _stamp(self.path)
        if stamp is not None and self._main is not None and self._main[0] == stamp:
            return self._main[1]
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{self.path}: cannot read config file: {e}") from e
        config = parse_config(text, self.path, read_users_dir=False)
        self._main = (stamp, config) if stamp is not None else None
        return config

    def _read(self, main: Config, path: Path, name: str) -> UserConfig | None:
        """The user in `path`, checked; None if the file no longer holds `name` (the index
        is then stale: the caller rescans)."""
        stamp = _stamp(path)
        problems, user = _users._user_file(
            path, main.timezone, main.email, base=path.parent.resolve()
        )
        if stamp is None or (user is not None and user.name != name):
            self._files.pop(path.name, None)  # gone, or renamed inside: rescan
            return None
        problems.raise_if_any()
        assert user is not None  # no problems means a user
        self._files[path.name] = _Entry(stamp, name)
        return user

    def _scan(self, folder: Path, *, force: bool) -> None:
        """Bring the index up to date if the folder changed (or `force`): one scandir with a
        stat per entry; only files new or changed since they were indexed are read."""
        try:
            folder_stamp = folder.stat().st_mtime_ns
        except OSError as e:
            raise ConfigError(f"paperboy.users_dir: cannot read {str(folder)!r}: {e}") from e
        if not force and folder_stamp == self._folder_stamp:
            return
        itself = self.path.name if folder.resolve() == self.path.resolve().parent else None
        files: dict[str, _Entry] = {}
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if not _users._is_user_file_name(entry.name) or entry.name == itself:
                        continue
                    try:
                        st = entry.stat()
                    except OSError:  # removed while we looked
                        continue
                    if not S_ISREG(st.st_mode):
                        continue
                    stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
                    known = self._files.get(entry.name)
                    if known is not None and known.stamp == stamp:
                        files[entry.name] = known
                    else:
                        files[entry.name] = _Entry(stamp, _name_in(folder / entry.name))
        except OSError as e:
            raise ConfigError(f"paperboy.users_dir: cannot list {str(folder)!r}: {e}") from e
        self._files = files
        self._folder_stamp = folder_stamp
        log.debug("users_dir index: %d files", len(files))
