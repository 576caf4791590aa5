"""Read a BibTeX/BibLaTeX library (a Zotero or Mendeley export) into plain dataclasses.

    for each entry of the file (bibtexparser 2):
        arXiv id   = eprint (archivePrefix/eprinttype arXiv, or none given), else an
                     arxiv.org URL, an arXiv DOI (10.48550/arXiv.X) or "arXiv:X" in
                     url / doi / note / howpublished / journal
        with an arXiv id                -> an arXiv paper (it can be saved in config.toml)
        else with a title and abstract  -> a library paper (id: its DOI, else a title key)
        else                            -> skipped, with the reason
    a paper already read from the file (same id, same DOI or same title) is a duplicate

Titles, abstracts and author names are LaTeX in BibTeX (``{\\"o}``, ``\\textit{}``,
protective braces); they come out as plain text. Nothing here touches the network, the
database or config.toml: :mod:`jobs.cli.profile` decides what to do with the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bibtexparser.entrypoint import parse_string
from bibtexparser.middlewares import SeparateCoAuthors
from bibtexparser.model import DuplicateBlockKeyBlock, Entry, ParsingFailedBlock

from paperboy.jobs.core.errors import UnknownPaperError
from paperboy.jobs.core.ids import canonical_arxiv_id, canonical_doi, title_key
from paperboy.jobs.fetch.paperfiles import PaperFileError, undecodable
from paperboy.recommender import Paper
from paperboy.text import latex_to_text

__all__ = [
    "BibLibrary",
    "BibPaper",
    "Duplicate",
    "LibraryError",
    "Skipped",
    "is_bibtex",
    "read_bibtex_papers",
    "read_library",
]

# Fields where an arXiv id hides when there is no eprint: URLs, DOIs, Google Scholar's
# journal = {arXiv preprint arXiv:1706.03762}, Mendeley's note = {arXiv: 1706.03762}.
_ID_FIELDS = ("url", "doi", "note", "howpublished", "journal", "journaltitle")
_ARXIV_IN_TEXT = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf|html)/|10\.48550/arxiv\.|arxiv:\s*)"
    r"(\d{4}\.\d{4,5}(?:v\d+)?|[a-z\-]+(?:\.[a-z]{2})?/\d{7}(?:v\d+)?)",
    re.IGNORECASE,
)
_DOI_IN_TEXT = re.compile(r"(?:doi\.org/|doi:\s*)?(10\.\d{4,9}/[^\s,;{}]+)", re.IGNORECASE)
_ENTRY_KEY = re.compile(r"@\s*\w+\s*[{(]\s*([^,\s]+)")


class LibraryError(PaperFileError):
    """A BibTeX file that cannot be read at all (missing, not UTF-8, no entries): like a
    bad JSONL papers file, an InputFileError (exit status 2)."""


@dataclass(frozen=True, slots=True)
class BibPaper:
    """One usable entry: its canonical id and its text, LaTeX turned into plain text."""

    key: str  # the citation key
    line: int  # where the entry starts in the file (1-based)
    id: str  # arXiv id, else DOI, else title key (see jobs.core.ids)
    arxiv_id: str | None
    doi: str | None
    title: str
    abstract: str
    authors: tuple[str, ...]

    def to_paper(self) -> Paper:
        """The ranker's view of this entry."""
        return Paper(id=self.id, title=self.title, abstract=self.abstract, authors=self.authors)


@dataclass(frozen=True, slots=True)
class Skipped:
    """An entry that was not used, and why."""

    key: str | None
    line: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Duplicate:
    """An entry for a paper the file already had (another key, same paper)."""

    key: str
    line: int
    id: str
    first_key: str


@dataclass(frozen=True, slots=True)
class BibLibrary:
    """A BibTeX file, read: what can be saved, what is kept for the model, what not."""

    path: Path
    entries: int  # entries in the file, parse errors included
    arxiv: tuple[BibPaper, ...]  # with an arXiv id: saved papers
    library: tuple[BibPaper, ...]  # no arXiv id, but a title and an abstract
    duplicates: tuple[Duplicate, ...]
    skipped: tuple[Skipped, ...]


def is_bibtex(path: Path) -> bool:
    """True for a .bib file, or a file whose first non-blank character starts an entry."""
    if path.suffix.lower() in (".bib", ".bibtex", ".biblatex"):
        return True
    try:
        with path.open("rb") as f:
            head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False
    return head.startswith(b"@") or head.startswith(b"%")


def _text(raw: Any) -> str:
    """A BibTeX value as plain text: LaTeX converted, braces gone, spaces collapsed."""
    if not isinstance(raw, str):
        return ""
    return latex_to_text(raw)


def _author(raw: str) -> str:
    """ "Last, First" (or "von Last, Jr, First") as "First von Last Jr"."""
    parts = [p.strip() for p in _split_top_level(raw, ",")]
    if len(parts) == 2:
        raw = f"{parts[1]} {parts[0]}"
    elif len(parts) >= 3:
        raw = f"{parts[2]} {parts[0]} {parts[1]}"
    return _text(raw)


def _split_top_level(text: str, sep: str) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        depth += ch == "{"
        depth -= ch == "}"
        if ch == sep and depth == 0:
            out.append("".join(current))
            current = []
        else:
            current.append(ch)
    out.append("".join(current))
    return out


def _fields(entry: Entry) -> dict[str, Any]:
    """Field values by lower-case name (BibTeX names are case-insensitive)."""
    out: dict[str, Any] = {}
    for f in entry.fields:
        out.setdefault(f.key.lower(), f.value)
    return out


