"""`paperboy eval`: the offline quality benchmarks of docs/quality-benchmark.md.

The measuring itself is pure and lives in :mod:`recommender.evaluation` (metrics and
protocols) and :mod:`recommender.baselines` (the reference methods); this module only
reads the data files and prints. The scripts in ``benchmarks/`` reuse the loaders and the
two ``run_*`` functions.
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from paperboy.recommender import Paper

if TYPE_CHECKING:  # the measuring pulls in scikit-learn: imported by the functions that run it
    from paperboy.recommender import Embeddings, Index
    from paperboy.recommender.evaluation import Method, Report

__all__ = [
    "eval_command",
    "load_embeddings",
    "load_listings",
    "load_lists",
    "load_seed_corpus",
    "run_replay",
    "run_seed",
]

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    """Default progress callback: say nothing."""


def load_seed_corpus(path: Path) -> tuple[list[Paper], dict[str, list[int]]]:
    """The seed corpus (JSONL with ``lists``): papers, and each list's paper positions."""
    papers: list[Paper] = []
    lists: dict[str, list[int]] = {}
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                paper = Paper(id=str(d["id"]), title=d["title"], abstract=d.get("abstract", ""))
            except (ValueError, KeyError, TypeError) as e:
                raise click.BadParameter(f"{path}:{number}: not a seed-corpus record ({e})") from e
            for name in d.get("lists", []):
                lists.setdefault(str(name), []).append(len(papers))
            papers.append(paper)
    return papers, lists


