"""canonical_arxiv_id and friends: every form people paste, and what is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperboy.jobs.core.errors import UnknownPaperError
from paperboy.jobs.core.ids import abs_url, canonical_arxiv_id, is_arxiv_id, pdf_url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2401.01234", ("2401.01234", None)),
        ("2401.01234v2", ("2401.01234", 2)),
        ("0704.0001", ("0704.0001", None)),
        ("1412.9999v12", ("1412.9999", 12)),
        ("arXiv:2401.01234", ("2401.01234", None)),
        ("arxiv:2401.01234v3", ("2401.01234", 3)),
        ("ARXIV:2401.01234", ("2401.01234", None)),
        ("https://arxiv.org/abs/2401.01234v2", ("2401.01234", 2)),
        ("https://arxiv.org/pdf/2401.01234v2", ("2401.01234", 2)),
        ("https://arxiv.org/pdf/2401.01234.pdf", ("2401.01234", None)),
        ("https://arxiv.org/pdf/2401.01234v2.pdf", ("2401.01234", 2)),
        ("https://arxiv.org/html/2401.01234v1", ("2401.01234", 1)),
        ("http://export.arxiv.org/abs/2401.01234", ("2401.01234", None)),
        ("https://www.arxiv.org/abs/2401.01234", ("2401.01234", None)),
        ("arxiv.org/abs/2401.01234", ("2401.01234", None)),
        ("https://arxiv.org/abs/2401.01234/", ("2401.01234", None)),
        ("https://arxiv.org/abs/2401.01234?context=cs", ("2401.01234", None)),
        ("http://arxiv.org/abs/hep-th/9901001v2", ("hep-th/9901001", 2)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("hep-th/9901001v2", ("hep-th/9901001", 2)),
        ("math.GT/0309136", ("math/0309136", None)),
        ("arXiv:math.GT/0309136v1", ("math/0309136", 1)),
        ("astro-ph/0601001", ("astro-ph/0601001", None)),
        ("oai:arXiv.org:2508.02711v1", ("2508.02711", 1)),
        ("10.48550/arXiv.2401.01234", ("2401.01234", None)),
        ("https://doi.org/10.48550/arXiv.2401.01234", ("2401.01234", None)),
        ("doi:10.48550/arxiv.2401.01234", ("2401.01234", None)),
        ("  2401.01234\n", ("2401.01234", None)),
        ("\t https://arxiv.org/abs/2401.01234v2 ", ("2401.01234", 2)),
    ],
)
def test_accepts_every_pasted_form(text: str, expected: tuple[str, int | None]) -> None:
    assert canonical_arxiv_id(text) == expected
    assert is_arxiv_id(text)


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "",
        "   ",
        "2401.1234",  # 4-digit number after 2015
        "1412.01234",  # 5-digit number before 2015
        "2413.01234",  # month 13
        "2400.01234",  # month 00
        "0000.0000",
        "0701.0001",  # before new-style ids existed
        "2401.00000",
        "2401.01234v0",
        "2401.01234v",
        "hep-th/9913001",  # month 13
        "hep-th/990100",  # 6 digits
        "https://example.org/abs/2401.01234",
        "https://arxiv.org/list/cs.LG/new",
        "10.1000/xyz123",
        "2401.01234 2401.01235",
    ],
)
def test_refuses_what_is_not_an_id(text: str) -> None:
    assert not is_arxiv_id(text)
    with pytest.raises(UnknownPaperError, match="not an arXiv id"):
        canonical_arxiv_id(text)


def test_error_message_says_what_was_expected() -> None:
    with pytest.raises(UnknownPaperError) as info:
        canonical_arxiv_id("abc")
    assert str(info.value) == (
        "not an arXiv id: 'abc' (expected e.g. 2401.01234, hep-th/9901001 or an arxiv.org URL)"
    )


def test_urls() -> None:
    assert abs_url("2401.01234") == "https://arxiv.org/abs/2401.01234"
    assert pdf_url("2401.01234") == "https://arxiv.org/pdf/2401.01234"
    assert abs_url("hep-th/9901001") == "https://arxiv.org/abs/hep-th/9901001"
    assert pdf_url("arXiv:2401.01234v2") == "https://arxiv.org/pdf/2401.01234v2"
    with pytest.raises(UnknownPaperError):
        abs_url("abc")


@st.composite
def new_style_ids(draw: st.DrawFn) -> str:
    yymm = draw(st.integers(7, 99)) * 100 + draw(st.integers(1, 12))
    if yymm < 704:
        yymm = 704
    width = 4 if yymm < 1501 else 5
    number = draw(st.integers(1, 10**width - 1))
    return f"{yymm:04d}.{number:0{width}d}"


@st.composite
def old_style_ids(draw: st.DrawFn) -> str:
    archive = draw(st.sampled_from(["hep-th", "math", "astro-ph", "cond-mat", "quant-ph", "cs"]))
    year = draw(st.sampled_from([*range(91, 100), *range(0, 8)]))
    month = draw(st.integers(1, 12))
    number = draw(st.integers(1, 999))
    return f"{archive}/{year:02d}{month:02d}{number:03d}"


WRAPPERS = [
    "{}",
    "arXiv:{}",
    "arxiv:{}",
    "https://arxiv.org/abs/{}",
    "http://arxiv.org/abs/{}",
    "https://www.arxiv.org/abs/{}",
    "https://export.arxiv.org/abs/{}",
    "https://arxiv.org/pdf/{}",
    "https://arxiv.org/pdf/{}.pdf",
    "https://arxiv.org/html/{}",
    "oai:arXiv.org:{}",
    "10.48550/arXiv.{}",
    "https://doi.org/10.48550/arXiv.{}",
    "  {}\n",
]


@given(
    arxiv_id=st.one_of(new_style_ids(), old_style_ids()),
    version=st.none() | st.integers(1, 30),
    wrapper=st.sampled_from(WRAPPERS),
)
def test_round_trip(arxiv_id: str, version: int | None, wrapper: str) -> None:
    versioned = arxiv_id if version is None else f"{arxiv_id}v{version}"
    assert canonical_arxiv_id(wrapper.format(versioned)) == (arxiv_id, version)
    assert canonical_arxiv_id(abs_url(versioned)) == (arxiv_id, version)
