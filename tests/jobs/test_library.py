"""jobs.fetch.bibtex: BibTeX/BibLaTeX libraries (a real Zotero export) into plain dataclasses."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperboy.jobs.core.ids import canonical_doi, normalised_title, title_key
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.fetch.bibtex import LibraryError, is_bibtex, read_bibtex_papers, read_library
from paperboy.jobs.fetch.paperfiles import PaperFileError
from paperboy.jobs.storage import Storage

ZOTERO = Path(__file__).resolve().parents[1] / "fixtures" / "libraries" / "zotero-export.bib"


def bib(tmp_path: Path, text: str, name: str = "library.bib") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the real Zotero export (counts made by hand once: see tests/fixtures/README.md) ---------


def test_zotero_export_counts() -> None:
    lib = read_library(ZOTERO)
    assert lib.entries == 202
    assert len(lib.arxiv) == 145  # 172 eprint entries hold 145 distinct ids
    assert len(lib.library) == 24  # 29 without an arXiv id, less 2 without abstract, 3 dupes
    assert len(lib.duplicates) == 31
    assert [(s.key, s.line, s.reason) for s in lib.skipped] == [
        ("mehtaUnifiedLearningDemonstrations", 2278, "no arXiv id and no abstract"),
        ("Tutorial17Transformers", 3107, "no arXiv id and no abstract"),
    ]
    assert len(lib.arxiv) + len(lib.library) + len(lib.duplicates) + len(lib.skipped) == 202
    assert len({p.id for p in (*lib.arxiv, *lib.library)}) == 169


def test_zotero_export_entries_read_as_text() -> None:
    lib = read_library(ZOTERO)
    first = lib.arxiv[0]
    assert first.key == "abdolmalekiDistributionalViewMultiObjective2020" and first.line == 1
    assert first.id == first.arxiv_id == "2005.07513"
    assert first.title == "A Distributional View on Multi-Objective Policy Optimization"
    assert first.authors[:2] == ("Abbas Abdolmaleki", "Sandy H. Huang")
    assert first.abstract.startswith("Many real-world problems require trading off")
    by_key = {p.key: p for p in (*lib.arxiv, *lib.library)}
    # Zotero escaped the LaTeX once more; one pass of LaTeX-to-text leaves it as typed.
    assert "Understanding Dataset Difficulty with $\\mathcal{V}$-Usable Information" in [
        p.title for p in lib.arxiv
    ]
    assert by_key["damourFairnessNotStatic2020"].id == "10.1145/3351095.3372878"
    assert by_key["gutmannNoisecontrastiveEstimationNew2010"].authors[1] == "Aapo Hyvärinen"
    blog = by_key["JustAskGeneralization2021"]
    assert blog.id == title_key("Just Ask for Generalization") and blog.doi is None
    dupes = {d.key: d for d in lib.duplicates}
    # Its arXiv id is only in url (…/abs/2211.11602v1) and doi (10.48550/arXiv.2211.11602).
    assert dupes["abramsonImprovingMultimodalInteractive2022a"].id == "2211.11602"
    assert dupes["rogersPrimerBERTologyWhat2020a"].first_key == "rogersPrimerBERTologyWhat2020"
    # The proceedings version of a paper whose preprint is in the file: the preprint wins.
    carroll = dupes["carrollEstimatingPenalizingInduced2022"]
    assert carroll.first_key == "carrollEstimatingPenalizingInduced2022a"


def test_read_bibtex_papers_for_rank() -> None:
    papers = read_bibtex_papers(ZOTERO)
    assert len(papers) == 169 and len({p.id for p in papers}) == 169
    assert all(p.title and p.abstract for p in papers)
    ids = {p.id for p in papers}
    assert "2005.07513" in ids and "10.1162/tacl_a_00349" in ids


# --- every way an arXiv id is written in BibTeX ----------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("eprint = {2401.01234v2}, archivePrefix = {arXiv}", "2401.01234"),
        ("eprint = {2401.01234}, eprinttype = {arxiv}", "2401.01234"),
        ("eprint = {arXiv:2401.01234}", "2401.01234"),
        ("eprint = {hep-th/9901001}, archiveprefix = {arXiv}", "hep-th/9901001"),
        ("url = {https://arxiv.org/pdf/2401.01234v1.pdf}", "2401.01234"),
        ("doi = {10.48550/arXiv.2401.01234}", "2401.01234"),
        ("note = {arXiv: 2401.01234}", "2401.01234"),
        ("journal = {arXiv preprint arXiv:1706.03762}", "1706.03762"),
        ("howpublished = {\\url{http://arxiv.org/abs/1706.03762}}", "1706.03762"),
        ("eprint = {hal-01234567}, eprinttype = {HAL}", None),
        ("eprint = {2401.01234}, archivePrefix = {HAL}", None),
    ],
)
def test_arxiv_ids_are_found(tmp_path: Path, fields: str, expected: str | None) -> None:
    path = bib(tmp_path, f"@article{{k, title = {{T}}, abstract = {{A}}, {fields}}}\n")
    lib = read_library(path)
    if expected is None:
        assert not lib.arxiv and [p.id for p in lib.library] == [title_key("T")]
    else:
        assert [p.arxiv_id for p in lib.arxiv] == [expected]


def test_latex_and_names_become_text(tmp_path: Path) -> None:
    path = bib(
        tmp_path,
        r"""@inproceedings{k,
  title = {{Sch{\"o}lkopf}'s \textit{Kernel} {{Methods}} -- $\alpha$-divergences},
  author = {Sch{\"o}lkopf, Bernhard and {DeepMind Team} and van der Berg, Anna and Ng, Jr, Andrew},
  abstract = {We get 50\% better.  Over
     two lines.},
  doi = {10.1000/ABC.DEF}
}
""",
    )
    [paper] = read_library(path).library
    assert paper.title == "Schölkopf's Kernel Methods – α-divergences"
    assert paper.authors == (
        "Bernhard Schölkopf",
        "DeepMind Team",
        "Anna van der Berg",
        "Andrew Ng Jr",
    )
    assert paper.abstract == "We get 50% better. Over two lines."
    assert paper.id == paper.doi == "10.1000/abc.def"


def test_skipped_entries_say_why(tmp_path: Path) -> None:
    path = bib(
        tmp_path,
        "@article{ok, title = {Fine}, abstract = {Yes}}\n"
        "@article{notitle, abstract = {Only an abstract}}\n"
        "@article{noabstract, title = {Only a title}}\n"
        "@article{ok, title = {Again}, abstract = {Same key}}\n"
        "@article{broken, title = {Never closed, abstract = {x}\n"
        "@misc{arxivonly, eprint = {2401.01234}}\n",
    )
    lib = read_library(path)
    assert [p.key for p in lib.library] == ["ok"]
    assert [p.key for p in lib.arxiv] == ["arxivonly"]  # an id suffices for a saved paper
    reasons = {s.key: (s.line, s.reason) for s in lib.skipped}
    assert reasons["notitle"] == (2, "no arXiv id and no title")
    assert reasons["noabstract"] == (3, "no arXiv id and no abstract")
    assert reasons["ok"] == (4, "the citation key 'ok' is used twice")
    assert reasons["broken"][0] == 5 and reasons["broken"][1].startswith("parse error:")
    assert lib.entries == 6


def test_duplicates_by_doi_and_title(tmp_path: Path) -> None:
    path = bib(
        tmp_path,
        "@article{a, title = {Deep {RL}}, abstract = {x}, doi = {10.1000/X}}\n"
        "@article{b, title = {Other}, abstract = {x}, doi = {https://doi.org/10.1000/x}}\n"
        "@article{c, title = {deep RL!}, abstract = {x}}\n"
        "@misc{d, title = {Deep RL}, abstract = {x}, eprint = {2401.01234}}\n",
    )
    lib = read_library(path)
    assert [p.key for p in lib.arxiv] == ["d"]
    assert lib.library == ()  # a was the journal version of d
    assert {d.key: d.first_key for d in lib.duplicates} == {"b": "a", "c": "a", "a": "d"}


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="cannot read"):
        read_library(tmp_path / "missing.bib")
    latin = tmp_path / "latin.bib"
    latin.write_bytes("@article{k, title = {Jos\xe9}}".encode("latin-1"))
    with pytest.raises(LibraryError, match="not UTF-8"):
        read_library(latin)
    with pytest.raises(LibraryError, match="no BibTeX entries"):
        read_library(bib(tmp_path, '{"id": "2401.01234", "title": "JSONL"}\n', "x.jsonl"))
    assert issubclass(LibraryError, PaperFileError)  # `rank --saved` reports both alike


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "bom.bib"
    path.write_bytes(b"\xef\xbb\xbf@article{k, title = {T}, abstract = {A}}\n")
    assert [p.key for p in read_library(path).library] == ["k"]
    assert is_bibtex(path)


def test_is_bibtex(tmp_path: Path) -> None:
    assert is_bibtex(ZOTERO)
    assert is_bibtex(bib(tmp_path, "\n\n@misc{k, title={T}}", "export.txt"))
    assert not is_bibtex(bib(tmp_path, '{"id": "1"}\n', "saved.jsonl"))


# --- ids for papers without an arXiv id --------------------------------------------------------


def test_title_key_and_doi() -> None:
    assert title_key("Schölkopf's  RL!") == title_key("scholkopf s rl")
    assert title_key("A") != title_key("B")
    assert title_key("x").startswith("title:") and len(title_key("x")) == 22
    assert normalised_title("Deep-RL: A {Survey}") == "deep rl a survey"
    assert canonical_doi("https://dx.doi.org/10.1145/ABC.1") == "10.1145/abc.1"
    assert canonical_doi("doi: 10.1000/x.") == "10.1000/x"
    assert canonical_doi("not a doi") is None


# --- storage: the library table ---------------------------------------------------------------


def test_storage_library_table() -> None:
    with Storage.open("sqlite://") as storage:
        storage.upsert_papers(
            [
                SourcePaper(
                    id=title_key("T"), title="T", abstract="A", authors=(), categories=(), link=""
                ),
                SourcePaper(
                    id="10.1/x", title="U", abstract="B", authors=(), categories=(), link=""
                ),
            ],
            source="bibtex",
            listed=False,
        )
        assert storage.add_to_library("ada", ["10.1/x", title_key("T"), "10.1/x"]) == 2
        assert storage.add_to_library("ada", ["10.1/x", "10.9/missing"]) == 1
        assert set(storage.library_ids("ada")) == {"10.1/x", title_key("T"), "10.9/missing"}
        assert {p.title for p in storage.library_papers("ada")} == {"T", "U"}
        assert storage.library_ids("bob") == []
        assert storage.listed_papers() == []  # library papers are never news
