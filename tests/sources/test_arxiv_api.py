"""parse_arxiv_api on saved real arXiv API responses, and id_list_url."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from paperboy.jobs.core.errors import ParseError, UnknownPaperError
from paperboy.jobs.fetch.sources.arxiv_api import id_list_url, parse_arxiv_api

FIXTURES = Path(__file__).parent.parent / "fixtures" / "arxiv-api"


def capture(name: str) -> tuple[int, bytes]:
    """(status code, body) of a saved response."""
    saved = json.loads((FIXTURES / name).read_text("utf-8"))
    return saved["status_code"], saved["body"].encode("utf-8")


def test_id_list_lookup() -> None:
    status, body = capture("id_0808.05394_1707.08567_s0_m100_42e5aa0ec3af.json")
    assert status == 200
    papers = parse_arxiv_api(body)
    # 0808.05394 cannot exist (5 digits in 2008): arXiv answers with the other one only.
    assert len(papers) == 1
    (proceedings,) = papers
    assert proceedings.id == "1707.08567"
    assert proceedings.version == 1
    assert proceedings.title.startswith("Proceedings of Workshop AEW10")
    assert proceedings.abstract.startswith('The 10th Asia-Europe workshop in "Concepts')
    assert len(proceedings.authors) == 34
    assert proceedings.authors[0] == "Kees A. Schouhamer Immink"
    assert proceedings.categories == ("cs.IT",)
    assert proceedings.comment == (
        "44 pages, editors for the proceedings: Yanling Chen and A. J. Han Vinck"
    )
    assert proceedings.link == "https://arxiv.org/abs/1707.08567"
    assert proceedings.announce_type is None and proceedings.announced is None


def test_unknown_id_is_an_empty_list() -> None:
    status, body = capture("id_0000.0000_s0_m100_8b51d9633a68.json")
    assert status == 200
    assert parse_arxiv_api(body) == []


def test_malformed_id_error_entry_raises_with_the_api_message() -> None:
    status, body = capture("id_abc_s0_m100_b79c8dcf6bc3.json")
    assert status == 400
    with pytest.raises(ParseError, match="arXiv API error: incorrect id format for abc"):
        parse_arxiv_api(body)


def test_old_style_id() -> None:
    _, body = capture("id_astro-ph_0601001_s0_m100_3150dca9dc76.json")
    (hot_jupiters,) = parse_arxiv_api(body)
    assert hot_jupiters.id == "astro-ph/0601001"
    assert hot_jupiters.version == 1
    assert hot_jupiters.categories == ("astro-ph",)
    assert hot_jupiters.abstract.startswith("We derive the frequencies of hot Jupiters")
    assert "Gould & Morgan (2003)" in hot_jupiters.abstract
    assert "V_max<17.5" in hot_jupiters.abstract
    assert hot_jupiters.authors == (
        "Andrew Gould",
        "Susan Dorsher",
        "B. Scott Gaudi",
        "Andrzej Udalski",
    )
    assert hot_jupiters.comment is not None and hot_jupiters.comment.startswith("62 pages")


def test_hundred_entry_search() -> None:
    _, body = capture("q_testing_s0_m100_cfe7536492ca.json")
    papers = parse_arxiv_api(body)
    assert len(papers) == 100
    assert len({p.id for p in papers}) == 100
    assert all(p.title and p.abstract and p.authors and p.categories for p in papers)
    assert all(p.version is not None and p.version >= 1 for p in papers)
    first = papers[0]
    assert first.id == "2202.12139"
    assert first.categories == ("cs.SE", "cs.LG")
    assert first.comment == "Artificial Intelligence in Software Testing 2022 workshop @ ICST 2022"


def test_query_transformer_xml() -> None:
    papers = parse_arxiv_api((FIXTURES / "query_transformer.xml").read_bytes())
    assert len(papers) == 5
    mana = papers[0]
    assert mana.id == "2606.13677"
    assert mana.title == "Mana: Dexterous Manipulation of Articulated Tools"
    # primary first (from <arxiv:primary_category>), then the others in order, no repeats
    assert mana.categories == ("cs.RO", "cs.AI", "cs.CV", "cs.LG")
    assert mana.authors == ("Zhao-Heng Yin", "Guanya Shi", "Pieter Abbeel", "C. Karen Liu")
    assert "(<1 minute per tool)" in mana.abstract
    assert mana.comment == "Project Page: https://zhaohengyin.github.io/mana"


def test_primary_category_comes_first_even_when_listed_later() -> None:
    body = b"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">
  <entry>
    <id>http://arxiv.org/abs/2401.01234v3</id>
    <title>  Multi
      line   title </title>
    <summary>x</summary>
    <category term="cs.AI" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
    <arxiv:primary_category term="cs.LG"/>
  </entry>
</feed>"""
    (got,) = parse_arxiv_api(body)
    assert (got.id, got.version) == ("2401.01234", 3)
    assert got.title == "Multi line title"
    assert got.categories == ("cs.LG", "cs.AI")
    assert got.authors == () and got.comment is None


@pytest.mark.parametrize("body", [b"", b"<html><body>busy</body></html>", b"Rate exceeded."])
def test_not_an_atom_feed(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_arxiv_api(body)


def test_id_list_url() -> None:
    url = id_list_url(["2401.01234", "arXiv:2401.01234", "hep-th/9901001v2", "1707.08567"])
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://export.arxiv.org/api/query"
    query = parse_qs(parts.query)
    assert query == {"id_list": ["2401.01234,hep-th/9901001v2,1707.08567"], "max_results": ["3"]}
    assert url == (
        "https://export.arxiv.org/api/query"
        "?id_list=2401.01234,hep-th/9901001v2,1707.08567&max_results=3"
    )


def test_id_list_url_limits() -> None:
    hundred = [f"2401.{i:05d}" for i in range(1, 101)]
    assert "max_results=100" in id_list_url(hundred)
    with pytest.raises(ValueError, match="at most 100"):
        id_list_url([*hundred, "2401.00101"])
    with pytest.raises(ValueError, match="at least one"):
        id_list_url([])
    with pytest.raises(UnknownPaperError):
        id_list_url(["abc"])
    with pytest.raises(TypeError):
        id_list_url("2401.01234")
