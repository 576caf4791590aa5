"""`paperboy eval` on tiny benchmark files written from the recommender's test corpus."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from click.testing import CliRunner

from paperboy.jobs.cli import cli
from tests.recommender.corpus import ALL


def write_seed(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for p in ALL:
            topic = p.id.split("-")[0]
            f.write(
                json.dumps({"id": p.id, "title": p.title, "abstract": p.abstract, "lists": [topic]})
                + "\n"
            )
    return path


def write_replay(listings: Path, lists: Path) -> tuple[Path, Path]:
    start = date(2025, 3, 3)
    variants = [(f"{p.id}-v{k}", p) for k in range(4) for p in ALL]
    with listings.open("w", encoding="utf-8") as f:
        for i, (pid, p) in enumerate(variants):
            row = {
                "id": pid,
                "announced": (start + timedelta(days=7 * (i % 6))).isoformat(),
                "title": p.title,
                "abstract": f"{p.abstract} (version {i})",
                "authors": list(p.authors),
                "categories": list(p.categories),
            }
            f.write(json.dumps(row) + "\n")
    users = [
        {"name": "nlp", "ids": [pid for pid, _ in variants if pid.startswith("nlp")]},
        {"name": "prot", "ids": [pid for pid, _ in variants if pid.startswith("prot")]},
    ]
    lists.write_text(json.dumps({"lists": users}), encoding="utf-8")
    return listings, lists


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["eval", *args], catch_exceptions=False)
    return result.exit_code, result.stdout


def test_help_has_an_example() -> None:
    code, out = invoke("--help")
    assert code == 0
    assert "paperboy eval" in out.split("Example", 1)[1]


def test_seed_benchmark_prints_tables_beside_the_baselines(tmp_path: Path) -> None:
    code, out = invoke(
        "--benchmark", "seed", "--seed-corpus", str(write_seed(tmp_path / "s.jsonl"))
    )
    assert code == 0, out
    assert "topic profiles" in out
    for name in ("centroid", "arxiv-sanity", "paperboy", "macro", "nDCG@10", "AP"):
        assert name in out


def test_replay_benchmark_as_json(tmp_path: Path) -> None:
    listings, lists = write_replay(tmp_path / "l.jsonl", tmp_path / "lists.json")
    code, out = invoke(
        "--benchmark", "replay", "--listings", str(listings), "--lists", str(lists),
        "--format", "json",
    )  # fmt: skip
    assert code == 0, out
    data = json.loads(out)["replay"]
    assert set(data) == {"centroid", "arxiv-sanity", "paperboy"}
    ours = data["paperboy"]
    assert set(ours["lists"]) == {"nlp", "prot"}
    assert set(ours["macro"]) == {"nDCG@10", "R@10", "R@25", "MRR"}
    assert ours["tasks"] > 0
    assert ours["macro"]["nDCG@10"] > 0.5


def test_missing_paths_are_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["eval", "--benchmark", "replay"])
    assert result.exit_code == 2
    assert "--listings" in result.output
