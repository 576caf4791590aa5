"""GET /open/T (issue #21 item 5): a digest's Abstract or PDF link that counts the click.

With [web] count_clicks on, the digest's Abstract and PDF links of an arXiv paper are
signed "open" tokens (jobs.web.links, jobs.web.tokens) instead of arXiv's URLs. Following
one records (user, paper, link, collection, time) in the database (jobs.storage.clicks;
once per user, paper and link) and answers 302 to the paper's arXiv page or PDF.

    token forged, tampered, another action's  -> 400, nothing recorded
    token ours but expired                    -> 400, nothing recorded; the page names
                                                 the paper's arXiv URL (the id is signed)
    user unknown or link signed out           -> 403 (jobs.web.app._user), nothing recorded
    otherwise                                 -> record (GET only: a HEAD records
                                                 nothing), then 302 to arXiv

The redirect target is computed here from the signed paper id and link kind, never taken
from the request: the endpoint cannot be made to redirect anywhere but arXiv. A database
error is logged and the reader still gets the paper: reading it comes first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from starlette.responses import RedirectResponse, Response

from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.core.ids import abs_url, is_arxiv_id, pdf_url
from paperboy.jobs.storage import Storage
from paperboy.jobs.web.tokens import BadToken, Signer, TokenClaims, token_digest

__all__ = ["Opened", "check_open", "follow", "paper_link"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Opened:
    """What an open link says: its claims (None if not ours), where it leads (None if
    nowhere) and why it is refused ("" if it is not)."""

    claim: TokenClaims | None
    target: str | None
    refusal: str = ""


def paper_link(claim: TokenClaims) -> str | None:
    """The arXiv page or PDF of the token's signed paper id (None if not an arXiv id)."""
    paper = claim.paper or ""
    if not is_arxiv_id(paper):
        return None
    return pdf_url(paper) if claim.link == "pdf" else abs_url(paper)


def check_open(signer: Signer, token: str, now: datetime) -> Opened:
    """Read an open token: its claims and target, or the reason it is refused."""
    try:  # expired: refused, but its signed paper id still says where the paper is
        claim = signer.read(token, "open", allow_expired=True)
    except BadToken as e:
        log.info("refused an open link (%s): %s", token_digest(token), e)
        return Opened(None, None, str(e))
    target = paper_link(claim)
    if target is None:
        return Opened(claim, None, "this link does not name an arXiv paper")
    if now >= claim.expires:
        return Opened(claim, target, "the link has expired")
    return Opened(claim, target)


class _Deps(Protocol):
    """What :func:`follow` needs of the app's dependencies (jobs.web.app._Deps)."""

    @property
    def storage(self) -> Storage: ...

    @property
    def now(self) -> Callable[[], datetime]: ...


def follow(deps: _Deps, opened: Opened, method: str) -> Response:
    """Record the click of a valid open link (on a GET; a HEAD, a link checker's, records
    nothing), then 302 to the paper. A database error is only logged."""
    claim = opened.claim
    assert claim is not None and opened.target is not None and not opened.refusal
    if method == "GET":
        try:
            deps.storage.record_click(
                claim.user,
                claim.paper or "",
                claim.link,
                collection=claim.collection,
                at=deps.now(),
            )
        except StorageError as e:
            log.error("a click of %s was not recorded: %s", claim.user, e)
    return RedirectResponse(opened.target, status_code=302)
