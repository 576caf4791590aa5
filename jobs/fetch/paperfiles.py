"""Papers from files people hand us: JSONL lines `{"id","title","abstract","authors","categories"}`.

Every bad line is reported with the file and the line number; nothing is half-read. Lines
end at LF only (a raw U+2028 or U+0085 inside a JSON string is text, not a line break), a
line nested too deeply for the parser is a bad line, not a crash. A bad file is an
InputFileError: the CLI exits 2, as for any bad argument. Fields are not capped here: what
is stored is capped (and counted) as a SourcePaper (jobs.core.records).
"""

from __future__ import annotations

import contextlib
import json
import logging
from datetime import date
from pathlib import Path
from typing import Any

from paperboy.jobs.core.errors import InputFileError, UnknownPaperError
from paperboy.jobs.core.ids import canonical_arxiv_id
from paperboy.recommender import Paper

log = logging.getLogger(__name__)


class PaperFileError(InputFileError):
    """A papers file is unreadable or has a bad line (the message names file and line)."""


def undecodable(path: Path, data: bytes, error: UnicodeDecodeError) -> str:
    """`file:line: not UTF-8 …` for bytes that failed to decode at `error.start`."""
    line = data[: error.start].count(b"\n") + 1
    return f"{path}:{line}: not UTF-8 (byte {data[error.start]:#04x}; save the file as UTF-8)"


def _strings(value: Any, path: Path, number: int, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PaperFileError(f"{path}:{number}: {key!r} must be a list of strings")


def _record(obj: Any, path: Path, number: int) -> Paper:
    if not isinstance(obj, dict):
        raise PaperFileError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}")
    raw_id = obj.get("id")
    title = obj.get("title") or ""
    abstract = obj.get("abstract") or ""
    if not isinstance(title, str) or not isinstance(abstract, str):
        raise PaperFileError(f"{path}:{number}: 'title' and 'abstract' must be strings")
    if raw_id is None or raw_id == "":
        if not title:
            raise PaperFileError(f"{path}:{number}: a paper needs an 'id' or a 'title'")
        pid = title  # jobs.core.ids would hash it; the title itself is stable enough for one run
    else:
        pid = str(raw_id).strip()
        # Not an arXiv id: keep the id the file gives (a DOI, a local key).
        with contextlib.suppress(UnknownPaperError):
            pid = canonical_arxiv_id(pid)[0]
    announced = None
    if isinstance(obj.get("announced"), str):
        try:
            announced = date.fromisoformat(obj["announced"])
        except ValueError as e:
            raise PaperFileError(f"{path}:{number}: 'announced' is not a date: {e}") from e
    return Paper(
        id=pid,
        title=title,
        abstract=abstract,
        authors=_strings(obj.get("authors"), path, number, "authors"),
        categories=_strings(obj.get("categories"), path, number, "categories"),
        announced=announced,
    )


def read_jsonl(path: Path) -> list[Paper]:
    """Read a JSONL papers file into the ranker's Papers.

    PaperFileError names the file and the line of the first bad line.
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise PaperFileError(f"cannot read {path}: {e.strerror or e}") from e
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PaperFileError(undecodable(path, data, e)) from e
    records = []
    # Not splitlines(): it also breaks at U+2028, U+0085 and others that JSON strings may
    # hold raw; JSON Lines ends a line at LF (a CR before it is JSON whitespace).
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise PaperFileError(f"{path}:{number}: not valid JSON: {e.msg}") from e
        except RecursionError as e:  # [[[[…]]]] deeper than the parser's stack
            raise PaperFileError(f"{path}:{number}: JSON nested too deeply") from e
        records.append(_record(obj, path, number))
    return records
