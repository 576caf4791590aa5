"""Signed tokens for the links in a digest: who, which paper, what to do, until when.

A token is ``itsdangerous.URLSafeSerializer`` JSON, HMAC-SHA1-signed with the key from
$PAPERBOY_WEB_SECRET or the key file (jobs.config.model.WebConfig.secret), with one salt per
action: a "like" token does not verify as a "dislike" or an "unsubscribe" token, so a
token for one action can never perform another. The expiry is in the payload and checked
against an injected clock (tests drive time). Nothing in a token is secret (it is signed,
not encrypted): it names a user and a paper, which the digest it came in names too.

Lifetimes (issue #20 item 10). A token made from another one (the profile link and the
Undo button of a page) never outlives it: it inherits the other's *bound*, the expiry of
the link that was mailed, so forwarding a link gives no more time than the mail had. Each
token carries the user's link epoch (``e``, jobs.storage.links): "sign out all links"
raises it, and the app refuses a token of an older epoch. The app lets an unsubscribe
token unsubscribe after its expiry (``read(..., allow_expired=True)``): a mail can be read
for years, and RFC 8058 one-click must keep working.

A feed token (issue #23) is the one kind that never expires: a feed reader polls its URL
for months (:meth:`Signer.make_feed`). It is read-only (the feed lists what was sent),
carries the user's link epoch like every other token, so "sign out all links" revokes it
too, and is the same string for as long as the epoch stays: the profile page shows the
same feed URL every time. Only a "feed" token may lack an expiry.

A like, dislike or undo token may name a collection (``c``, issue #23): the section of
the digest the paper was shown in, whose lists the click edits. A token without one (every
token made before collections) acts on the user's top-level lists, their default
collection.

An "open" token (issue #21 item 5, with [web] count_clicks) stands for a digest's
Abstract or PDF link of one paper (``l``: "abs" or "pdf"): following it records the click
and redirects to the arXiv URL the app computes from the signed paper id and link kind,
never to a URL the request carries.

The form on each page carries a CSRF value derived from the link token with the same key
(:meth:`Signer.csrf`): a POST needs both the link and the page that shows it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadData, URLSafeSerializer

__all__ = [
    "ACTIONS",
    "NEVER",
    "OPEN_LINKS",
    "BadToken",
    "Signer",
    "TokenClaims",
]

# like/dislike: a paper; unsubscribe/pause/profile: the user; undo: what to put back;
# feed: the user's Atom feed (read-only, no expiry); open: a paper's Abstract or PDF link.
ACTIONS = ("like", "dislike", "unsubscribe", "pause", "profile", "undo", "feed", "open")
OPEN_LINKS = ("abs", "pdf")  # the links an "open" token may stand for
NEVER = datetime.max.replace(tzinfo=UTC)  # the expiry of a token that has none (a feed's)


class BadToken(Exception):
    """A token that is forged, tampered with, expired, or for another action."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token says."""

    action: str
    user: str
    expires: datetime
    paper: str | None = None
    # For "undo": the edits that put things back, [["add"|"remove", key, [values]], ...],
    # or the state to restore ("subscribe" after an unsubscribe, "resume" after a pause).
    ops: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    state: str | None = None
    epoch: int = 0  # the user's link epoch when the mailed link was made
    # The latest any token made from this one may work until: the mailed link's expiry.
    # None: the same as `expires` (every token but the Undo of a late unsubscribe).
    bound: datetime | None = None
    # The collection a like/dislike (and its undo) acts on (issue #23): the section the
    # paper was shown in. "": the user's default collection, as every older token.
    collection: str = ""
    # For "open": which of the paper's links was followed, "abs" or "pdf".
    link: str = ""

    @property
    def limit(self) -> datetime:
        """What tokens made from this one inherit as their latest expiry."""
        return self.expires if self.bound is None else self.bound


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Signer:
    """Makes and reads the tokens of one key. ``now`` is the clock expiry is checked by."""

    def __init__(self, secret: str, *, now: Callable[[], datetime] = _utcnow) -> None:
        if not secret:
            raise ValueError("an empty key cannot sign anything")
        self._secret = secret.encode("utf-8")
        self._now = now
        self._serializers = {
            a: URLSafeSerializer(secret, salt=f"paperboy.web.{a}") for a in ACTIONS
        }

    def __repr__(self) -> str:  # never show the key, in a log or a traceback
        return "Signer(<key hidden>)"

    def make(
        self,
        action: str,
        user: str,
        *,
        days: float,
        paper: str | None = None,
        ops: Sequence[tuple[str, str, Sequence[str]]] = (),
        state: str | None = None,
        epoch: int = 0,
        parent: TokenClaims | None = None,
        beyond_parent: bool = False,
        collection: str = "",
        link: str = "",
    ) -> str:
        """A token for `action` by `user`, valid for `days` from now.

        `parent`: the token this one is made from (a page's links): this one expires at
        the parent's limit at the latest, and keeps its epoch. `beyond_parent`: this token
        alone may outlive the parent (the Undo of an unsubscribe made with an old link);
        what is made from it may not. `collection`: the collection a like, dislike or
        undo acts on ("": the default one; not written, so such a token is as before).
        `link`: for "open", the paper's link it stands for ("abs" or "pdf")."""
        if action not in ACTIONS:
            raise ValueError(f"not an action: {action!r}")
        if (action == "open") != (link in OPEN_LINKS) or (action == "open" and paper is None):
            raise ValueError(f"an open token needs a paper and a link in {OPEN_LINKS}")
        expires = self._now() + timedelta(days=days)
        bound: datetime | None = None
        if parent is not None:
            epoch = parent.epoch
            bound = parent.limit
            if not beyond_parent:
                expires = min(expires, bound)
        payload: dict[str, Any] = {"a": action, "u": user, "x": int(expires.timestamp())}
        if bound is not None and int(bound.timestamp()) != payload["x"]:
            payload["b"] = int(bound.timestamp())
        if epoch:
            payload["e"] = epoch
        if paper is not None:
            payload["p"] = paper
        if ops:
            payload["o"] = [[op, key, list(values)] for op, key, values in ops]
        if state is not None:
            payload["s"] = state
        if collection:
            payload["c"] = collection
        if link:
            payload["l"] = link
        token = self._serializers[action].dumps(payload)
        assert isinstance(token, str)
        return token

    def make_feed(self, user: str, *, epoch: int) -> str:
        """The token of `user`'s feed URL at link `epoch`: no expiry, nothing but who and
        the epoch, so the same user and epoch always give the same token."""
        payload: dict[str, Any] = {"a": "feed", "u": user}
        if epoch:
            payload["e"] = epoch
        token = self._serializers["feed"].dumps(payload)
        assert isinstance(token, str)
        return token

    def read(self, token: str, action: str, *, allow_expired: bool = False) -> TokenClaims:
        """What a token made for `action` says; BadToken if it is not one, or expired
        (unless `allow_expired`: the caller checks ``claim.expires`` itself)."""
        if action not in ACTIONS:
            raise BadToken(f"not an action: {action!r}")
        try:
            payload = self._serializers[action].loads(token)
        except BadData as e:
            raise BadToken("the link is not valid (not signed by this Paperboy)") from e
        try:
            claim = _claims(payload)
        except (KeyError, TypeError, ValueError) as e:
            raise BadToken("the link's contents are not valid") from e
        if claim.action != action:  # belt and braces: the salt already says so
            raise BadToken(f"this link is for {claim.action!r}, not {action!r}")
        if not allow_expired and self._now() >= claim.expires:
            raise BadToken("the link has expired")
        return claim

    def csrf(self, token: str) -> str:
        """The form value that goes with the page of `token`."""
        mac = hmac.new(self._secret, b"paperboy.web.csrf\0" + token.encode("utf-8"), "sha256")
        return mac.hexdigest()

    def check_csrf(self, token: str, value: str | None) -> bool:
        """True if `value` is the form value of `token`'s page (constant-time)."""
        return bool(value) and hmac.compare_digest(self.csrf(token), value or "")


