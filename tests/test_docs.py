"""The documentation holds together: README.md is the front door, the guides are in docs/.

Every relative link in README.md, CHANGELOG.md, docs/ and benchmarks/ resolves to a file
of the repository, and an `#anchor` into a Markdown file to one of its headings (GitHub's
slugs); the README's two commands are the ones CI runs; every `paperboy` command and every
guide can be found from the README.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target "title") and ![alt](target); the text may hold one level of brackets.
INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)"
)
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def documents() -> list[Path]:
    """The Markdown files whose links are checked."""
    found = [ROOT / "README.md", ROOT / "CHANGELOG.md"]
    found += sorted((ROOT / "docs").rglob("*.md"))
    found += sorted((ROOT / "benchmarks").glob("*.md"))
    return found


def _prose_lines(text: str) -> Iterator[str]:
    """The lines outside fenced code blocks."""
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield line


def links(text: str) -> list[str]:
    """The link targets of a Markdown text (code blocks and code spans left out)."""
    found: list[str] = []
    for line in _prose_lines(text):
        reference = REFERENCE.match(line)
        if reference:
            found.append(reference.group(1))
            continue
        found.extend(INLINE_LINK.findall(CODE_SPAN.sub("", line)))
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text lower-cased, punctuation dropped (hyphens and
    underscores kept), each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a Markdown text's headings, repeated ones numbered as GitHub does."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for line in _prose_lines(text):
        heading = HEADING.match(line)
        if not heading:
            continue
        base = slug(heading.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(document: Path) -> list[str]:
    """Each relative link of `document` that does not resolve, with the reason."""
    text = document.read_text(encoding="utf-8")
    problems: list[str] = []
    for target in links(text):
        if not target or SCHEME.match(target) or target.startswith("//"):
            continue  # http:, https:, mailto: ...: not this repository's
        path_part, _, anchor = target.partition("#")
        resolved = (document.parent / path_part).resolve() if path_part else document
        where = f"{document.name}: {target}"
        if not resolved.exists():
            problems.append(f"{where}: no such file")
            continue
        in_markdown = resolved.suffix == ".md" and resolved.is_file()
        if anchor and in_markdown and anchor not in anchors(resolved.read_text("utf-8")):
            problems.append(f"{where}: no heading with anchor #{anchor}")
    return problems


@pytest.mark.parametrize("document", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path) -> None:
    assert broken_links(document) == []


def test_the_checker_reports_broken_links(tmp_path: Path) -> None:
    (tmp_path / "guide.md").write_text("# A guide\n\n## Exactly once: `at least` once\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[fine](guide.md) and [fine too](guide.md#exactly-once-at-least-once) and "
        "[here](#page) and [web](https://example.org/missing.md)\n"
        "[gone](missing.md) and [bad anchor](guide.md#no-such-heading)\n"
        "![picture](img/none.png) `[in code](nowhere.md)`\n\n"
        "```\n[in a block](nowhere.md)\n```\n\n"
        "[ref]: also-missing.md\n"
    )
    assert broken_links(page) == [
        "page.md: missing.md: no such file",
        "page.md: guide.md#no-such-heading: no heading with anchor #no-such-heading",
        "page.md: img/none.png: no such file",
        "page.md: also-missing.md: no such file",
    ]


def test_slugs_follow_github() -> None:
    assert slug("Many users: `users_dir`") == "many-users-users_dir"
    assert slug("Recorded once, delivered at least once") == "recorded-once-delivered-at-least-once"
    assert slug("TL;DR in the digest") == "tldr-in-the-digest"
    assert slug("Delivery: transports, the message, exactly once") == (
        "delivery-transports-the-message-exactly-once"
    )
    assert anchors("# A\n## A\n```\n# A\n```\n## A\n") == {"a", "a-1", "a-2"}


def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    command = ci[-1]
    assert command == "pip install -e '.[test]' && pytest -n 2"
    assert f"```sh\n{command}\n```" in _readme()


def test_the_readme_demo_command_is_there() -> None:
    assert "```sh\npip install . && paperboy demo\n```" in _readme()


def test_every_command_is_in_the_readme_table() -> None:
    import click

    from paperboy.jobs.cli import cli

    readme = _readme()
    names = cli.list_commands(click.Context(cli))  # every command, the lazy ones too
    missing = [name for name in names if f"| `paperboy {name}" not in readme]
    assert missing == []


def test_every_guide_is_linked_from_the_readme() -> None:
    readme = _readme()
    guides = sorted((ROOT / "docs").rglob("*.md"))
    assert guides
    missing = [g for g in guides if f"]({g.relative_to(ROOT).as_posix()})" not in readme]
    assert missing == []
