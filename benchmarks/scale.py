"""Scale: many users' digests, delivered by 1 and 2 worker processes sharing PostgreSQL.

Setup: ``--papers`` real papers of the listings are stored in a new PostgreSQL database
(the last week's as listed, the candidates; the rest as known papers), the ranker's index
is built over them as the fetch job does, and each user gets 10-50 saved papers, drawn
from the curated lists and from single arXiv categories (benchmarks/speed.py's simulated
users), in a file of their own in a ``users_dir`` (one TOML file per user, as a large
deployment keeps them). The papers a run reads vectors of (the candidates, the saved
papers and the run's background sample) are encoded first, as the daemon would have
encoded every stored paper (``--no-embeddings``: rank on words alone). A local SMTP
server (aiosmtpd, as in the tests) receives the digests.

Each measurement starts ``W`` worker processes (spawned, as on separate machines: none
shares memory with another). Each loads the index once (timed apart: a queue worker keeps
it across tasks), then all start together and run the same digest run for the same users
(jobs.mailing.run.run_digests): the digest claims split the users between them, batch by
batch, and every digest is sent once. Reported: digests/s (wall clock), each worker's
peak RSS, the speed-up from 1 to W workers with the same users (the baseline, measured
in the same run), and that every digest arrived once with no paper twice.

Wall-clock figures depend on what else runs on the machine; the table prints the load
average at the start and the end.

Usage::

    python benchmarks/scale.py \\
        --listings ../shared/data/arxiv-listings-2025-03_2026-07.jsonl.gz \\
        --lists ../shared/data/dev-lists.json [--papers 75000] \\
        [--runs 1000x1,1000x2,10000x2,10000x1] [--no-embeddings] \\
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

``--runs``: users x worker processes, measured in this order; the speed-up is against
the first run with the same number of users.
"""

from __future__ import annotations

import argparse
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
from paperboy.jobs.ranking.corpus import load_corpus, refresh_index
from paperboy.jobs.ranking.evaluate import load_listings, load_lists
from paperboy.jobs.storage import Storage
from paperboy.recommender import Paper
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
    from paperboy.jobs.storage import text_hash
    from paperboy.recommender.encoder import encoder_text, load_encoder

    encoder = load_encoder(threads=1)
    with Storage.open(database) as storage:
        stored = storage.get_papers(ids)
        rows = [stored[i] for i in ids if i in stored]
        for start in range(0, len(rows), 64):
            part = rows[start : start + 64]
            vectors = encoder.encode([encoder_text(p.title, p.abstract) for p in part])
            storage.store_embeddings(
                encoder.model_id,
                [
                    (p.id, text_hash(p.title, p.abstract), v)
                    for p, v in zip(part, vectors, strict=True)
                ],
            )
    return len(rows)


def encode(database: str, ids: list[str], processes: int) -> None:
    """Encode `ids` over `processes` spawned processes (one ONNX thread each)."""
    context = multiprocessing.get_context("spawn")
    parts = [ids[i::processes] for i in range(processes)]
    with context.Pool(processes) as pool:
        pool.starmap(_encode_part, [(database, part) for part in parts])


def worker(config_path: str, barrier: Barrier, conn: Connection) -> None:
    """One worker process: load the index, wait for the others, run the digests."""
    from paperboy.jobs.mailing.run import run_digests

    config = load_config(Path(config_path))
    with Storage.open(config.database) as storage:
        started = time.perf_counter()
        load_corpus(config, storage)
        loaded = time.perf_counter() - started
        barrier.wait()
        started = time.perf_counter()
        results = run_digests(config, storage, now=NOW, workers=1)
        elapsed = time.perf_counter() - started
    statuses = Counter(r.status for r in results)
    conn.send((loaded, elapsed, dict(statuses), peak_rss_mb()))


def measure(config_path: Path, workers: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers + 1)
    pipes = [context.Pipe() for _ in range(workers)]
    procs = [
        context.Process(target=worker, args=(str(config_path), barrier, child))
        for _parent, child in pipes
    ]
    for p in procs:
        p.start()
    barrier.wait()
    started = time.perf_counter()
    reports = [parent.recv() for parent, _child in pipes]
    wall = time.perf_counter() - started
    for p in procs:
        p.join()
    sent = sum(r[2].get("sent", 0) for r in reports)
    return {
        "wall": wall,
        "sent": sent,
        "load": max(r[0] for r in reports),
        "rss": [r[3] for r in reports],
        "statuses": sum((Counter(r[2]) for r in reports), Counter()),
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
    parser.add_argument("--no-embeddings", action="store_true", help="rank on words alone")
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
                started = time.perf_counter()
                refresh_index(config, storage)
                indexed = time.perf_counter() - started
                needed = {p.id for p in load_corpus(config, storage).background}
            print(
                f"{len(papers)} papers stored in {stored:.0f} s ({len(papers) - first_new} "
                f"candidates, the week from {week_start}); index built in {indexed:.0f} s",
                flush=True,
            )
            if not args.no_embeddings:
                needed |= {p.id for p in papers[first_new:]}
                needed |= {papers[i].id for lib in libraries_all for i in lib}
                started = time.perf_counter()
                encode(database, sorted(needed), processes=os.cpu_count() or 1)
                print(
                    f"{len(needed)} papers encoded in {time.perf_counter() - started:.0f} s "
                    "(candidates, saved papers, the background)",
                    flush=True,
                )
            baselines: dict[int, float] = {}
            for n, w in runs:
                prefix = f"n{n}w{w}u"
                libraries = [[papers[i].id for i in lib] for lib in libraries_all[:n]]
                config_path = write_config(folder, database, smtp.port, prefix, libraries)
                before = len(smtp.messages)
                result = measure(config_path, w)
                time.sleep(0.5)
                got = smtp.messages[before:]
                pairs = Counter(
                    (str(m["To"]), line)
                    for m in got
                    for line in str(m.get_body(("plain",)).get_content()).splitlines()
                    if "arxiv.org/abs/" in line
                )
                del smtp.messages[before:]  # the sink's memory is not the workers'
                rate = result["sent"] / result["wall"]
                baseline = baselines.setdefault(n, rate)
                rows.append(
                    (
                        n,
                        w,
                        result["sent"],
                        len(got),
                        sum(1 for c in pairs.values() if c > 1),
                        result["wall"],
                        rate,
                        rate / baseline,
                        result["load"],
                        max(result["rss"]),
                    )
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
    for n, w, sent, received, twice, wall, rate, speedup, load, rss in rows:
        print(
            f"| {n} | {w} | {sent} | {received} | {twice} | {wall:.1f} | {rate:.1f} "
            f"| {speedup:.2f}x | {load:.1f} | {rss:.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
