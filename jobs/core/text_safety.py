"""Characters that must not reach a terminal: stripped from what Paperboy prints for people,
refused in the names a config gives.

Titles, abstracts and profile values come from feeds, BibTeX files and the web profile
page, so they are hostile input. A terminal obeys escape sequences (an OSC sequence
`ESC ] 0 ; … BEL` retitles the window, others rewrite lines or the clipboard), a bare CR
or LF forges a line of output, and the bidi overrides (U+202A–U+202E, U+2066–U+2069)
reorder what is shown. :func:`for_terminal` removes them; `jobs.cli.common.say` and the
text log formatter call it on everything they print. :func:`name_problem` is the check
the config applies to user names, which appear in every command's output and log line.

JSON output needs none of this: `json.dumps` (with its default ``ensure_ascii=True``)
escapes every control and every non-ASCII character.
"""

from __future__ import annotations

import logging
import re

__all__ = ["for_terminal", "name_problem"]

log = logging.getLogger(__name__)

# C0 controls but TAB and LF, DEL, the C1 controls (U+0085 NEL and U+009B CSI among them),
# the bidi embeddings/overrides and isolates.
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_UNSAFE_IN_TEXT = re.compile(f"[{_UNSAFE}]")
# On one line, line and paragraph separators and tabs too.
_LINE_BREAKS = re.compile("[\t\n\u2028\u2029]")
_UNSAFE_IN_NAME = re.compile(f"[\t\n{_UNSAFE}\u2028\u2029]")


def for_terminal(text: str, *, single_line: bool = False) -> str:
    """`text` without the characters that control a terminal.

    Escape sequences lose their ESC (`ESC ] 0 ; x BEL` prints as "]0;x"), a CR is dropped,
    bidi overrides are dropped. TAB and LF stay unless `single_line`, when they (and
    U+2028/U+2029) become spaces.
    """
    text = _UNSAFE_IN_TEXT.sub("", text)
    return _LINE_BREAKS.sub(" ", text) if single_line else text


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a user name (it holds a control, line-break or bidi character),
    or None. Names are printed on their own lines and in logs, so none of these may pass."""
    bad = _UNSAFE_IN_NAME.search(name)
    if bad is None:
        return None
    return (
        f"contains the control or bidi character U+{ord(bad.group()):04X}; "
        "names must be printable on one line"
    )
