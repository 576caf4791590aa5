"""Write a config file safely: to a temporary file in the same folder, fsync, a backup of
the previous file (``config.toml.bak``), then ``os.replace``; and only if nobody changed the
file in between (a hand edit in an editor is never lost).

    read_snapshot(path)            the text, with its hash and mtime
    ... the caller edits the text ...
    write_config(snapshot, text)
      temporary file beside it, fsync         (crash: a stray .tmp; the file is intact)
      unchanged since the snapshot?           else ConcurrentEditError, nothing written
      .bak of the previous text, os.replace   (crash: the old file, maybe a new .bak)
      unchanged still?  os.replace the file   (crash before: the old file; after: the new)
      fsync the folder

:func:`config_lock` makes two Paperboy processes (the CLI and ``paperboy serve``) take
turns on one folder's files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from paperboy.jobs.core.errors import ConfigError, PaperboyError

__all__ = [
    "ConcurrentEditError",
    "ConfigSnapshot",
    "backup_path",
    "config_lock",
    "read_snapshot",
    "write_config",
]


class ConcurrentEditError(PaperboyError):
    """config.toml changed on disk between reading it and writing the edit."""


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
