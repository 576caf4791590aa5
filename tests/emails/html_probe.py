"""A tiny stdlib HTML parser for structural assertions on rendered e-mails."""

from __future__ import annotations

from html.parser import HTMLParser


class HtmlProbe(HTMLParser):
    """Collects start tags (with attributes), hrefs and the visible text of a document."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.hrefs: list[str] = []
        self._chunks: list[str] = []
        self._skip = 0  # inside <style>/<title>: not visible text
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href") or "")
        if tag in ("style", "title", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title", "script") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._chunks.append(data)

    @property
    def text(self) -> str:
        """The visible text, whitespace collapsed."""
        return " ".join("".join(self._chunks).split())

    def count(self, tag: str) -> int:
        """How many elements named `tag` the document has."""
        return sum(1 for name, _ in self.tags if name == tag)
