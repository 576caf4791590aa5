"""The feedback links a digest carries, as plain strings for emails.Digest.

    per paper (arXiv ids only: only those can be saved): /like/T and /dislike/T, acting on
        the collection the paper is shown in (issue #23); with [web] count_clicks also its
        Abstract and PDF links as /open/T, which record the click and redirect to arXiv
        (issue #21; off by default: the direct arXiv links, as before)
    footer: /u/T (unsubscribe; also the RFC 8058 List-Unsubscribe URI when https), /pause/T,
            /p/T (the profile page)

Without [web] base_url the digest is returned unchanged: no links, as before issue #14.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from paperboy.emails.digest import Digest, DigestItem
from paperboy.jobs.config.model import Config
from paperboy.jobs.core.ids import is_arxiv_id
from paperboy.jobs.web.tokens import Signer

__all__ = ["add_feedback_links", "new_key", "write_key_file"]


def add_feedback_links(digest: Digest, config: Config, now: datetime, *, epoch: int = 0) -> Digest:
    """`digest` with its feedback links, each signed for `config.web.token_days` from `now`
    and for the user's link `epoch` (Storage.link_epoch: a link of an older epoch is
    refused, so pass the epoch now). The unsubscribe link unsubscribes even after that.

    Raises ConfigError when base_url is set but there is no key to sign with."""
    web = config.web
    if not web.base_url:
        return digest
    signer = Signer(web.secret(), now=lambda: now)
    user = digest.user_name

    def link(
        path: str, action: str, paper: str | None = None, collection: str = "", kind: str = ""
    ) -> str:
        token = signer.make(
            action,
            user,
            days=web.token_days,
            paper=paper,
            epoch=epoch,
            collection=collection,
            link=kind,
        )
        return f"{web.base_url}/{path}/{token}"

    def with_links(item: DigestItem) -> DigestItem:
        if not is_arxiv_id(item.paper_id):
            return item
        pid, where = item.paper_id, item.collection
        item = replace(
            item,
            more_url=link("like", "like", pid, where),
            less_url=link("dislike", "dislike", pid, where),
        )
        if not web.count_clicks:
            return item
        return replace(
            item,
            abs_url=link("open", "open", pid, where, "abs"),
            pdf_url=link("open", "open", pid, where, "pdf") if item.pdf_url else None,
        )

    items = tuple(with_links(item) for item in digest.items)
    unsubscribe = link("u", "unsubscribe")
    header = digest.unsubscribe
    if unsubscribe.startswith("https://"):  # RFC 8058 one-click needs https
        given = (header,) if isinstance(header, str) else tuple(header or ())
        header = (unsubscribe, *given)
    return replace(
        digest,
        items=items,
        unsubscribe=header,
        unsubscribe_url=unsubscribe,
        pause_url=link("pause", "pause"),
        profile_url=link("p", "profile"),
    )


def new_key() -> str:
    """A fresh signing key: 256 random bits, URL-safe text."""
    return secrets.token_urlsafe(32)


def write_key_file(path: Path) -> bool:
    """Create the key file (mode 0600) if it does not exist; True if it was written.

    An existing key is never replaced: that would break every link already mailed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(new_key() + "\n")
    return True
