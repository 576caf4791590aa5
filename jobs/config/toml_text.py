"""Splice values into, and out of, the text of one TOML array, keeping everything else.

The file is a person's: their comments, order, spacing and quoting stay as they wrote them,
byte for byte outside the array being edited (issue #6). This module knows TOML's syntax
only (strings, arrays, commas, comments), from an offset where a value starts; which
array belongs to which user is :mod:`paperboy.jobs.config.lists`'s business.

- an added value goes where a person would type it: ``, "x"`` after the last element of a
  one-line array, a new line (same indentation, same comma style) in a multi-line one;
- a removed value takes its separator, or its whole line with its comment, along;
- adding a value and removing it again gives back the original text exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tomlkit

from paperboy.jobs.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "str" | "comma" | "comment" | "newline" | "space" | "open" | "close"
    start: int
    end: int


_SPACE = re.compile(r"[ \t]+")

_BASIC = re.compile(r'"(?:[^"\\\n]|\\.)*"')

_LITERAL = re.compile(r"'[^'\n]*'")

_COMMENT = re.compile(r"#[^\r\n]*")


def _match_end(pattern: re.Pattern[str], text: str, pos: int) -> int:
    match = pattern.match(text, pos)
    return match.end() if match else pos + 1


def _string_end(text: str, pos: int) -> int:
    """The end of the string that starts at `pos` (basic, literal or multi-line)."""
    for quote in ('"""', "'''"):
        if text.startswith(quote, pos):
            i = pos + 3
            while True:
                j = text.find(quote, i)
                if j < 0:
                    raise ConfigError("unterminated multi-line string")
                if quote == '"""' and _escaped(text, j):
                    i = j + 1
                    continue
                # A multi-line string may end with up to two extra quotes: """a"""".
                while text.startswith(quote[0], j + 3) and j + 3 < len(text):
                    j += 1
                return j + 3
    match = (_BASIC if text[pos] == '"' else _LITERAL).match(text, pos)
    if match is None:
        raise ConfigError("unterminated string")
    return match.end()


def _escaped(text: str, j: int) -> bool:
    backslashes = 0
    while j - 1 - backslashes >= 0 and text[j - 1 - backslashes] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _tokens(text: str, start: int) -> tuple[list[_Token], int]:
    """Tokens of the array that opens at text[start] == "[", and the offset after its "]"."""
    tokens: list[_Token] = []
    depth = 0
    pos = start
    while pos < len(text):
        ch = text[pos]
        if ch in "[{":
            depth += 1
            tokens.append(_Token("open", pos, pos + 1))
            pos += 1
        elif ch in "]}":
            depth -= 1
            tokens.append(_Token("close", pos, pos + 1))
            pos += 1
            if depth == 0:
                return tokens, pos
        elif ch in "\"'":
            end = _string_end(text, pos)
            tokens.append(_Token("str", pos, end))
            pos = end
        elif ch == ",":
            tokens.append(_Token("comma", pos, pos + 1))
            pos += 1
        elif ch == "#":
            end = _match_end(_COMMENT, text, pos)
            tokens.append(_Token("comment", pos, end))
            pos = end
        elif ch == "\n" or text.startswith("\r\n", pos):
            end = pos + (1 if ch == "\n" else 2)
            tokens.append(_Token("newline", pos, end))
            pos = end
        elif ch in " \t":
            end = _match_end(_SPACE, text, pos)
            tokens.append(_Token("space", pos, end))
            pos = end
        else:  # a number, a boolean, a date: not a list of strings
            end = pos + 1
            tokens.append(_Token("other", pos, end))
            pos = end
    raise ConfigError("unterminated array")


def _value_end(text: str, start: int) -> int:
    """The offset just after the TOML value that starts at `start`."""
    if text[start] in "[{":
        return _tokens(text, start)[1]
    if text[start] in "\"'":
        return _string_end(text, start)
    end = text.find("\n", start)
    return len(text) if end < 0 else end


def _line_end(text: str, pos: int) -> int:
    """The offset after the newline that ends the line `pos` is on (or the end of text)."""
    end = text.find("\n", pos)
    return len(text) if end < 0 else end + 1


@dataclass(frozen=True, slots=True)
class _Element:
    start: int
    end: int
    comma: _Token | None  # the comma that follows the element, if any
    index: int  # token index


