"""Scale: many users' digests, delivered by 1 and 2 worker processes sharing PostgreSQL.

Setup: ``--papers`` real papers of the listings are stored in a new PostgreSQL database
(the last week's as listed, the candidates; the rest as known papers), the ranker's index
is built over them as the fetch job does, and each user gets 10-50 saved papers, drawn
from the curated lists and from single arXiv categories (benchmarks/speed.py's simulated
users), in a file of their own in a ``users_dir`` (one TOML file per user, as a large
deployment keeps them). The papers a run reads vectors of (the candidates, the saved
papers and the run's background sample) are encoded first, as the daemon would have
encoded every stored paper (``--no-embeddings``: rank on words alone); with
``--embeddings V.npz`` (benchmarks/embed_cache.py: every listing encoded once by the
shipped encoder) their vectors are stored from that file instead, the same float16
numbers the encoder would have stored, in seconds instead of 25 minutes. With
``--index-cache DIR`` the index built over the stored papers is kept in DIR, keyed by
their ids and text, the index format and the scikit-learn version, and a later run over
the same papers publishes that file as a new generation instead of building it again
(4.5 minutes at 75k papers). A local SMTP server (aiosmtpd, as in the tests) receives the
digests.

Each measurement starts ``W`` worker processes (spawned, as on separate machines: none
shares memory with another). Each loads the index once (timed apart: a queue worker keeps
it across tasks), then all start together and run the same digest run for the same users
(jobs.mailing.run.run_digests): the digest claims split the users between them, batch by
batch, and every digest is sent once. Reported: digests/s (wall clock), each worker's
peak RSS, the speed-up from 1 to W workers with the same users (the baseline, measured
in the same run), and that every digest arrived once with no paper twice. Per digest,
what a capacity plan needs (docs/scaling.md): the wall time per process, the CPU time of
the workers, of the database server's processes serving the run's database (read in
/proc: the server runs on this machine) and of the SMTP sink (this process), the SQL
statements the workers sent, the transactions the server counted (pg_stat_database) and
the mean message's size. CPU times hold better than wall times on a shared machine.

Wall-clock figures depend on what else runs on the machine; the table prints the load
average at the start and the end.

Usage::

    python benchmarks/scale.py \\
        --listings ../shared/data/arxiv-listings-2025-03_2026-07.jsonl.gz \\
        --lists ../shared/data/dev-lists.json [--papers 75000] \\
        [--runs 1000x1,1000x2,10000x2,10000x1] [--no-embeddings | --embeddings V.npz] \\
        [--index-cache DIR] [--profile PREFIX] \\
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

``--runs``: users x worker processes, measured in this order; the speed-up is against
the first run with the same number of users. ``--profile PREFIX``: each worker runs its
digests under cProfile and writes ``PREFIX.<users>x<workers>.w<i>.prof`` (read them with
``python -m pstats``); the wall times of a profiled run are not the table's.
``--per-user``: each worker runs one digest run per user, as a queue worker's task
digests one user (the broker and the task's own checks left out): what batching the
users saves.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import multiprocessing
import os
import resource
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.speed import simulated_users
from paperboy.jobs.config.load import load_config
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.ranking.corpus import (
    FORMAT,
    INDEX_MAX_PAPERS,
    IndexInfo,
    build_index,
    load_corpus,
    publish_index,
    read_index,
    write_index,
)
from paperboy.jobs.ranking.evaluate import load_listings, load_lists
from paperboy.jobs.storage import Storage, utcnow
from paperboy.recommender import Index, Paper
from tests.smtp_server import LocalSMTPServer

NOW = datetime(2026, 7, 2, 6, 0, tzinfo=UTC)


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def source_paper(p: Paper) -> SourcePaper:
    return SourcePaper(
        p.id,
        p.title,
        p.abstract,
        tuple(p.authors),
        tuple(p.categories),
        f"https://arxiv.org/abs/{p.id}",
        announced=p.announced,
    )


def write_config(
    folder: Path, database: str, port: int, prefix: str, libraries: list[list[str]]
) -> Path:
    """config.toml for one measurement, its users in users_dir, one file each."""
    users = folder / f"{prefix}users"
    users.mkdir()
    for i, saved in enumerate(libraries):
        (users / f"{prefix}{i}.toml").write_text(
            f"""name = "{prefix}{i}"
