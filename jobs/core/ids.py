"""arXiv identifiers: turn whatever people paste into one canonical id.

The canonical id is the arXiv id without its version: ``2401.01234`` (new style, since
April 2007) or ``hep-th/9901001`` (old style, archive/YYMMNNN; the subject class of
``math.GT/0309136`` is not part of the id, so that one is ``math/0309136``).
See https://info.arxiv.org/help/arxiv_identifier.html for the scheme.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from paperboy.jobs.core.errors import UnknownPaperError

__all__ = [
    "abs_url",
    "canonical_arxiv_id",
    "canonical_doi",
    "is_arxiv_id",
    "pdf_url",
    "title_key",
]

_ID = r"""
    (?:
        (?P<yymm>\d{4})\.(?P<number>\d{4,5})                      # 2401.01234
      | (?P<archive>[a-z]+(?:-[a-z]+)?)(?:\.[a-z]{2})?/(?P<old>\d{7})  # math.GT/0309136
    )
    (?:v(?P<version>\d+))?
"""
_PREFIX = r"""
    (?:
        arxiv:
      | oai:arxiv\.org:
      | (?:(?:https?://)?(?:dx\.)?doi\.org/|doi:)?10\.48550/arxiv\.
      | (?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/(?:arxiv:)?
    )?
"""
_SUFFIX = r"(?:\.pdf)?/?(?:[?#].*)?"
_PATTERN = re.compile(_PREFIX + _ID + _SUFFIX, re.IGNORECASE | re.VERBOSE)

_EXPECTED = "expected e.g. 2401.01234, hep-th/9901001 or an arxiv.org URL"


def canonical_arxiv_id(text: str) -> tuple[str, int | None]:
    """Return ``(id without version, version or None)`` for any form of an arXiv id.

    Accepts bare ids, ``arXiv:`` prefixes, abs/pdf/html URLs, OAI identifiers and arXiv
    DOIs. Raises UnknownPaperError for anything else, or for an id whose month or number
    width cannot exist (arXiv ids are checked, not just pattern-matched).
    """
    match = _PATTERN.fullmatch(text.strip())
    if match is None:
        raise UnknownPaperError(f"not an arXiv id: {text!r} ({_EXPECTED})")
    version_text = match["version"]
    version = int(version_text) if version_text is not None else None
    if version == 0:
        raise UnknownPaperError(f"not an arXiv id: {text!r} (versions start at v1)")
    if match["yymm"] is not None:
        yymm, number = match["yymm"], match["number"]
        _check_month(text, yymm)
        if int(yymm) < 704:
            raise UnknownPaperError(
                f"not an arXiv id: {text!r} (new-style ids start in April 2007, 0704.xxxx)"
            )
        # The number grew from 4 to 5 digits with January 2015 (1501.00001).
        width = 4 if int(yymm) < 1501 else 5
        if len(number) != width:
            raise UnknownPaperError(
                f"not an arXiv id: {text!r} (ids from {yymm} have a {width}-digit number)"
            )
        if int(number) == 0:
            raise UnknownPaperError(f"not an arXiv id: {text!r} (numbers start at 1)")
        return f"{yymm}.{number}", version
    old = match["old"]
    _check_month(text, old[:4])
    return f"{match['archive'].lower()}/{old}", version


def _check_month(text: str, yymm: str) -> None:
    if not 1 <= int(yymm[2:]) <= 12:
        raise UnknownPaperError(f"not an arXiv id: {text!r} (month {yymm[2:]} in {yymm})")


def is_arxiv_id(text: str) -> bool:
    """True if canonical_arxiv_id() accepts ``text``."""
    try:
        canonical_arxiv_id(text)
    except UnknownPaperError:
        return False
    return True


def _with_version(text: str) -> str:
    arxiv_id, version = canonical_arxiv_id(text)
    return arxiv_id if version is None else f"{arxiv_id}v{version}"


def abs_url(arxiv_id: str) -> str:
    """The abstract page, ``https://arxiv.org/abs/ID`` (keeps a version if one is given)."""
    return f"https://arxiv.org/abs/{_with_version(arxiv_id)}"


def pdf_url(arxiv_id: str) -> str:
    """The PDF, ``https://arxiv.org/pdf/ID`` (keeps a version if one is given)."""
    return f"https://arxiv.org/pdf/{_with_version(arxiv_id)}"


# --- papers without an arXiv id (issue #6: BibTeX libraries) ---------------------------

_DOI = re.compile(
    r"^(?:doi:\s*|(?:https?://)?(?:dx\.)?doi\.org/)?(?P<doi>10\.\d{4,9}/\S+)$", re.IGNORECASE
)
_NOT_WORD = re.compile(r"[\W_]+")


def canonical_doi(text: str) -> str | None:
    """The DOI in ``text`` (bare, ``doi:`` or a doi.org URL), lower-cased; None if there is none.

    DOIs are case-insensitive, so the lower-case form is the one stored. An arXiv DOI
    (10.48550/arXiv.X) is a DOI too: callers try :func:`canonical_arxiv_id` first.
    """
    match = _DOI.match(text.strip())
    if match is None:
        return None
    return match["doi"].rstrip(".,;").lower()


def normalised_title(title: str) -> str:
    """A title folded for comparison: accents and case folded, punctuation to spaces.

    Takes plain text (convert LaTeX first): "Schölkopf's {RL}" and "scholkopf s rl" agree.
    """
    decomposed = unicodedata.normalize("NFKD", title)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NOT_WORD.sub(" ", stripped.casefold()).split())


def title_key(title: str) -> str:
    """The canonical id of a paper known only by its title: ``title:`` + 16 hex digits.

    A hash of :func:`normalised_title`, so the same title typed twice (other case, accents,
    punctuation) gives the same id, and the id never looks like an arXiv id or a DOI.
    """
    digest = hashlib.sha256(normalised_title(title).encode("utf-8")).hexdigest()
    return f"title:{digest[:16]}"
