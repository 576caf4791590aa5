"""The stored corpus index: features of the stored papers, built once per fetch.

Ranking a user must cost milliseconds, so the part of the ranker that depends only on the
corpus (vocabulary, idf weights, every stored paper's TF-IDF and LSA rows:
:class:`recommender.Index`) is built after each fetch that stored something, written to
one file atomically, and loaded once by each digest run for all its users::

    fetch  -> refresh_index(config, storage)     # Index.build over the newest papers
    digest -> corpus = load_corpus(config)       # the index + one shared background
              rank(profile, candidates, corpus.background, index=corpus.index)

The file, next to the config by default (``[paperboy] index``), is data only, never a
pickle (it may come from another machine through the database: loading it must not run
code)::

    paperboy-index\n                      MAGIC
    {"format": 5, "build_id": ...}\n      the header (IndexInfo), one JSON line
    <npz>                                 Index.to_arrays(), by np.savez; read back with
                                          np.load(allow_pickle=False), each member's CRC checked
    \npaperboy-index-end <16 hex>\n       TRAILER: the npz's length; a file without it at its
                                          end was cut short (a full disk, an interrupted copy)

It is written to a temporary file in the same folder, fsynced and renamed over the old one,
so a crash or ``kill -9`` while writing leaves the previous index whole. A file that is
missing, damaged, from another format or from another scikit-learn version is not an
error: the digest logs why and ranks each user with features fitted on the spot (slower,
same quality), and the next fetch replaces the file. A file of Paperboy 4 and earlier (a
pickle, known by its first byte) is reported as written by an older Paperboy, never
unpickled.

Each build is recorded in the database as a *generation* (Storage.record_index_generation):
a number that only grows, and the build id also written in the file's header. Before a
digest, :func:`load_corpus` asks the database for the newest generation (one small query)
and reloads when it changed. Workers on several machines either share the index path (a
network folder), or, with ``[paperboy] index_store = "database"``, find the file's bytes
in the database and copy the newest generation to their own path once. A machine that
can read neither ranks with the newest generation it has, and says so.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import io
import json
import logging
import os
import random
import re
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from paperboy import recommender
from paperboy.jobs.config.model import Config
from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.storage import IndexGeneration, Storage, StoredPaper, utcnow

__all__ = [
    "BACKGROUND_SIZE",
    "FORMAT",
    "INDEX_MAX_PAPERS",
    "Corpus",
    "IndexInfo",
    "background_for",
    "build_index",
    "index_after_fetch",
    "load_corpus",
    "publish_index",
    "read_index",
    "read_info",
    "refresh_index",
    "to_paper",
    "write_index",
]

log = logging.getLogger(__name__)

FORMAT = 5  # bump when the file's layout changes: older files are then rebuilt
MAGIC = b"paperboy-index\n"  # the first bytes of every file of format 5 and later
HEADER_MAX = 64 << 10  # the header line's longest (it is a few hundred bytes)
# Written after the arrays, with their length: a file without it at its end was cut short
# (a full disk, a copy interrupted), which the cheap header check then catches.
TRAILER = re.compile(rb"\npaperboy-index-end ([0-9a-f]{16})\n")
TRAILER_SIZE = len(b"\npaperboy-index-end 0123456789abcdef\n")
# Formats 1-4 were pickles (protocol 2 or later: a PROTO opcode first). Recognised by this
# byte alone, and never unpickled: unpickling runs whatever the file's writer put in it.
PICKLE_START = b"\x80"
INDEX_MAX_PAPERS = 100_000  # the newest stored papers indexed (75k is ~16 months of cs.*)
FRESH = timedelta(days=30)  # the background is drawn from papers listed before this
STALE_TMP_SECONDS = 3600.0  # a temporary index file older than this is a killed write's
# Stored papers used as every user's negatives in one digest run: the replay benchmark's
# size. Fewer are faster and worse (full replay: 2,000 -> 0.585, 5,000 -> 0.594).
BACKGROUND_SIZE = 5000


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """The header of an index file: what it holds and what wrote it."""

    format: int
    sklearn: str
    built_at: datetime
    papers: int
    seconds: float  # how long the build took
    build_id: str = ""  # recorded with the generation in the database (format 4)

    def as_dict(self) -> dict[str, Any]:
        return {
            "build_id": self.build_id,
            "format": self.format,
            "sklearn": self.sklearn,
            "built_at": self.built_at.isoformat(),
            "papers": self.papers,
            "seconds": round(self.seconds, 1),
        }


@dataclass(frozen=True, slots=True)
class Corpus:
    """What one digest run shares between its users: the index and one background sample."""

    index: recommender.Index | None
    background: tuple[recommender.Paper, ...]


def _sklearn_version() -> str:
    """The installed scikit-learn's version, without importing it (seconds of start-up that
    `paperboy status` does not need): the stored index is only usable with the same one."""
    loaded = sys.modules.get("sklearn")
    if loaded is not None:
        return str(loaded.__version__)
    return importlib.metadata.version("scikit-learn")


def to_paper(p: StoredPaper) -> recommender.Paper:
    return recommender.Paper(
        id=p.id,
        title=p.title,
        abstract=p.abstract,
        authors=p.authors,
        categories=p.categories,
        announced=p.announced,
    )


def build_index(
    storage: Storage,
    *,
    limit: int = INDEX_MAX_PAPERS,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[recommender.Index, IndexInfo]:
    """Fit the ranker's corpus features on the newest `limit` stored papers.

    ``progress(step, BUILD_STEPS)`` after reading the papers and after fitting (writing
    the file is the caller's last step)."""
    started = time.perf_counter()
    papers = [to_paper(p) for p in storage.recent_papers(limit)]
    if progress is not None:
        progress(1, BUILD_STEPS)
    index = recommender.Index.build(papers)
    if progress is not None:
        progress(2, BUILD_STEPS)
    info = IndexInfo(
        format=FORMAT,
        sklearn=_sklearn_version(),
        built_at=now or utcnow(),
        papers=len(index),
        seconds=time.perf_counter() - started,
        build_id=uuid.uuid4().hex,
    )
    return index, info


def publish_index(
    config: Config, storage: Storage, index: recommender.Index, info: IndexInfo
) -> IndexGeneration:
    """Write the index file and record it as the newest generation (with its bytes, when
    ``index_store = "database"``). StorageError when either fails; a file written but not
    recorded is still used on this machine, and replaced by the next build."""
    write_index(config.index, index, info)
    generation = storage.record_index_generation(
        build_id=info.build_id,
        built_at=info.built_at,
        papers=info.papers,
        path=config.index,
        builder=f"{socket.gethostname()}:{os.getpid()}",
        store=config.index_store == "database",
    )
    log.info(
        "index generation %d: %d papers%s",
        generation.generation,
        generation.papers,
        " (stored in the database)" if generation.stored else "",
    )
    return generation


def write_index(path: Path, index: recommender.Index, info: IndexInfo) -> None:
    """Write header + index to `path` atomically (temporary file, fsync, rename).

    Raises StorageError (and leaves any previous file as it was) when it cannot.
    """

    import numpy as np  # here: `paperboy status` reads headers only, and starts faster

    header = {**info.as_dict(), "seconds": info.seconds}  # as_dict rounds it

    def write(f: BinaryIO) -> None:
        f.write(MAGIC)
        f.write(json.dumps(header).encode() + b"\n")
        start = f.tell()
        np.savez(f, allow_pickle=False, **index.to_arrays())
        f.seek(0, os.SEEK_END)
        f.write(b"\npaperboy-index-end %016x\n" % (f.tell() - start))

    _write_atomically(path, write)


def _write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """`write` into a temporary file beside `path`, fsync it, rename it over `path`: a
    crash leaves the previous file whole. StorageError (with the file's name) for I/O
    errors, and for a StorageError `write` raises; the temporary file is gone."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(path)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise StorageError(f"cannot write the index {path}: {e}") from e
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise StorageError(f"cannot write the index {path}: {e}") from e
        raise


def _remove_leftovers(path: Path, *, older_than: float = STALE_TMP_SECONDS) -> None:
    """Delete temporary files of writes that were killed (they can be as big as the index).

    Only those untouched for a while: a younger one may belong to a write in progress.
    """
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if time.time() - leftover.stat().st_mtime > older_than:
                leftover.unlink()
        except OSError:
            pass


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read(path: Path, *, header_only: bool) -> tuple[IndexInfo, recommender.Index | None]:
    """The header (and the index) of `path`; StorageError saying why it is unusable.

    Nothing in the file is ever unpickled: the header is JSON, the index numpy arrays of
    numbers loaded with ``allow_pickle=False`` and checked by Index.from_arrays."""
    try:
        with path.open("rb") as f:
            info = _read_header(f, path)
            body = f.tell()
            end = f.seek(0, os.SEEK_END) - TRAILER_SIZE
            f.seek(max(end, 0))
            trailer = TRAILER.fullmatch(f.read())
            if end < body or trailer is None or int(trailer[1], 16) != end - body:
                raise StorageError(f"{path} is damaged (cut short)")
            if header_only:
                return info, None
            f.seek(body)
            data = f.read(end - body)
        import numpy as np  # here: `paperboy status` reads headers only, and starts faster

        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            index = recommender.Index.from_arrays({name: arrays[name] for name in arrays.files})
    except FileNotFoundError as e:
        raise StorageError(f"{path}: no index yet (the next fetch builds it)") from e
    except StorageError:
        raise
    except Exception as e:  # damaged: a bad CRC, an array missing or that does not fit
        raise StorageError(f"{path} is damaged ({type(e).__name__}: {e})") from e
    return info, index


def _read_header(f: BinaryIO, path: Path) -> IndexInfo:
    """The header after MAGIC, leaving `f` at the arrays; StorageError when the file is of
    another format (an older Paperboy's pickle, another format number) or not an index."""
    start = f.read(len(MAGIC))
    if start != MAGIC:
        raise StorageError(_not_an_index(path, start))
    line = f.readline(HEADER_MAX)
    try:
        header = json.loads(line) if line.endswith(b"\n") else None
        if not isinstance(header, dict):
            raise ValueError("not a JSON object on one line")
        if header.get("format") != FORMAT:
            raise StorageError(f"{path} has index format {header.get('format')}, not {FORMAT}")
        info = IndexInfo(
            format=FORMAT,
            sklearn=_typed(header, "sklearn", str),
            built_at=datetime.fromisoformat(_typed(header, "built_at", str)),
            papers=_typed(header, "papers", int),
            seconds=float(_typed(header, "seconds", int | float)),
            build_id=_typed(header, "build_id", str),
        )
    except StorageError:
        raise
    except (ValueError, RecursionError) as e:
        raise StorageError(f"{path} is damaged (its header: {e})") from e
    if info.sklearn != _sklearn_version():
        raise StorageError(
            f"{path} was built with scikit-learn {info.sklearn}, this is {_sklearn_version()}"
        )
    return info


def _typed(header: dict[str, Any], key: str, kind: Any) -> Any:
    value = header.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{key} is {value!r}")
    return value


def _not_an_index(path: Path | str, start: bytes) -> str:
    """Why a file (or database copy) beginning with `start` is not read."""
    if start.startswith(PICKLE_START):
        return (
            f"{path} was written by an older Paperboy (a pickle, which this version never "
            "loads); the next fetch or `paperboy index` rebuilds it"
        )
    return f"{path} is not a Paperboy index"


def read_info(path: Path) -> IndexInfo:
    """The header of the index file at `path` (cheap); StorageError if unusable."""
    return _read(path, header_only=True)[0]


def read_index(path: Path) -> tuple[recommender.Index, IndexInfo]:
    """Load the index file at `path`; StorageError saying why when it cannot be used."""
    info, index = _read(path, header_only=False)
    assert index is not None
    return index, info


BUILD_STEPS = 3  # read the papers, fit the features, write the file


def refresh_index(
    config: Config, storage: Storage, *, progress: Callable[[int, int], None] | None = None
) -> IndexInfo | None:
    """Rebuild and store the index after a fetch; None (logged) if there is nothing to index.

    A failure to write is logged and returned as None: the papers are stored already, and
    the digest falls back to per-user features until the next fetch succeeds.
    """
    if storage.count_papers() == 0:
        return None
    index, info = build_index(storage, progress=progress)
    try:
        publish_index(config, storage, index, info)
    except StorageError as e:
        log.error("%s", e)
        return None
    if progress is not None:
        progress(BUILD_STEPS, BUILD_STEPS)
    log.info("index of %d papers built in %.1f s: %s", info.papers, info.seconds, config.index)
    return info


# The corpus last loaded, keyed by the index file's identity: a digest run (or the daemon,
# whose every user is a job of its own) loads a 75k-paper index once, not once per user.
_cache: dict[str, tuple[tuple[object, ...], Corpus]] = {}
_cache_lock = threading.Lock()


def _stamp(path: Path, database: str) -> tuple[object, ...]:
    try:
        st = path.stat()
    except OSError:
        return (database, None)
    return (database, st.st_ino, st.st_size, st.st_mtime_ns)


def load_corpus(
    config: Config,
    storage: Storage,
    *,
    background_size: int = BACKGROUND_SIZE,
    seed: int = 0,
    now: datetime | None = None,
) -> Corpus:
    """The stored index and one background sample, shared by every user of a run.

    Loaded once per index generation: each call asks the database for the newest one and
    reuses what is in memory until it changes (or the file is replaced). A newer
    generation that is only in the database is copied to this machine's index path first.
    When the file is unusable the index is None, with a warning, and each ranking fits
    its own features. The background is drawn with a fixed seed; each user's own saved
    and candidate papers are taken out of it before ranking.
    """
    key = str(config.index)
    newest = _newest_generation(storage)
    with _cache_lock:
        cached = _cache.get(key)
        stamp = (newest.build_id if newest else None, *_stamp(config.index, config.database))
        if cached is not None and cached[0] == stamp:
            return cached[1]
        if newest is not None:
            _fetch_generation(config, storage, newest)
            stamp = (newest.build_id, *_stamp(config.index, config.database))
        corpus = _load_corpus(config, storage, background_size, seed, now or utcnow())
        _cache.clear()  # one corpus in memory at a time
        if corpus.index is not None:  # without one, sampling is cheap and stays current
            _cache[key] = (stamp, corpus)
        return corpus


def _newest_generation(storage: Storage) -> IndexGeneration | None:
    try:
        return storage.newest_index_generation()
    except StorageError as e:  # the digest can still rank with the file it has
        log.warning("cannot read the index generation: %s", e)
        return None


def _fetch_generation(config: Config, storage: Storage, newest: IndexGeneration) -> None:
    """Make `newest` this machine's index file if it is not yet: copy its bytes from the
    database, checked against the recorded size and sha256, written atomically. Logs (and
    keeps the file it has) when the newest generation is neither here nor in the
    database: the ranking then uses the newest generation this machine can read."""
    try:
        have = read_info(config.index).build_id
    except StorageError:
        have = None
    if have == newest.build_id:
        return
    if not newest.stored:
        held = storage.index_generation(have) if have else None
        log.warning(
            "index generation %d is not readable here (%s%s); set index_store = "
            '"database" or share the index path between machines',
            newest.generation,
            config.index,
            f" holds generation {held.generation}" if held else " holds no recorded one",
        )
        return
    with _machine_lock(config.index):
        try:  # another process of this machine may have fetched it meanwhile
            if read_info(config.index).build_id == newest.build_id:
                return
        except StorageError:
            pass
        try:
            _copy_from_database(config.index, storage, newest)
        except StorageError as e:
            log.warning("%s; keeping the index this machine has", e)
            return
    log.info("index generation %d copied from the database to %s", newest.generation, config.index)


def _copy_from_database(path: Path, storage: Storage, newest: IndexGeneration) -> None:
    def write(f: BinaryIO) -> None:
        digest = hashlib.sha256()
        size = 0
        for chunk in storage.read_index_chunks(newest.generation):
            if size == 0 and not chunk.startswith(MAGIC):  # nothing to read: keep ours
                raise StorageError(
                    _not_an_index(f"index generation {newest.generation} in the database", chunk)
                )
            digest.update(chunk)
            size += len(chunk)
            f.write(chunk)
        if (size, digest.hexdigest()) != (newest.size, newest.sha256):
            raise StorageError(
                f"index generation {newest.generation} in the database is damaged "
                f"({size} bytes, sha256 {digest.hexdigest()[:12]}…; recorded {newest.size}, "
                f"{newest.sha256[:12]}…)"
            )

    _write_atomically(path, write)


@contextmanager
def _machine_lock(path: Path) -> Iterator[None]:
    """One process of this machine copies a generation; the others wait for it."""
    lock_path = path.with_name(f".{path.name}.lock")
    try:
        handle = lock_path.open("a")
    except OSError:  # a read-only folder: copying would fail anyway, and say why
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _load_corpus(
    config: Config, storage: Storage, background_size: int, seed: int, now: datetime
) -> Corpus:
    index: recommender.Index | None = None
    try:
        index, _ = read_index(config.index)
    except StorageError as e:
        log.warning("%s; ranking without a stored index (slower)", e)
    if index is not None and len(index) > 0:
        # Not the papers of the last weeks: they are (or were) someone's candidates, which
        # each user's ranking would have to take out of the background again, making it a
        # different request for every user instead of one the index serves from memory.
        fresh = storage.listed_ids(after=now - FRESH)
        pool = [i for i in index.ids if i not in fresh]
        if len(pool) < background_size:
            pool = list(index.ids)
        ids = random.Random(seed).sample(pool, min(background_size, len(pool)))
        stored = storage.get_papers(ids)
        background = tuple(to_paper(stored[i]) for i in ids if i in stored)
    else:
        background = tuple(
            to_paper(p) for p in storage.sample_papers(background_size, exclude=set(), seed=seed)
        )
    return Corpus(index=index, background=background)


def background_for(corpus: Corpus, exclude: set[str]) -> list[recommender.Paper]:
    """The shared background without the papers in `exclude` (a run's candidates)."""
    return [p for p in corpus.background if p.id not in exclude]


def index_after_fetch(
    config: Config,
    storage: Storage,
    *,
    changed: bool,
    progress: Callable[[int, int], None] | None = None,
) -> IndexInfo | None:
    """Rebuild the index when a fetch stored something, or when there is no usable one.

    Returns the new index's header, or None when the stored one is still current (or
    nothing could be built: see :func:`refresh_index`).
    """
    if not changed:
        try:  # all of it: damage inside the arrays is not seen in the header and trailer
            read_index(config.index)
            return None
        except StorageError:
            pass  # missing, damaged or stale: build it now
    return refresh_index(config, storage, progress=progress)