email = "{prefix}{i}@example.org"
timezone = "UTC"
send_at = "05:00"
max_papers = 10
saved = [{", ".join(f'"{pid}"' for pid in saved)}]
""",
            encoding="utf-8",
        )
    path = folder / f"{prefix}config.toml"
    path.write_text(
        f"""
[paperboy]
database = "{database}"
index = "{folder / "paperboy.index"}"
users_dir = "{users}"
workers = 1

[email]
from = "Paperboy <paperboy@example.org>"
transport = "smtp"
[email.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
""",
        encoding="utf-8",
    )
    return path


def _encode_part(database: str, ids: list[str]) -> int:
    from paperboy.recommender.encoder import encoder_text, load_encoder, text_hash

    encoder = load_encoder(threads=1)
    with Storage.open(database) as storage:
        stored = storage.get_papers(ids)
        rows = [stored[i] for i in ids if i in stored]
        for start in range(0, len(rows), 64):
            part = rows[start : start + 64]
            texts = [encoder_text(p.title, p.abstract) for p in part]
            vectors = encoder.encode(texts)
            storage.store_embeddings(
                encoder.model_id,
                [(p.id, text_hash(t), v) for p, t, v in zip(part, texts, vectors, strict=True)],
            )
    return len(rows)


def encode(database: str, ids: list[str], processes: int) -> None:
    """Encode `ids` over `processes` spawned processes (one ONNX thread each)."""
    context = multiprocessing.get_context("spawn")
    parts = [ids[i::processes] for i in range(processes)]
    with context.Pool(processes) as pool:
        pool.starmap(_encode_part, [(database, part) for part in parts])


def store_vectors(database: str, ids: Sequence[str], cache: Path) -> int:
    """Store the vectors of `ids` from `cache` (benchmarks/embed_cache.py) as the encoder
    would have: keyed by the hash of the stored paper's text, float16. SystemExit naming
    the papers when the file lacks some (it was made from other listings)."""
    from benchmarks.embed_cache import load_cache
    from paperboy.recommender.encoder import MODEL_ID, encoder_text, text_hash

    cache_ids, vectors = load_cache(cache)
    row = {pid: i for i, pid in enumerate(cache_ids)}
    missing = [pid for pid in ids if pid not in row]
    if missing:
        raise SystemExit(
            f"{cache}: no vector for {len(missing)} of the {len(ids)} papers needed "
            f"(e.g. {', '.join(missing[:3])}): made from other listings?"
        )
    stored = 0
    with Storage.open(database) as storage:
        for start in range(0, len(ids), 2000):
            papers = storage.get_papers(ids[start : start + 2000])
            stored += storage.store_embeddings(
                MODEL_ID,
                [
                    (p.id, text_hash(encoder_text(p.title, p.abstract)), vectors[row[p.id]])
                    for p in papers.values()
                ],
            )
    return stored


def index_key(storage: Storage) -> str:
    """What the index depends on: the papers it is built over (ids and text), the file
    format and the scikit-learn version."""
    import sklearn

    h = hashlib.sha256(f"{FORMAT} {sklearn.__version__}\n".encode())
    for p in sorted(storage.recent_papers(INDEX_MAX_PAPERS), key=lambda p: p.id):
        h.update(f"{p.id}\0{p.title}\0{p.abstract}\n".encode())
    return h.hexdigest()[:20]


def publish_cached_index(
    config_path: Path, storage: Storage, cache: Path | None
) -> tuple[float, bool]:
    """Build the index as the fetch job does and publish it (file + generation), or
    publish the one `cache` holds for the same papers. Returns (seconds, from the cache).

    A cached index is put in the order a fresh build has (rows as the database lists the
    papers), so the run's background sample, drawn from that order, is the same."""
    config = load_config(config_path)
    started = time.perf_counter()
    path = cache / f"scale-{index_key(storage)}.index" if cache is not None else None
    if path is not None and path.exists():
        cached, header = read_index(path)
        ids = tuple(p.id for p in storage.recent_papers(INDEX_MAX_PAPERS))
        rows = [cached.row_of[pid] for pid in ids]
        index = Index(
            featurizer=cached.featurizer,
            ids=ids,
            matrix=cached.matrix[rows],
            row_of={pid: i for i, pid in enumerate(ids)},
            doc_freq=cached.doc_freq,
        )
        info = IndexInfo(FORMAT, header.sklearn, utcnow(), len(index), 0.0, uuid.uuid4().hex)
        publish_index(config, storage, index, info)
        return time.perf_counter() - started, True
    index, info = build_index(storage)
    publish_index(config, storage, index, info)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_index(path, index, info)
    return time.perf_counter() - started, False


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of process `pid` so far (None: this process)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def server_cpu(conn: Any) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL process serving this database (the server
    runs on this machine: its processes are read in /proc)."""
    query = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    return {int(pid): cpu_seconds(int(pid)) for (pid,) in conn.execute(query)}


def worker(
    config_path: str,
    barrier: Barrier,
    conn: Connection,
    profile: str | None = None,
    per_user: bool = False,
) -> None:
    """One worker process: load the index, wait for the others, run the digests (with
    `per_user`, one run per user, as a queue worker's task digests one user).

    Reports its CPU time and the SQL statements it sent during the run, and the CPU time
    of the database's server processes at its end."""
    from sqlalchemy import event

    from paperboy.jobs.mailing.run import run_digests

    config = load_config(Path(config_path))
    statements = [0]

    def count(*_args: Any) -> None:
        statements[0] += 1

    with Storage.open(config.database) as storage:
        started = time.perf_counter()
        load_corpus(config, storage)
        loaded = time.perf_counter() - started
        event.listen(storage.engine, "before_cursor_execute", count)
        barrier.wait()
        profiler = cProfile.Profile() if profile else None
        started, cpu = time.perf_counter(), cpu_seconds()
        if profiler is not None:
            profiler.enable()
        if per_user:
            results = [
                result
                for user in config.users
                for result in run_digests(config, storage, users=[user.name], now=NOW, workers=1)
            ]
        else:
            results = run_digests(config, storage, now=NOW, workers=1)
        elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        if profiler is not None and profile:
            profiler.disable()
            profiler.dump_stats(profile)
        event.remove(storage.engine, "before_cursor_execute", count)
        with storage.engine.connect() as c:
            server = server_cpu(c) if c.dialect.name == "postgresql" else {}
    statuses = Counter(r.status for r in results)
    conn.send((loaded, elapsed, dict(statuses), peak_rss_mb(), cpu, statements[0], server))


def database_counters(database: str) -> dict[str, int]:
    """The database's transactions and rows so far (pg_stat_database)."""
    engine = create_engine(database)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT xact_commit, xact_rollback, tup_returned, tup_inserted, "
                    "tup_updated FROM pg_stat_database WHERE datname = current_database()"
                )
            ).one()
            return dict(row._mapping)
    finally:
        engine.dispose()