def load_listings(path: Path) -> list[Paper]:
    """Announced papers (JSONL, gzip when the name ends in .gz) with their dates."""
    opener: Any = gzip.open if path.suffix == ".gz" else open
    papers: list[Paper] = []
    with opener(path, "rt", encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                papers.append(
                    Paper(
                        id=str(d["id"]),
                        title=d["title"],
                        abstract=d.get("abstract") or "",
                        authors=tuple(d.get("authors") or ()),
                        categories=tuple(d.get("categories") or ()),
                        announced=date.fromisoformat(d["announced"]),
                    )
                )
            except (ValueError, KeyError, TypeError) as e:
                raise click.BadParameter(f"{path}:{number}: not a listing record ({e})") from e
    return papers


def load_lists(path: Path, only: Iterable[str] = ()) -> dict[str, list[str]]:
    """The replay's lists (dev-lists.json: ``{"lists": [{"name", "ids"}, ...]}``) by name."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        lists = {str(entry["name"]): [str(i) for i in entry["ids"]] for entry in data["lists"]}
    except (ValueError, KeyError, TypeError) as e:
        raise click.BadParameter(f"{path}: not a lists file ({e})") from e
    wanted = list(only)
    unknown = [name for name in wanted if name not in lists]
    if unknown:
        raise click.BadParameter(f"{path}: no list named {', '.join(unknown)}")
    return {name: ids for name, ids in lists.items() if not wanted or name in wanted}


def load_embeddings(
    papers: Sequence[Paper], path: Path | None, progress: Progress = _quiet
) -> Embeddings:
    """The papers' sentence embeddings: from ``path`` (.npz: ``ids``, ``emb``) or encoded.

    Without a file the shipped encoder computes them, through the one-off cache
    (jobs.ranking.embedding_cache): the first replay over 75k listings encodes for about an hour
    on 2 cores, later runs read the cache. Papers a file lacks are reported and ranked by
    the words view alone, as a digest does with papers not yet encoded.
    """
    from paperboy.recommender import Embeddings

    if path is not None:
        import numpy as np

        try:
            with np.load(path) as data:
                vectors = Embeddings.from_arrays([str(i) for i in data["ids"]], data["emb"])
        except (OSError, ValueError, KeyError) as e:
            raise click.BadParameter(f"{path}: not an embeddings file with ids, emb ({e})") from e
        missing = sum(1 for p in papers if p.id not in vectors)
        if missing:
            progress(f"{path}: no embedding for {missing} of {len(papers)} papers")
        return vectors
    from paperboy.jobs.ranking.embedding_cache import cached_embeddings

    progress(f"encoding {len(papers)} papers (cached after the first run)")
    return cached_embeddings(papers)


def _run(
    methods: dict[str, Method], tasks: Sequence[Any], kind: str, progress: Progress
) -> dict[str, Report]:
    from paperboy.recommender.evaluation import evaluate

    reports: dict[str, Report] = {}
    for name, method in methods.items():
        progress(f"{kind}: {name} on {len(tasks)} rankings")
        reports[name] = evaluate(tasks, method, kind, clock=time.perf_counter)
    return reports


def run_seed(
    papers: Sequence[Paper],
    lists: dict[str, list[int]],
    *,
    seed: int = 0,
    repetitions: int = 10,
    index: Index | None = None,
    embeddings: Embeddings | None = None,
    one_off: bool = False,
    progress: Progress = _quiet,
    paperboy_options: dict[str, Any] | None = None,
) -> dict[str, Report]:
    """Topic profiles: Paperboy beside the TF-IDF centroid and arxiv-sanity-lite's recipe.

    ``index`` defaults to one built over the corpus (the papers a deployment has stored);
    ``one_off`` ranks without one (each ranking fits its own features, as a one-off does).
    """
    from paperboy.recommender import Index
    from paperboy.recommender.baselines import ArxivSanity, Centroid, Paperboy
    from paperboy.recommender.evaluation import seed_tasks

    tasks = seed_tasks(lists, len(papers), seed=seed, repetitions=repetitions)
    if index is None and not one_off:
        progress("seed: building the index")
        index = Index.build(papers)
    methods: dict[str, Method] = {
        "centroid": Centroid(papers),
        "arxiv-sanity": ArxivSanity(papers),
        "paperboy": Paperboy(
            papers, index=index, embeddings=embeddings, **(paperboy_options or {})
        ),
    }
    return _run(methods, tasks, "seed", progress)


def run_replay(
    papers: Sequence[Paper],
    lists: dict[str, list[str]],
    *,
    seed: int = 0,
    max_weeks: int | None = None,
    index: Index | None = None,
    embeddings: Embeddings | None = None,
    progress: Progress = _quiet,
    paperboy_options: dict[str, Any] | None = None,
    baselines: bool = True,
) -> dict[str, Report]:
    """The weekly digest replay: Paperboy beside the centroid and arxiv-sanity-lite.

    Every method fits its vocabulary once on all the listings (arxiv-sanity does the
    same over its database); ``index`` is Paperboy's, built here when not given.
    """
    from paperboy.recommender import Index
    from paperboy.recommender.baselines import ArxivSanity, Centroid, Paperboy
    from paperboy.recommender.evaluation import replay_tasks

    tasks = replay_tasks(papers, lists, seed=seed, max_weeks=max_weeks)
    if index is None:
        progress(f"replay: building the index over {len(papers)} papers")
        index = Index.build(papers)
    methods: dict[str, Method] = {}
    if baselines:
        progress("replay: fitting the baselines' TF-IDF")
        methods["centroid"] = Centroid(papers)
        methods["arxiv-sanity"] = ArxivSanity(papers)
    methods["paperboy"] = Paperboy(
        papers, index=index, embeddings=embeddings, **(paperboy_options or {})
    )
    return _run(methods, tasks, "replay", progress)


def summary(kind: str, reports: dict[str, Report]) -> str:
    """Every metric's table, for people."""
    from paperboy.recommender.evaluation import reports_table

    first = next(iter(reports.values()))
    n = first.n_tasks()
    title = "topic profiles (seed corpus)" if kind == "seed" else "weekly digest replay"
    tables = [reports_table(reports, metric) for metric in first.metrics]
    seconds = ", ".join(f"{m} {r.seconds / max(n, 1):.3f}" for m, r in reports.items())
    return f"== {title}: {n} rankings ==\n\n" + "\n\n".join(tables) + f"\n\ns/ranking: {seconds}\n"


@click.command("eval")
@click.option(
    "--seed-corpus",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Topic-profile corpus (JSONL with a 'lists' field per paper).",
)
@click.option(
    "--listings",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Announced papers for the replay (JSONL or JSONL.gz with 'announced').",
)
@click.option(
    "--lists",
    "lists_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The replay's users: a JSON file {'lists': [{'name', 'ids'}, ...]}.",
)
@click.option(
    "--benchmark",
    type=click.Choice(["seed", "replay", "both"]),
    default="both",
    show_default=True,
)
@click.option(
    "--max-weeks", type=click.IntRange(min=1), help="Replay only each list's first N weeks."
)
@click.option(
    "--embeddings",
    "embeddings_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Papers' sentence embeddings (.npz with ids, emb); default: encoded and cached.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def eval_command(
    seed_corpus: Path | None,
    listings: Path | None,
    lists_path: Path | None,
    benchmark: str,
    max_weeks: int | None,
    embeddings_path: Path | None,
    fmt: str,
) -> None:
    """Measure ranking quality offline, beside arxiv-sanity-lite and a TF-IDF centroid.

    Topic profiles: 8 saved papers per list, every other paper of the corpus ranked.
    Replay: each list is a user; every week's whole listing is ranked against their
    growing library. Reports nDCG@10 and more, per list and macro (protocols:
    docs/quality-benchmark.md). The replay over 75k papers takes about half an hour.

    \b
    Example:
      paperboy eval --benchmark seed --seed-corpus ../shared/data/seed-corpus.jsonl
      paperboy eval --benchmark replay --max-weeks 4 \\
        --listings ../shared/data/arxiv-listings-2025-03_2026-07.jsonl.gz \\
        --lists ../shared/data/dev-lists.json --format json
    """
    want_seed = benchmark in ("seed", "both")
    want_replay = benchmark in ("replay", "both")
    if want_seed and seed_corpus is None:
        raise click.UsageError("--benchmark seed needs --seed-corpus PATH")
    if want_replay and (listings is None or lists_path is None):
        raise click.UsageError("--benchmark replay needs --listings PATH and --lists PATH")

    def progress(message: str) -> None:
        click.echo(message, err=True)

    results: dict[str, dict[str, Report]] = {}
    if want_seed and seed_corpus is not None:
        papers, lists = load_seed_corpus(seed_corpus)
        vectors = load_embeddings(papers, embeddings_path, progress)
        results["seed"] = run_seed(papers, lists, embeddings=vectors, progress=progress)
    if want_replay and listings is not None and lists_path is not None:
        users = load_lists(lists_path)
        listed = load_listings(listings)
        results["replay"] = run_replay(
            listed,
            users,
            max_weeks=max_weeks,
            embeddings=load_embeddings(listed, embeddings_path, progress),
            progress=progress,
        )
    if fmt == "json":
        from paperboy.recommender.evaluation import reports_json

        click.echo(json.dumps({k: reports_json(v) for k, v in results.items()}, indent=2))
    else:
        for kind, reports in results.items():
            click.echo(summary(kind, reports))
    sys.stdout.flush()
