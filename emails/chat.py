"""Render a Digest for a chat or push channel (issue #23): a title and Markdown parts.

A digest with sections (a user's collections, issue #23) shows each section's name
before its papers. Each paper is one block: its title linked to the abstract, its score,
the reason it was picked, its TL;DR (or the first sentences of its abstract), and its
links (PDF, Hugging Face, code, and the feedback links "More like this" / "Less like
this" where the digest has them). The digest's headline opens the first part; the
trending papers and the footer's links (profile, pause, unsubscribe) close the last.
Blocks are packed into parts of at most `limit` characters, each paper whole in one part
(a paper longer than a part on its own has its summary cut); with more than one part
each starts with "(k/n)".

Markdown renders in Slack, Discord, Matrix, Telegram, Teams, ntfy (markdown=yes); a
service that shows plain text shows it as readable text with its URLs.
"""

from __future__ import annotations

from paperboy.emails.addresses import safe_url
from paperboy.emails.digest import Digest, DigestItem, section_heading
from paperboy.emails.render import format_day, subject
from paperboy.emails.text import first_sentences
from paperboy.text import collapse_whitespace, latex_to_text

__all__ = ["MIN_LIMIT", "chat_title", "render_chat", "split_blocks"]

MIN_LIMIT = 300  # the smallest part: a paper's title, score, reason and links fit
_MARKER = 12  # room kept in each part for "(12/34)\n\n"
_SUMMARY_CHARS = 300


def _md(text: str) -> str:
    """Text as Markdown shows it literally: one line, its markup characters escaped."""
    out = collapse_whitespace(latex_to_text(text))
    for ch in "\\`*_[]<>#|":
        out = out.replace(ch, "\\" + ch)
    return out


def _link(label: str, url: str | None) -> str | None:
    safe = safe_url(url) if url else None
    return f"[{label}]({safe.replace(')', '%29').replace(' ', '%20')})" if safe else None


def _item(
    n: int, item: DigestItem, summary_chars: int = _SUMMARY_CHARS, title_chars: int = 0
) -> str:
    title = _md(item.title)
    if title_chars and len(title) > title_chars:
        title = title[: title_chars - 1].rstrip(" \\") + "…"
    head = _link(title, item.abs_url) or title
    score = f"{round(max(0.0, min(1.0, item.score)) * 100)}%"
    lines = [f"**{n}. {head}** · score {score}"]
    if item.why:
        lines.append(f"_Why:_ {_md(item.why)}")
    if item.tldr:
        label = f"TL;DR ({_md(item.tldr_source)})" if item.tldr_source else "TL;DR"
        lines.append(f"{label}: {_md(item.tldr)[:summary_chars]}")
    elif item.abstract and summary_chars > 0:
        lines.append(_md(first_sentences(item.abstract, 2, max_chars=summary_chars)))
    links = [
        _link("PDF", item.pdf_url),
        _link("Hugging Face", item.hf_url),
        _link("Code", item.code_url),
        _link("More like this", item.more_url),
        _link("Less like this", item.less_url),
    ]
    shown = [x for x in links if x]
    if shown:
        lines.append(" · ".join(shown))
    return "\n".join(lines)


def chat_title(digest: Digest) -> str:
    """The message's title: the e-mail's subject line."""
    return subject(digest)


def _blocks(digest: Digest, limit: int) -> list[str]:
    user = _md(digest.user_name)
    day = format_day(digest.day, year=False)
    when = f"the week ending {day}" if digest.period == "week" else day
    picked = len(digest.items)
    head = (
        f"**{picked} paper{'s' if picked != 1 else ''}** picked from "
        f"{digest.considered:,} considered, for {user} ({when})"
    )
    if digest.note:
        head += f"\n_{_md(digest.note)}_"
    if not digest.items:
        head += "\nNothing new matched this time."
    blocks = [head]
    room = limit - _MARKER
    heading = {id(item): h for h, item in _section_starts(digest)}
    for n, item in enumerate(_in_order(digest), 1):
        block = _item(n, item)
        if id(item) in heading:  # a collection's section opens with its name
            blocks.append(f"__{_md(heading[id(item)])}__"[:room])
        if len(block) > room:  # a whole paper is kept in one part: its summary goes first,
            block = _item(n, item, summary_chars=0)
        if len(block) > room:  # then its title is shortened (its links stay whole)
            over = len(block) - room
            block = _item(n, item, 0, title_chars=max(20, len(_md(item.title)) - over - 1))
        blocks.append(block if len(block) <= room else block[: room - 1] + "…")
    if digest.trending:
        lines = ["**Trending on Hugging Face**"]
        for t in digest.trending:
            title = _link(_md(t.title), t.abs_url) or _md(t.title)
            mark = " (matches you)" if t.matched else ""
            lines.append(f"- {title} · {t.upvotes:,} upvotes{mark}")
        blocks.extend(_fit(lines, room))
    footer = [
        x
        for x in (
            _link("Your profile", digest.profile_url),
            _link("Pause for a week", digest.pause_url),
            _link("Unsubscribe", digest.unsubscribe_url),
        )
        if x
    ]
    if footer:
        blocks.append(" · ".join(footer))
    return blocks


def _in_order(digest: Digest) -> list[DigestItem]:
    """The items as shown: section by section when the digest has sections (issue #23)."""
    if not digest.sections:
        return list(digest.items)
    return [i for name in digest.sections for i in digest.items if i.collection == name]


def _section_starts(digest: Digest) -> list[tuple[str, DigestItem]]:
    """(heading, first item) of each section that has papers."""
    starts = []
    for name in digest.sections:
        items = [i for i in digest.items if i.collection == name]
        if items:
            count = f"{len(items)} paper{'s' if len(items) != 1 else ''}"
            starts.append((f"{section_heading(name)} · {count}", items[0]))
    return starts


def _fit(lines: list[str], room: int) -> list[str]:
    """Lines joined into blocks of at most `room` characters (a long trending list)."""
    out: list[str] = []
    for line in lines:
        line = line if len(line) <= room else line[: room - 1] + "…"
        if out and len(out[-1]) + 1 + len(line) <= room:
            out[-1] += "\n" + line
        else:
            out.append(line)
    return out


def split_blocks(blocks: list[str], limit: int) -> tuple[str, ...]:
    """Blocks packed in order into parts of at most `limit` characters (blank lines
    between blocks), each block whole in one part; "(k/n)" opens each part when there
    is more than one. A block must fit a part with its marker (len <= limit - 12)."""
    parts: list[str] = []
    room = limit - _MARKER
    for block in blocks:
        if parts and len(parts[-1]) + 2 + len(block) <= room:
            parts[-1] += "\n\n" + block
        else:
            parts.append(block)
    if len(parts) > 1:
        parts = [f"({k}/{len(parts)})\n\n{p}" for k, p in enumerate(parts, 1)]
    return tuple(parts)


def render_chat(digest: Digest, limit: int) -> tuple[str, tuple[str, ...]]:
    """The digest as (title, Markdown parts), each part at most `limit` characters."""
    limit = max(limit, MIN_LIMIT)
    return chat_title(digest), split_blocks(_blocks(digest, limit), limit)