def _elements(tokens: list[_Token]) -> list[_Element]:
    out: list[_Element] = []
    for i, tok in enumerate(tokens):
        if tok.kind == "other" or (tok.kind == "open" and i > 0):
            raise ConfigError("the list holds something other than strings; fix it by hand")
        if tok.kind != "str":
            continue
        comma = None
        for nxt in tokens[i + 1 :]:
            if nxt.kind == "comma":
                comma = nxt
                break
            if nxt.kind not in ("space", "newline", "comment"):
                break
        out.append(_Element(tok.start, tok.end, comma, i))
    return out


def _alone_on_line(text: str, tokens: list[_Token], el: _Element) -> bool:
    """Only spaces before the element on its line; after it only a comma, spaces and a
    comment before the end of the line."""
    before = tokens[el.index - 1] if el.index > 0 else None
    if before is not None and before.kind == "space":
        before = tokens[el.index - 2] if el.index > 1 else None
    if before is None or before.kind != "newline":
        return False
    for tok in tokens[el.index + 1 :]:
        if tok.kind == "newline":
            return True
        if tok.kind not in ("space", "comma", "comment"):
            return False
    return False


def _render(value: str) -> str:
    return tomlkit.string(value).as_string()


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _indent_of(text: str, pos: int) -> str:
    """The spaces and tabs that start the line `pos` is on."""
    line_start = text.rfind("\n", 0, pos) + 1
    line = text[line_start:pos]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _append(text: str, start: int, value: str) -> str:
    """Append `value` to the array (or single string) whose value starts at `start`."""
    item = _render(value)
    if text[start] in "\"'":  # `keywords = "bandits"`: becomes a list
        end = _string_end(text, start)
        return f"{text[:start]}[{text[start:end]}, {item}]{text[end:]}"
    tokens, _end = _tokens(text, start)
    elements = _elements(tokens)
    nl = _newline(text)
    if not elements:
        close = tokens[-1]
        line_start = text.rfind("\n", start, close.start) + 1
        if line_start > start and not text[line_start : close.start].strip():
            # A multi-line empty array: a new line before the closing bracket.
            inner = [t for t in tokens if t.kind == "comment"]
            indent = _indent_of(text, inner[-1].start) if inner else "    "
            return f"{text[:line_start]}{indent}{item},{nl}{text[line_start:]}"
        return f"{text[: start + 1]}{item}{text[start + 1 :]}"
    last = elements[-1]
    if _alone_on_line(text, tokens, last):
        indent = _indent_of(text, last.start)
        after = _line_end(text, last.end)
        line = f"{indent}{item}{',' if last.comma else ''}{nl}"
        if last.comma is None:
            return f"{text[: last.end]},{text[last.end : after]}{line}{text[after:]}"
        return f"{text[:after]}{line}{text[after:]}"
    return f"{text[: last.end]}, {item}{text[last.end :]}"


def _delete(text: str, start: int, index: int) -> str:
    """Delete the index-th element of the array (or the single string) at `start`."""
    if text[start] in "\"'":
        end = _string_end(text, start)
        return f"{text[:start]}[]{text[end:]}"
    tokens, _end = _tokens(text, start)
    elements = _elements(tokens)
    el = elements[index]
    if _alone_on_line(text, tokens, el):
        line_start = text.rfind("\n", 0, el.start) + 1
        cut = text[:line_start] + text[_line_end(text, el.end) :]
        last = index == len(elements) - 1
        previous = elements[index - 1] if index > 0 else None
        if last and el.comma is None and previous is not None and previous.comma is not None:
            # Our own add wrote "b,\n  x\n": give b its comma-less end back.
            c = previous.comma
            cut = cut[: c.start] + cut[c.end :]
        return cut
    prev = elements[index - 1] if index > 0 else None
    nxt = elements[index + 1] if index + 1 < len(elements) else None

    def clean(a: int, b: int, newline_ok: bool) -> bool:
        gap = [t for t in tokens if a <= t.start < b]
        return not any(t.kind == "comment" or (t.kind == "newline" and not newline_ok) for t in gap)

    if prev is not None and clean(prev.end, el.start, False):
        return text[: prev.end] + text[el.end :]
    if nxt is not None and clean(el.end, nxt.start, False):
        return text[: el.start] + text[nxt.start :]
    if prev is not None and clean(prev.end, el.start, True):
        return text[: prev.end] + text[el.end :]
    if nxt is not None and clean(el.end, nxt.start, True):
        return text[: el.start] + text[nxt.start :]
    end = el.comma.end if el.comma is not None else el.end
    return text[: el.start] + text[end:]