def _arxiv_id(fields: dict[str, Any]) -> str | None:
    eprint = fields.get("eprint")
    kind = str(fields.get("archiveprefix") or fields.get("eprinttype") or "arxiv").lower()
    if isinstance(eprint, str) and kind == "arxiv":
        try:
            return canonical_arxiv_id(eprint.strip("{} "))[0]
        except UnknownPaperError:
            pass
    for name in _ID_FIELDS:
        value = fields.get(name)
        if not isinstance(value, str):
            continue
        found = (m.group(1) for m in _ARXIV_IN_TEXT.finditer(value))
        for candidate in (value.strip("{} "), *found):
            try:
                return canonical_arxiv_id(candidate)[0]
            except UnknownPaperError:
                continue
    return None


def _doi(fields: dict[str, Any]) -> str | None:
    for name in ("doi", "url"):
        value = fields.get(name)
        if isinstance(value, str):
            match = _DOI_IN_TEXT.search(value)
            if match and (name == "doi" or "doi.org/" in value.lower()):
                return canonical_doi(match.group(1))
    return None


def _authors(value: Any) -> tuple[str, ...]:
    names = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    return tuple(a for a in (_author(str(n)) for n in names) if a and a.lower() != "others")


def _failed(block: ParsingFailedBlock) -> Skipped:
    line = block.start_line + 1 if block.start_line is not None else None
    if isinstance(block, DuplicateBlockKeyBlock):
        return Skipped(block.key, line, f"the citation key {block.key!r} is used twice")
    match = _ENTRY_KEY.match(block.raw or "")
    error = block.error
    detail = getattr(error, "abort_reason", None) or str(error) or type(error).__name__
    return Skipped(match.group(1) if match else None, line, f"parse error: {detail}")


def read_library(path: Path) -> BibLibrary:
    """Read a BibTeX/BibLaTeX file; LibraryError only if nothing in it can be read.

    Every entry ends up in exactly one of ``arxiv``, ``library``, ``duplicates`` or
    ``skipped``, so the counts add up to ``entries``.
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise LibraryError(f"cannot read {path}: {e.strerror or e}") from e
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise LibraryError(undecodable(path, data, e) + " (export the library as UTF-8)") from e
    try:
        parsed = parse_string(text, append_middleware=[SeparateCoAuthors()])
    except Exception as e:  # the splitter raises assorted errors on garbage
        raise LibraryError(f"{path}: not a BibTeX file: {e}") from e
    if not parsed.entries and not parsed.failed_blocks:
        raise LibraryError(f"{path}: no BibTeX entries found (expected @article{{...}} etc.)")

    arxiv: list[BibPaper] = []
    library: list[BibPaper] = []
    duplicates: list[Duplicate] = []
    skipped = [_failed(b) for b in parsed.failed_blocks]
    seen: dict[str, str] = {}  # id, DOI or title key -> the citation key that had it first

    for entry in parsed.entries:
        fields = _fields(entry)
        line = (entry.start_line or 0) + 1
        arxiv_id = _arxiv_id(fields)
        doi = _doi(fields)
        title = _text(fields.get("title"))
        abstract = _text(fields.get("abstract"))
        if arxiv_id is None and not title:
            skipped.append(Skipped(entry.key, line, "no arXiv id and no title"))
            continue
        if arxiv_id is None and not abstract:
            skipped.append(Skipped(entry.key, line, "no arXiv id and no abstract"))
            continue
        pid = arxiv_id or doi or title_key(title)
        keys = [pid, *([doi] if doi else []), *([title_key(title)] if title else [])]
        first = next((seen[k] for k in keys if k in seen), None)
        # An arXiv entry is a duplicate only of the same arXiv id: a journal version with
        # the same title and its preprint are one paper, but the preprint can be saved.
        if first is not None and (arxiv_id is None or pid in seen):
            duplicates.append(Duplicate(entry.key, line, pid, first))
            continue
        for k in keys:
            seen.setdefault(k, entry.key)
        paper = BibPaper(
            key=entry.key,
            line=line,
            id=pid,
            arxiv_id=arxiv_id,
            doi=doi,
            title=title,
            abstract=abstract,
            authors=_authors(fields.get("author")),
        )
        (arxiv if arxiv_id else library).append(paper)
    # A journal version read before its preprint: the preprint (savable) wins.
    preprints: dict[str, str] = {}
    for p in arxiv:
        for ident in (p.doi, title_key(p.title) if p.title else None):
            if ident:
                preprints.setdefault(ident, p.key)
    for paper in list(library):
        first = preprints.get(paper.id) or preprints.get(title_key(paper.title))
        if first is not None:
            library.remove(paper)
            duplicates.append(Duplicate(paper.key, paper.line, paper.id, first))
    return BibLibrary(
        path=path,
        entries=len(parsed.entries) + len(parsed.failed_blocks),
        arxiv=tuple(arxiv),
        library=tuple(library),
        duplicates=tuple(duplicates),
        skipped=tuple(sorted(skipped, key=lambda s: s.line or 0)),
    )


def read_bibtex_papers(path: Path) -> list[Paper]:
    """The papers of a BibTeX file with a title and an abstract, for `paperboy rank --saved`.

    Ids: the arXiv id, else the DOI, else the title key. Duplicates are left out.
    """
    found = read_library(path)
    return [p.to_paper() for p in (*found.arxiv, *found.library) if p.title and p.abstract]
