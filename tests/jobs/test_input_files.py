"""Sizes and files (issue #20, item 24): every field a paper keeps has a cap, JSONL lines end
at LF only, a deeply nested line is a bad line, and a bad input file exits 2 with
`file:line` whatever its format."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperboy.jobs.cli import cli
from paperboy.jobs.config.load import load_config
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.fetch.paperfiles import PaperFileError, read_jsonl
from paperboy.jobs.storage import Storage
from paperboy.text import ABSTRACT_MAX, AUTHOR_MAX, AUTHORS_MAX, TITLE_MAX, TLDR_MAX, cap

HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"
FIVE_MB_TITLE = "Attention " * 500_000
NESTED = "[" * 100_000 + "]" * 100_000


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def good_jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "good.jsonl"
    path.write_text(json.dumps({"id": "1", "title": "RL for reasoning", "abstract": "GRPO."}))
    return path


# --- caps ---------------------------------------------------------------------------------


def test_cap_cuts_at_a_word_with_an_ellipsis_and_leaves_short_text_alone() -> None:
    assert cap("short  text\n", 20) == "short  text\n"  # untouched, whitespace and all
    cut = cap(FIVE_MB_TITLE, TITLE_MAX)
    assert len(cut) <= TITLE_MAX and cut.endswith("Attention…")
    assert len(cap("x" * 5000, 300)) == 300  # one long word: cut inside it


def test_a_source_paper_caps_every_field_and_says_so() -> None:
    paper = SourcePaper(
        id="2401.00001",
        title=FIVE_MB_TITLE,
        abstract="word " * 10_000,
        authors=tuple(f"Author {i} " + "x" * 400 for i in range(AUTHORS_MAX + 10)),
        categories=("cs.LG",),
        link="",
        comment="c " * 5000,
        tldr="t " * 5000,
    )
    assert paper.cut
    assert len(paper.title) <= TITLE_MAX and len(paper.abstract) <= ABSTRACT_MAX
    assert len(paper.authors) == AUTHORS_MAX
    assert all(len(a) <= AUTHOR_MAX and a.endswith("…") for a in paper.authors)
    assert paper.tldr is not None and len(paper.tldr) <= TLDR_MAX
    assert paper.comment is not None and len(paper.comment) <= TLDR_MAX
    normal = SourcePaper(
        id="1", title="A  title", abstract="x", authors=("A",), categories=(), link=""
    )
    assert not normal.cut and normal.title == "A  title"


def test_fetch_counts_and_stores_cut_papers(tmp_path: Path) -> None:
    assert run("init", str(tmp_path))[0] == 0
    config = tmp_path / "config.toml"
    papers = tmp_path / "huge.jsonl"
    papers.write_text(
        json.dumps({"id": "2401.00001", "title": FIVE_MB_TITLE, "abstract": "a"})
        + "\n"
        + json.dumps({"id": "2401.00002", "title": "Normal", "abstract": "b"})
        + "\n"
    )
    code, out, err = run(
        "--config", str(config), "fetch", "--from-file", str(papers), "--encode-for", "0"
    )
    assert code == 0, err
    assert "1 cut to the length caps" in out
    code, out, _ = run(
        "--config", str(config), "fetch", "--from-file", str(papers), "--format", "json",
        "--encode-for", "0",
    )  # fmt: skip
    assert json.loads(out)[0]["cut"] == 1
    storage = Storage.open(load_config(config).database)
    try:
        stored = storage.get_papers(["2401.00001"])["2401.00001"]
    finally:
        storage.close()
    assert len(stored.title) <= TITLE_MAX and stored.title.endswith("…")


# --- JSONL lines --------------------------------------------------------------------------


def test_jsonl_lines_end_at_lf_only() -> None:
    first, second = read_jsonl(HOSTILE / "line-separators.jsonl")
    assert first.title == "Line\u2028separator and next\u0085line in a title"
    assert "\u2029" in first.abstract and second.title == "The second paper"


def test_jsonl_with_crlf_line_ends_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(b'{"id": "1", "title": "a"}\r\n\r\n{"id": "2", "title": "b"}\r\n')
    assert [p.title for p in read_jsonl(path)] == ["a", "b"]


def test_a_deeply_nested_line_is_a_bad_line_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "nested.jsonl"
    path.write_text('{"id": "1", "title": "ok"}\n' + NESTED + "\n")
    with pytest.raises(PaperFileError, match=f"{path}:2: JSON nested too deeply"):
        read_jsonl(path)


def test_a_latin1_line_is_named(tmp_path: Path) -> None:
    with pytest.raises(PaperFileError, match=r"latin1.jsonl:2: not UTF-8"):
        read_jsonl(HOSTILE / "latin1.jsonl")


# --- one exit status for a bad input file, whatever its format -------------------------------


@pytest.mark.parametrize(
    ("make", "where"),
    [
        (lambda d: d / "nested.jsonl", ":2"),
        (lambda d: HOSTILE / "latin1.jsonl", ":2"),
        (lambda d: HOSTILE / "latin1.bib", ":5"),
        (lambda d: d / "bad.jsonl", ":2"),
    ],
    ids=["nested-jsonl", "latin1-jsonl", "latin1-bibtex", "bad-json"],
)
def test_rank_saved_bad_file_exits_2_with_file_and_line(
    tmp_path: Path, make: Callable[[Path], Path], where: str
) -> None:
    (tmp_path / "nested.jsonl").write_text('{"id": "1", "title": "ok"}\n' + NESTED + "\n")
    (tmp_path / "bad.jsonl").write_text('{"id": "x", "title": "ok"}\n{not json}\n')
    bad = make(tmp_path)
    good = good_jsonl(tmp_path)
    code, out, err = run("rank", "--saved", str(bad), "--candidates", str(good))
    assert code == 2 and out == "" and f"{bad}{where}:" in err, err
    assert "Traceback" not in err
    code, _, err = run("rank", "--saved", str(good), "--candidates", str(bad))
    if bad.suffix == ".jsonl":  # candidates are JSONL only
        assert code == 2 and f"{bad}{where}:" in err, err


def test_profile_import_bad_file_exits_2_with_file_and_line(tmp_path: Path) -> None:
    assert run("init", str(tmp_path))[0] == 0
    config = str(tmp_path / "config.toml")
    bad = HOSTILE / "latin1.bib"
    code, _, err = run("--config", config, "profile", "import", str(bad), "--user", "ada")
    assert code == 2 and f"{bad}:5: not UTF-8" in err, err
    code, _, err = run(
        "--config", config, "profile", "import", str(HOSTILE / "latin1.jsonl"), "--user", "ada"
    )
    assert code == 2 and "latin1.jsonl" in err, err


def test_fetch_from_a_bad_file_exits_2_whatever_its_format(tmp_path: Path) -> None:
    assert run("init", str(tmp_path))[0] == 0
    config = str(tmp_path / "config.toml")
    broken = tmp_path / "broken.xml"
    broken.write_text("<html><body>503 Service Unavailable</body></html>")
    code, _, err = run("--config", config, "fetch", "--from-file", str(broken))
    assert code == 2 and "broken.xml" in err
    bad = HOSTILE / "latin1.jsonl"
    code, _, err = run("--config", config, "fetch", "--from-file", str(bad))
    assert code == 2 and f"{bad}:2" in err


def test_fetch_from_a_deeply_nested_json_file_exits_2(tmp_path: Path) -> None:
    assert run("init", str(tmp_path))[0] == 0
    nested = tmp_path / "daily_papers.json"
    nested.write_text(NESTED)
    code, _, err = run(
        "--config", str(tmp_path / "config.toml"), "fetch", "--from-file", str(nested),
        "--source", "huggingface",
    )  # fmt: skip
    assert code == 2 and "daily_papers.json" in err and "Traceback" not in err, err