def _claims(payload: Any) -> TokenClaims:
    if not isinstance(payload, dict):
        raise TypeError("payload is not an object")
    action, user = payload["a"], payload["u"]
    expires = payload["x"] if action != "feed" or "x" in payload else None  # a feed's: none
    if not isinstance(action, str) or not isinstance(user, str):
        raise TypeError("bad field types")
    if expires is not None and not isinstance(expires, int):
        raise TypeError("bad expiry")
    paper = payload.get("p")
    if paper is not None and not isinstance(paper, str):
        raise TypeError("bad paper")
    ops: list[tuple[str, str, tuple[str, ...]]] = []
    for entry in payload.get("o", []):
        op, key, values = entry
        if op not in ("add", "remove") or not isinstance(key, str):
            raise ValueError("bad operation")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError("bad values")
        ops.append((op, key, tuple(values)))
    state = payload.get("s")
    if state is not None and state not in ("subscribe", "resume"):
        raise ValueError("bad state")
    epoch, bound = payload.get("e", 0), payload.get("b")
    if not isinstance(epoch, int) or (bound is not None and not isinstance(bound, int)):
        raise TypeError("bad epoch or bound")
    collection = payload.get("c", "")
    if not isinstance(collection, str):
        raise TypeError("bad collection")
    link = payload.get("l", "")
    if (action == "open") != (link in OPEN_LINKS) or (action == "open" and paper is None):
        raise ValueError("bad link")
    return TokenClaims(
        action=action,
        user=user,
        expires=NEVER if expires is None else datetime.fromtimestamp(expires, UTC),
        paper=paper,
        ops=tuple(ops),
        state=state,
        epoch=epoch,
        bound=None if bound is None else datetime.fromtimestamp(bound, UTC),
        collection=collection,
        link=link,
    )


def token_digest(token: str) -> str:
    """A short, non-reversible name for a token, for a log line (never the token itself)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:12]
