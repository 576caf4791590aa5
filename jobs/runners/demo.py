"""`paperboy demo`: the whole pipeline offline, on the sample listing bundled with the package.

copy the sample config.toml into DIR (database and outbox live beside it)
fetch:  each bundled arXiv RSS day -> the real RSS parser -> a fresh SQLite database
lookup: the sample user's saved papers (bundled, as the arXiv API would return them)
vectors: the sample's vectors, bundled (sample/vectors.npz, written by the shipped encoder
        with `python -m paperboy.jobs.runners.demo --write-vectors`): stored for each
        paper whose text is the one they were computed from; any other paper is encoded
        as a fetch would (14 s of the demo's 16 s before they were bundled)
digest: rank -> render -> the outbox (.eml + .html preview)
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from datetime import date, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from paperboy.jobs.config.load import load_config
from paperboy.jobs.config.model import Config
from paperboy.jobs.config.starter import DATA, starter_config
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.fetch.listings import (
    ARXIV_SOURCE,
    HF_SOURCE,
    LOOKUP_SOURCE,
    SourceReport,
    ingest_feed,
    ingest_trending,
)
from paperboy.jobs.fetch.paperfiles import read_jsonl
from paperboy.jobs.fetch.sources.arxiv_rss import parse_arxiv_rss
from paperboy.jobs.fetch.sources.huggingface import parse_hf_daily
from paperboy.jobs.mailing.run import DigestResult, run_digests
from paperboy.jobs.mailing.send import make_transport
from paperboy.jobs.ranking.corpus import refresh_index
from paperboy.jobs.ranking.encoding import encode_stored
from paperboy.jobs.storage import Storage, UpsertResult, utcnow
from paperboy.jobs.web.links import write_key_file

DEMO_BASE_URL = "http://127.0.0.1:8080"  # the default [web] listen of `paperboy serve`
VECTORS_FILE = "vectors.npz"  # in sample_dir(): the sample's vectors, by the shipped encoder


def sample_dir() -> Traversable:
    return DATA / "sample"


@dataclass(frozen=True, slots=True)
class DemoResult:
    directory: Path
    config: Config
    fetched: tuple[SourceReport, ...]
    saved: int
    digests: tuple[DigestResult, ...]
    eml: Path | None
    html: Path | None
    trending: SourceReport | None = None  # the bundled Hugging Face day


# The demo's config is the starter config with the unsubscribe address switched on, so the
# demo's digest shows every part of a real one (List-Unsubscribe header and footer).
_UNSUBSCRIBE_COMMENTED = '# unsubscribe = ["mailto:paperboy@example.org?subject=unsubscribe"]'


def demo_config() -> str:
    """The config.toml the demo runs on: the starter config, unsubscribe address set, and
    links pointing at a local `paperboy serve` (issue #14), so the whole loop can be
    clicked through offline: digest -> page -> changed profile."""
    return (
        starter_config()
        .replace(_UNSUBSCRIBE_COMMENTED, _UNSUBSCRIBE_COMMENTED[2:], 1)
        .replace('# base_url = "https://paperboy.example.org"', f'base_url = "{DEMO_BASE_URL}"', 1)
    )


def ingest_sample_trending(storage: Storage, today: date) -> SourceReport | None:
    """Store the bundled Hugging Face day as `today`'s trending list.

    The file is a real daily papers answer (2026-06-12); no real day of it overlaps the
    bundled arXiv days, so the demo files its ranking under the demo's own day: the
    "Trending on Hugging Face" section then shows as it does in a real digest.
    """
    files = sorted(
        (f for f in sample_dir().iterdir() if f.name.startswith("hf-daily-papers")),
        key=lambda f: f.name,
    )
    if not files:
        return None
    day = files[-1]
    url = f"bundled:{day.name}"
    items = [replace(t, day=None) for t in parse_hf_daily(day.read_bytes(), url=url)]
    return ingest_trending(storage, items, source=HF_SOURCE, url=url, today=today)


def store_sample_vectors(storage: Storage, vectors: Traversable | None = None) -> int:
    """Store the bundled vectors of the sample's papers (sample/vectors.npz) for each
    stored paper still without one whose text hashes as theirs did; returns how many.
    Vectors of another encoder than the shipped one are not used (0)."""
    import numpy as np

    from paperboy.jobs.ranking.encoding import stored_text_hash
    from paperboy.recommender.encoder import MODEL_ID

    source = vectors or sample_dir() / VECTORS_FILE
    if not source.is_file():
        return 0
    with source.open("rb") as f, np.load(f, allow_pickle=False) as data:
        if str(data["model_id"]) != MODEL_ID:
            return 0
        bundled = {
            (str(pid), str(digest)): vector
            for pid, digest, vector in zip(
                data["ids"], data["hashes"], data["vectors"], strict=True
            )
        }
    todo = storage.papers_missing_embeddings(
        MODEL_ID, max(1, storage.count_papers()), text_hash_of=stored_text_hash
    )
    found = []
    for paper in todo:
        digest = stored_text_hash(paper)
        vector = bundled.get((paper.id, digest))
        if vector is not None:
            found.append((paper.id, digest, vector))
    return storage.store_embeddings(MODEL_ID, found)


def write_sample_vectors(path: Path) -> int:
    """Encode the sample's papers with the shipped encoder, as the demo stores them, and
    write their vectors (float16, as stored) to `path`; returns how many."""
    import tempfile

    import numpy as np

    from paperboy.jobs.ranking.encoding import stored_text_hash
    from paperboy.recommender.encoder import MODEL_ID

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "config.toml").write_text(demo_config(), encoding="utf-8")
        config = load_config(Path(tmp) / "config.toml")
        with Storage.open(config.database) as storage:
            store_sample(config, storage)
            ingest_sample_trending(storage, utcnow().date())
            encode_stored(storage, seconds=None)
            papers = storage.recent_papers(storage.count_papers())
            vectors = storage.embeddings([p.id for p in papers], MODEL_ID)
    papers = sorted((p for p in papers if p.id in vectors), key=lambda p: p.id)
    np.savez_compressed(
        path,
        model_id=np.array(MODEL_ID),
        ids=np.array([p.id for p in papers]),
        hashes=np.array([stored_text_hash(p) for p in papers]),
        vectors=np.stack([vectors[p.id] for p in papers]).astype("<f2"),
    )
    return len(papers)


def store_sample(config: Config, storage: Storage) -> tuple[list[SourceReport], UpsertResult]:
    """What the demo's fetch and lookup store: the bundled arXiv days and the sample
    user's saved papers (the Hugging Face day: ingest_sample_trending)."""
    announce_types = config.arxiv.announce_types if config.arxiv else ("new", "cross")
    reports = []
    days = sorted(
        (f for f in sample_dir().iterdir() if f.name.startswith("arxiv-")),
        key=lambda f: f.name,
    )
    for day in days:
        feed = parse_arxiv_rss(day.read_bytes(), url=f"bundled:{day.name}")
        reports.append(
            ingest_feed(
                storage,
                feed,
                source=ARXIV_SOURCE,
                url=f"bundled:{day.name}",
                announce_types=announce_types,
            )
        )
    with resources.as_file(sample_dir() / "saved.jsonl") as saved_path:
        records = read_jsonl(saved_path)
    saved = storage.upsert_papers(
        (
            SourcePaper(
                id=r.id,
                title=r.title,
                abstract=r.abstract,
                authors=r.authors,
                categories=r.categories,
                link=f"https://arxiv.org/abs/{r.id}",
                announced=r.announced,
            )
            for r in records
        ),
        source=LOOKUP_SOURCE,
        listed=False,
    )
    return reports, saved


def run_demo(
    directory: Path, *, now: datetime | None = None, config_text: str | None = None
) -> DemoResult:
    """Run fetch -> rank -> render -> outbox on bundled data in `directory` (made fresh).
    ``config_text``: another config than :func:`demo_config` (the collections screenshot,
    scripts/collections_screenshot.py)."""
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / "config.toml"
    config_file.write_text(config_text or demo_config(), encoding="utf-8")
    config = load_config(config_file)
    write_key_file(config.web.secret_file)  # kept if there: links already written stay valid
    db_file = directory / "paperboy.db"
    db_file.unlink(missing_ok=True)
    outbox = config.email.outbox
    if outbox.is_dir() and outbox.resolve().is_relative_to(directory.resolve()):
        shutil.rmtree(outbox)  # the demo's own outbox: start clean so the paths printed are new

    with Storage.open(config.database) as storage:
        reports, saved = store_sample(config, storage)
        trending = ingest_sample_trending(storage, (now or utcnow()).date())
        refresh_index(config, storage)  # as `paperboy fetch` does after storing papers
        store_sample_vectors(storage)  # the encoder's vectors (issue 11), bundled,
        encode_stored(storage, seconds=None)  # and of any paper they do not cover
        transport = make_transport(config)
        results = run_digests(config, storage, transport=transport, now=now, force=True)
    paths = getattr(transport, "last_paths", None)
    eml, html = paths if paths else (None, None)
    return DemoResult(
        directory=directory,
        config=config,
        fetched=tuple(reports),
        trending=trending,
        saved=saved.total,
        digests=tuple(results),
        eml=eml,
        html=html,
    )


if __name__ == "__main__":  # python -m paperboy.jobs.runners.demo --write-vectors [PATH]
    import sys

    if len(sys.argv) < 2 or sys.argv[1] != "--write-vectors":
        sys.exit("usage: python -m paperboy.jobs.runners.demo --write-vectors [PATH]")
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(str(sample_dir() / VECTORS_FILE))
    print(f"wrote the vectors of {write_sample_vectors(target)} papers to {target}")