def measure(
    config_path: Path,
    database: str,
    workers: int,
    profile: str | None = None,
    per_user: bool = False,
) -> dict[str, Any]:
    """Run the digests with `workers` spawned processes; wall time, what each used, and
    what the database server and this process (the SMTP sink) used meanwhile."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers + 1)
    pipes = [context.Pipe() for _ in range(workers)]
    procs = [
        context.Process(
            target=worker,
            args=(
                str(config_path),
                barrier,
                child,
                f"{profile}.w{i}.prof" if profile else None,
                per_user,
            ),
        )
        for i, (_parent, child) in enumerate(pipes)
    ]
    for p in procs:
        p.start()
    engine = create_engine(database)
    with engine.connect() as conn:  # the workers' connections are open (the index loaded)
        counters = database_counters(database)
        server_before = server_cpu(conn)
        barrier.wait()
        started, sink = time.perf_counter(), cpu_seconds()
        reports = [parent.recv() for parent, _child in pipes]
        wall, sink = time.perf_counter() - started, cpu_seconds() - sink
    engine.dispose()
    for p in procs:
        p.join()
    time.sleep(1.0)  # the server's statistics of the workers' last transactions
    after = database_counters(database)
    server_after: dict[int, float] = {}
    for r in reports:
        for pid, seconds in r[6].items():
            server_after[pid] = max(server_after.get(pid, 0.0), seconds)
    sent = sum(r[2].get("sent", 0) for r in reports)
    return {
        "wall": wall,
        "sent": sent,
        "load": max(r[0] for r in reports),
        "rss": [r[3] for r in reports],
        "statuses": sum((Counter(r[2]) for r in reports), Counter()),
        "cpu": sum(r[4] for r in reports),
        "statements": sum(r[5] for r in reports),
        "server": sum(s - server_before.get(pid, 0.0) for pid, s in server_after.items()),
        "sink": sink,
        "transactions": sum(after[k] - counters[k] for k in ("xact_commit", "xact_rollback")),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listings", type=Path, required=True)
    parser.add_argument("--lists", type=Path, required=True)
    parser.add_argument("--papers", type=int, default=75_000)
    parser.add_argument(
        "--runs",
        default="1000x1,1000x2,10000x2,10000x1",
        help="users x worker processes, comma-separated, measured in this order",
    )
    vectors = parser.add_mutually_exclusive_group()
    vectors.add_argument("--no-embeddings", action="store_true", help="rank on words alone")
    vectors.add_argument(
        "--embeddings",
        type=Path,
        help="the listings' vectors (benchmarks/embed_cache.py): stored, not encoded",
    )
    parser.add_argument(
        "--index-cache", type=Path, help="a folder keeping the built index for later runs"
    )
    parser.add_argument("--profile", help="cProfile each worker into PREFIX.<run>.w<i>.prof")
    parser.add_argument(
        "--per-user",
        action="store_true",
        help="one digest run per user, as a queue worker's task (no broker)",
    )
    parser.add_argument(
        "--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args(argv)
    runs = [tuple(int(x) for x in run.split("x")) for run in args.runs.split(",")]
    user_counts = [n for n, _w in runs]
    load_start = os.getloadavg()

    papers = load_listings(args.listings)[-args.papers :]
    week_start = papers[-1].announced - timedelta(days=6) if papers[-1].announced else None
    first_new = next(
        i for i, p in enumerate(papers) if week_start and p.announced and p.announced >= week_start
    )
    libraries_all = simulated_users(
        papers, load_lists(args.lists), first_new, max(user_counts), seed=0
    )

    name = f"paperboy_scale_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.database, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    database = make_url(args.database).set(database=name).render_as_string(hide_password=False)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp, LocalSMTPServer() as smtp:
            folder = Path(tmp)
            setup = write_config(folder, database, smtp.port, "setup", [])
            config = load_config(setup)
            started = time.perf_counter()
            with Storage.open(database) as storage:
                known = [source_paper(p) for p in papers[:first_new]]
                for i in range(0, len(known), 5000):
                    storage.upsert_papers(known[i : i + 5000], source="arxiv", listed=False)
                storage.upsert_papers(
                    [source_paper(p) for p in papers[first_new:]], source="arxiv", listed=True
                )
                stored = time.perf_counter() - started
                indexed, cached = publish_cached_index(setup, storage, args.index_cache)
                needed = {p.id for p in load_corpus(config, storage).background}
            print(
                f"{len(papers)} papers stored in {stored:.0f} s ({len(papers) - first_new} "
                f"candidates, the week from {week_start}); index "
                f"{'from the cache' if cached else 'built'} in {indexed:.0f} s",
                flush=True,
            )
            if not args.no_embeddings:
                needed |= {p.id for p in papers[first_new:]}
                needed |= {papers[i].id for lib in libraries_all for i in lib}
                started = time.perf_counter()
                if args.embeddings is not None:
                    store_vectors(database, sorted(needed), args.embeddings)
                    how = f"stored from {args.embeddings}"
                else:
                    encode(database, sorted(needed), processes=os.cpu_count() or 1)
                    how = "encoded"
                print(
                    f"{len(needed)} papers {how} in {time.perf_counter() - started:.0f} s "
                    "(candidates, saved papers, the background)",
                    flush=True,
                )
            baselines: dict[int, float] = {}
            for n, w in runs:
                prefix = f"n{n}w{w}u"
                libraries = [[papers[i].id for i in lib] for lib in libraries_all[:n]]
                config_path = write_config(folder, database, smtp.port, prefix, libraries)
                before = len(smtp.messages)
                result = measure(
                    config_path,
                    database,
                    w,
                    f"{args.profile}.{n}x{w}" if args.profile else None,
                    args.per_user,
                )
                time.sleep(0.5)
                got = smtp.messages[before:]
                pairs = Counter(
                    (str(m["To"]), line)
                    for m in got
                    for line in str(m.get_body(("plain",)).get_content()).splitlines()
                    if "arxiv.org/abs/" in line
                )
                size = sum(len(m.as_bytes()) for m in got) / max(len(got), 1)
                del smtp.messages[before:]  # the sink's memory is not the workers'
                rate = result["sent"] / result["wall"]
                baseline = baselines.setdefault(n, rate)
                digests = max(result["sent"], 1)
                rows.append(
                    {
                        "n": n,
                        "w": w,
                        "sent": result["sent"],
                        "received": len(got),
                        "twice": sum(1 for c in pairs.values() if c > 1),
                        "wall": result["wall"],
                        "rate": rate,
                        "speedup": rate / baseline,
                        "load": result["load"],
                        "rss": result["rss"],
                        "ms": 1000 * result["wall"] * w / digests,
                        "cpu_ms": 1000 * result["cpu"] / digests,
                        "server_ms": 1000 * result["server"] / digests,
                        "sink_ms": 1000 * result["sink"] / digests,
                        "statements": result["statements"] / digests,
                        "transactions": result["transactions"] / digests,
                        "kb": size / 1024,
                    }
                )
                print(f"  {rows[-1]}  {dict(result['statuses'])}", flush=True)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    print()
    print(
        f"cores: {os.cpu_count()}, load average at start {load_start[0]:.1f}, "
        f"at end {os.getloadavg()[0]:.1f}"
    )
    header = (
        "| users | workers | digests sent | received | (user, paper) twice | wall s "
        "| digests/s | speed-up | index load s | peak RSS/worker MB |"
    )
    print(header)
    print("|" + "---|" * 10)
    for r in rows:
        print(
            f"| {r['n']} | {r['w']} | {r['sent']} | {r['received']} | {r['twice']} "
            f"| {r['wall']:.1f} | {r['rate']:.1f} | {r['speedup']:.2f}x | {r['load']:.1f} "
            f"| {', '.join(f'{m:.0f}' for m in r['rss'])} |"
        )
    print()
    print("Per digest (ms: wall x workers / digests; CPU: the workers', the database")
    print("server's processes for this database, the SMTP sink's; SQL: statements the")
    print("workers sent, transactions the server counted; the mean message's size):")
    print()
    print(
        "| users | workers | ms a digest per process | worker CPU ms | database CPU ms "
        "| SMTP sink CPU ms | SQL statements | transactions | message KB |"
    )
    print("|" + "---|" * 9)
    for r in rows:
        print(
            f"| {r['n']} | {r['w']} | {r['ms']:.0f} | {r['cpu_ms']:.0f} | {r['server_ms']:.1f} "
            f"| {r['sink_ms']:.1f} | {r['statements']:.1f} | {r['transactions']:.1f} "
            f"| {r['kb']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
