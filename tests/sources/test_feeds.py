"""Any RSS/Atom feed: bioRxiv (RSS 1.0), a journal (Atom), a blog (RSS 2.0), and abuse."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest

from paperboy.jobs.core.errors import ParseError
from paperboy.jobs.core.ids import title_key
from paperboy.jobs.fetch.sources.feeds import html_to_text, parse_feed, split_authors

FEEDS = Path(__file__).parents[1] / "fixtures" / "feeds"
BIORXIV = FEEDS / "biorxiv-neuroscience.rdf"
JOURNAL = FEEDS / "journal-atom.xml"
BLOG = FEEDS / "blog-rss.xml"
BIORXIV_URL = "https://connect.biorxiv.org/biorxiv_xml/neuroscience"


def parse(path: Path) -> list[object]:
    return list(parse_feed(path.read_bytes(), url="https://example.org/feed", name="t").papers)


# --- the three kinds of feed ----------------------------------------------------------


def test_biorxiv_items_are_keyed_by_doi_with_text_and_authors() -> None:
    feed = parse_feed(BIORXIV.read_bytes(), url=BIORXIV_URL, name="bioRxiv neuroscience")
    assert feed.title == "bioRxiv Subject Collection: Neuroscience"
    assert [p.id for p in feed.papers] == [
        "10.1101/2026.06.08.663412",
        "10.1101/2026.06.09.664018",
        "10.1101/2026.06.05.661977",
        "10.1101/2026.06.09.664230",
        "10.1101/2026.06.10.664501",
    ]
    first, second, revised, _many, no_abstract = feed.papers
    assert first.title == (
        "Hippocampal replay sequences compress spatial trajectories during sleep in freely "
        "moving rats"
    )
    assert first.abstract.startswith("Hippocampal place cells reactivate sequences")
    assert first.abstract.endswith("for consolidation.")
    # bioRxiv writes "Surname, I., Surname, I.": pairs, not one name per comma.
    assert first.authors == ("C. Okafor", "E. Lindqvist", "J.-P. Moreau", "H. Tanaka")
    assert first.link == "http://biorxiv.org/cgi/content/short/2026.06.08.663412v1?rss=1"
    assert first.announced == date(2026, 6, 11)
    assert (first.categories, first.version, first.announce_type) == ((), None, None)
    # HTML in title and abstract becomes text; entities are decoded; accents kept.
    assert (
        second.title
        == "Dopamine D2 receptors gate reward prediction errors in the ventral striatum"
    )
    assert "Whether D2-expressing neurons" in second.abstract
    assert "in mice & found" in second.abstract and "(p < 0.001)" in second.abstract
    assert "<" not in second.abstract.replace("p < 0.001", "")
    assert second.authors == ("L. Brand\u00e3o", "M. Sch\u00e4fer", "T. A. Nguy\u1ec5n")
    # A second version has the same DOI: one paper, whatever the version in the link.
    assert revised.id == "10.1101/2026.06.05.661977"
    assert revised.link.endswith("661977v2?rss=1")
    assert no_abstract.abstract == ""
    assert no_abstract.authors == ("G. Whitfield",)


def test_journal_atom_feed_reads_info_doi_ids_and_html_titles() -> None:
    feed = parse_feed(JOURNAL.read_bytes(), url="https://journals.plos.org/x", name="PLOS CB")
    assert feed.title == "PLOS Computational Biology: New Articles"
    assert feed.announced == date(2026, 6, 11)
    assert [p.id for p in feed.papers] == [
        "10.1371/journal.pcbi.1012874",
        "10.1371/journal.pcbi.1012901",
        "10.1371/journal.pcbi.1012655",
        "10.1371/journal.pcbi.1012912",  # the DOI read from the ?id= of an article URL
    ]
    first, second, correction, plain = feed.papers
    assert first.title == (
        "Inferring synaptic plasticity rules from spike trains with simulation-based inference"
    )
    assert first.authors == ("Am\u00e9lie Vasseur", "Tom\u00e1s Okonkwo-Reyes", "Yuki Hamasaki")
    assert first.link == (
        "https://journals.plos.org/ploscompbiol/article?id=10.1371/journal.pcbi.1012874"
    )
    assert "neural posterior estimation" in first.abstract
    assert "<p>" not in first.abstract
    assert first.announced == date(2026, 6, 11)
    assert second.announced == date(2026, 6, 10)  # published, not updated
    assert correction.title == "Correction: Whole-brain models of C. elegans locomotion"
    # No <summary>: the <content> is the abstract, as text.
    assert correction.abstract == (
        "There is an error in the caption of Fig 3. The correct caption is: "
        "Fig 3. Head-swing amplitude across conditions."
    )
    assert plain.abstract.startswith("Humans leave patches later")


def test_blog_items_arxiv_link_doi_guid_or_title_hash() -> None:
    feed = parse_feed(BLOG.read_bytes(), url="https://gradientnotes.example.org/feed/", name="b")
    assert feed.title == "Gradient Notes \u2013 a lab blog on learning systems"
    arxiv, bandits, arxiv_doi, book = feed.papers
    # A post whose link is an arXiv paper is that paper, without a version, so its
    # post title never replaces the paper's own (storage: only newer versions overwrite).
    assert (arxiv.id, arxiv.version) == ("2606.13681", None)
    assert arxiv.abstract.startswith("This week we read EvoArena")
    assert arxiv.authors == ("Priya Raman",)
    # Neither arXiv nor DOI: the hash of the title, stable across case and punctuation.
    assert bandits.id == title_key("What we got wrong about warm-starting bandits")
    assert bandits.id == title_key("WHAT we got wrong about warm starting bandits!")
    assert bandits.announced == date(2026, 6, 8)  # the day as written (-0700), not UTC's
    assert bandits.abstract.startswith("Two years ago we argued")
    assert bandits.abstract.endswith("slow learning down \u2026")
    # An arXiv DOI link is the arXiv paper.
    assert arxiv_doi.id == "2605.20001"
    assert arxiv_doi.authors == ("Priya Raman", "Jonas Feld", "Mei Lin")
    assert arxiv_doi.abstract == "A short note on the journal version of our datasets paper."
    # A doi.org guid.
    assert book.id == "10.1017/9781009305068"
    assert (
        book.abstract == "Our notes on chapters 1\u20133 of the book, with the exercises we liked."
    )


def test_script_in_content_is_not_text() -> None:
    item = (
        "<item><title>T</title><link>https://b.example/p</link>"
        "<content:encoded><![CDATA[<p>Kept.</p><script>evil()</script><style>p{}</style>"
        "<p>Also kept.</p>]]></content:encoded></item>"
    )
    [paper] = parse_feed(rss(item), url="u", name="b").papers
    assert paper.abstract == "Kept. Also kept."


# --- ids --------------------------------------------------------------------------------


def rss(items: str, *, channel_date: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:prism="http://prismstandard.org/namespaces/basic/2.0/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>Feed</title><link>https://feed.example/</link>{channel_date}"
        f"{items}</channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("<link>https://arxiv.org/abs/2401.01234v3</link>", "2401.01234"),
        ("<link>https://arxiv.org/pdf/hep-th/9901001v1</link>", "hep-th/9901001"),
        ("<guid>oai:arXiv.org:2401.01234v2</guid>", "2401.01234"),
        ("<dc:identifier>arXiv:2401.01234</dc:identifier>", "2401.01234"),
        ("<prism:doi>10.1038/S41586-026-01234-5</prism:doi>", "10.1038/s41586-026-01234-5"),
        ("<dc:identifier>doi:10.1101/857789</dc:identifier>", "10.1101/857789"),
        ("<guid>https://doi.org/10.1145/3580305.3599256</guid>", "10.1145/3580305.3599256"),
        ("<guid>info:doi/10.1371/journal.pone.0312345</guid>", "10.1371/journal.pone.0312345"),
        ("<link>https://dx.doi.org/10.1002%2Fanie.202601234</link>", "10.1002/anie.202601234"),
        (
            "<link>https://onlinelibrary.wiley.com/doi/full/10.1002/anie.202601234</link>",
            "10.1002/anie.202601234",
        ),
        (
            "<link>https://pubs.acs.org/doi/10.1021/jacs.6b01234?ref=rss</link>",
            "10.1021/jacs.6b01234",
        ),
        (
            "<link>https://www.biorxiv.org/content/10.1101/2026.06.08.663412v2.full</link>",
            "10.1101/2026.06.08.663412",
        ),
        (
            "<link>https://www.medrxiv.org/content/10.1101/2026.05.30.26354012v1</link>",
            "10.1101/2026.05.30.26354012",
        ),
        # An arXiv link wins over a DOI: the arXiv id is the canonical id when there is one.
        (
            "<link>https://arxiv.org/abs/2401.01234</link><prism:doi>10.1/x</prism:doi>",
            "2401.01234",
        ),
        # A URL with a DOI-like piece that is not a publisher's DOI path stays a title.
        ("<link>https://news.example/2026/10.1234/story</link>", title_key("A paper")),
    ],
)
def test_canonical_id(fields: str, expected: str) -> None:
    [paper] = parse_feed(
        rss(f"<item><title>A paper</title>{fields}</item>"), url="u", name="x"
    ).papers
    assert paper.id == expected


def test_an_overlong_doi_falls_back_to_the_title() -> None:
    doi = "10.1234/" + "x" * 200
    [paper] = parse_feed(
        rss(f"<item><title>Long</title><prism:doi>{doi}</prism:doi></item>"), url="u", name="x"
    ).papers
    assert paper.id == title_key("Long")


def test_item_without_title_or_id_is_skipped_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    items = (
        "<item><description>nothing to key it by</description></item>"
        "<item><title>  </title><link>https://b.example/x</link></item>"
        "<item><link>https://doi.org/10.5555/kept</link></item>"
        "<item><title>Kept too</title></item>"
    )
    with caplog.at_level(logging.WARNING, logger="paperboy.jobs.fetch.sources.feeds"):
        feed = parse_feed(rss(items), url="https://b.example/feed", name="blog")
    assert [p.id for p in feed.papers] == ["10.5555/kept", title_key("Kept too")]
    assert feed.papers[0].title == ""
    assert feed.papers[0].link == "https://doi.org/10.5555/kept"
    assert "skipped 2" in caplog.text and "'blog'" in caplog.text


def test_items_without_a_date_take_the_channel_day() -> None:
    items = (
        "<item><title>Undated</title></item>"
        "<item><title>Dated</title><pubDate>Mon, 01 Jun 2026 10:00:00 GMT</pubDate></item>"
    )
    feed = parse_feed(
        rss(items, channel_date="<pubDate>Thu, 11 Jun 2026 08:00:00 +0200</pubDate>"),
        url="u",
        name="x",
    )
    assert feed.announced == date(2026, 6, 11)
    assert [p.announced for p in feed.papers] == [date(2026, 6, 11), date(2026, 6, 1)]
    bare = parse_feed(rss("<item><title>Undated</title></item>"), url="u", name="x")
    assert bare.papers[0].announced is None  # the fetch job dates it by the fetch


# --- authors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (
            "Kukla, D., Crampton, A., Wood, D., Khetani, S.",
            ["D. Kukla", "A. Crampton", "D. Wood", "S. Khetani"],
        ),
        ("Moreau, J.-P., Ng, A. Y.", ["J.-P. Moreau", "A. Y. Ng"]),
        ("Zhang, JA, Li, X.", ["JA Zhang", "X. Li"]),
        ("Doe, Jane; Roe, John", ["Jane Doe", "John Roe"]),
        (
            "Ada Lovelace, Alan Turing and Grace Hopper",
            ["Ada Lovelace", "Alan Turing", "Grace Hopper"],
        ),
        ("Ada Lovelace & Alan Turing", ["Ada Lovelace", "Alan Turing"]),
        ("Jane Doe (MIT, Cambridge), John Roe", ["Jane Doe", "John Roe"]),
        ("Wang, Li, Chen, Bo", ["Wang", "Li", "Chen", "Bo"]),  # no initials: four names
        ("  ", []),
    ],
)
def test_split_authors(text: str, names: list[str]) -> None:
    assert split_authors(text) == names


def test_atom_authors_one_element_each_and_rss_email_form() -> None:
    items = (
        "<item><title>T</title><author>jane@example.org (Jane Doe)</author>"
        "<dc:creator>Jane Doe</dc:creator>"
        "<dc:creator>John &lt;b&gt;Roe&lt;/b&gt;</dc:creator></item>"
    )
    [paper] = parse_feed(rss(items), url="u", name="x").papers
    assert paper.authors == ("Jane Doe", "John Roe")


def test_three_thousand_authors() -> None:
    creators = ", ".join(f"Surname{k}, A." for k in range(3000))
    [paper] = parse_feed(
        rss(f"<item><title>Big</title><dc:creator>{creators}</dc:creator></item>"),
        url="u",
        name="x",
    ).papers
    assert len(paper.authors) == 3000
    assert paper.authors[-1] == "A. Surname2999"


def test_html_to_text() -> None:
    assert html_to_text("<p>a&amp;b</p><p>c&nbsp;d</p>") == "a&b c d"  # nbsp is a space too
    assert html_to_text("x < y and <i>z</i>") == "x < y and z"
    assert html_to_text("<p>unclosed <b>bold") == "unclosed bold"


# --- what is not a feed -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"", "empty response"),
        (b"<!DOCTYPE html><html><head><title>Sign in</title></head></html>", "HTML page"),
        (b"<html><body>Service unavailable</body></html>", "HTML page"),
        (b'{"items": []}', "not an RSS or Atom feed"),
        (b"<?xml version='1.0'?><note><to>x</to></note>", "not an RSS or Atom feed"),
        (
            b"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;'>]>"
            b"<rss version='2.0'><channel><title>&b;</title></channel></rss>",
            "declares XML entities",
        ),
    ],
)
def test_what_is_not_a_feed_raises_naming_the_feed(body: bytes, match: str) -> None:
    with pytest.raises(ParseError, match=match) as caught:
        parse_feed(body, url=BIORXIV_URL, name="bioRxiv neuroscience")
    assert "'bioRxiv neuroscience'" in str(caught.value)
    assert BIORXIV_URL in str(caught.value)


@pytest.mark.parametrize("path", [BIORXIV, JOURNAL, BLOG])
@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.9])
def test_a_truncated_feed_raises(path: Path, fraction: float) -> None:
    data = path.read_bytes()
    with pytest.raises(ParseError, match="truncated"):
        parse_feed(data[: int(len(data) * fraction)], url="u", name="x")


def test_a_complete_feed_with_a_stray_ampersand_is_read_leniently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = BLOG.read_bytes().replace(b"Papers we read, code we wrote", b"Papers & code")
    with caplog.at_level(logging.WARNING, logger="paperboy.jobs.fetch.sources.feeds"):
        feed = parse_feed(data, url="u", name="x")
    assert len(feed.papers) == 4
    assert "parsed leniently" in caplog.text


def test_latin1_feed_declared_and_mislabelled() -> None:
    title = "Caf\u00e9 na\u00efve r\u00e9sum\u00e9"
    declared = rss(f"<item><title>{title}</title></item>").replace(b"UTF-8", b"ISO-8859-1")
    declared = declared.decode("utf-8").encode("latin-1")
    [paper] = parse_feed(declared, url="u", name="x").papers
    assert paper.title == title
    # Declared UTF-8 but written in Latin-1: feedparser falls back; nothing is lost.
    mislabelled = rss(f"<item><title>{title}</title></item>").decode("utf-8").encode("latin-1")
    [paper] = parse_feed(mislabelled, url="u", name="x").papers
    assert paper.title == title


def test_an_empty_channel_is_a_feed_without_papers() -> None:
    feed = parse_feed(rss(""), url="u", name="x")
    assert (feed.papers, feed.title) == ((), "Feed")


def test_five_thousand_items() -> None:
    items = "".join(
        f"<item><title>Paper number {n}</title><link>https://doi.org/10.5555/p{n}</link>"
        f"<description>Abstract {n}.</description></item>"
        for n in range(5000)
    )
    feed = parse_feed(rss(items), url="u", name="x")
    assert len(feed.papers) == 5000
    assert feed.papers[4999].id == "10.5555/p4999"
