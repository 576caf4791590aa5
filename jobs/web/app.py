"""`paperboy serve`: the pages behind the links in a digest (issue #14).

    GET  /like/T, /dislike/T, /pause/T, /u/T, /undo/T
         -> a page saying what will happen, with one button (a POST form)   [changes nothing]
    POST the same URL (CSRF value + same-origin check)
         -> do it: like/dislike through jobs.config.lists.edit_profile (the code path of
            `paperboy profile like/dislike`); pause/unsubscribe in the database
         -> a page confirming it, with an Undo button (a signed "undo" token)
    POST /u/T with the body "List-Unsubscribe=One-Click" (RFC 8058, sent by mail providers)
         -> unsubscribe, no page
    GET  /p/T  the user's profile (with the address of their feed, and each of their
               collections' lists, issue #23); POST /p/T adds or
               removes one entry
    GET  /feed/T  the user's Atom feed of their recent digests (jobs.web.feed)
    GET  /open/T  a digest's Abstract or PDF link ([web] count_clicks): records the
               click, then 302 to arXiv (jobs.web.opens: no open redirect)

Every token is checked first (jobs.web.tokens): forged, tampered, expired, another
action's, signed out (an older link epoch than the user's, jobs.storage.links), or naming
a user the config no longer has -> 403 and nothing changes. An unsubscribe link is the
exception to expiry: it unsubscribes for as long as the mail can be read (RFC 8058), but
the page it leads to offers no profile link once it is past its expiry. Links a page
makes (profile, Undo) never outlive the mailed link the page came from. The user always
comes from the token, never from the form.

Each request reads config.toml and the one user's file, as they are now
(jobs.config.one_user.UserLookup): that one Config serves the lookup, the edit and the
page, and no other user's file is read or can break this user's page.

Every response carries a CSP without inline script, X-Frame-Options DENY and
Referrer-Policy no-referrer, and Cache-Control no-store unless the route says otherwise
(the feed's is "private, no-cache"); bodies over MAX_BODY bytes get 413; only /open redirects.

The app is a list of routes to plain functions, built by :func:`create_app` from its
dependencies (config, storage, clock, key), so tests build their own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from paperboy.jobs.config.lists import (
    Change,
    Operation,
    dislike_operations,
    edit_profile,
    like_operations,
    read_lists,
    user_file,
)
from paperboy.jobs.config.model import Config, UserConfig
from paperboy.jobs.config.one_user import UserLookup
from paperboy.jobs.config.writes import read_snapshot
from paperboy.jobs.core.errors import ConfigError, PaperboyError, UnknownPaperError
from paperboy.jobs.core.ids import abs_url, canonical_arxiv_id, is_arxiv_id
from paperboy.jobs.storage import Storage, utcnow
from paperboy.jobs.web.feed import feed_response, feed_url
from paperboy.jobs.web.guard import (
    MAX_BODY,
    SECURITY_HEADERS,
    Guard,
    TooLarge,
    read_body,
    too_large,
)
from paperboy.jobs.web.opens import check_open, follow
from paperboy.jobs.web.tokens import BadToken, Signer, TokenClaims, token_digest

__all__ = ["MAX_BODY", "PAUSE", "SECURITY_HEADERS", "create_app"]

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
MAX_VALUE = 200  # characters of a keyword, author or muted word
PAUSE = timedelta(days=7)
ADDABLE = ("keywords", "authors", "muted")
REMOVABLE = ("saved", "disliked", "keywords", "authors", "muted")
# The details (a path, the file's problem) go to the log, not to whoever holds a link.
_FAILED = "the profile could not be edited just now (the server's log says why); try again later"
_SINGULAR = {"keywords": "a keyword", "authors": "an author", "muted": "a muted word"}
_LABELS = {
    "saved": "saved papers",
    "disliked": "disliked papers",
    "keywords": "keywords",
    "authors": "followed authors",
    "muted": "muted words",
}


# --- the app ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Deps:
    """What every route needs; one per app, in app.state.deps."""

    lookup: UserLookup  # config.toml and one user, read on every request
    storage: Storage
    signer: Signer
    now: Callable[[], datetime]


def create_app(
    config: Config,
    storage: Storage,
    *,
    secret: str,
    now: Callable[[], datetime] = utcnow,
) -> Starlette:
    """The feedback app for `config`'s file: config.toml and the user a link names are
    read on every request, so users added or edited by hand, by `paperboy profile` or by
    the daemon's reload are seen at once. `config` (as loaded at start) only spares the
    first request reading every users_dir file to find one."""
    routes = [
        Route("/", _home, methods=["GET"]),
        Route("/like/{token}", _action("like"), methods=["GET", "POST"]),
        Route("/dislike/{token}", _action("dislike"), methods=["GET", "POST"]),
        Route("/pause/{token}", _action("pause"), methods=["GET", "POST"]),
        Route("/u/{token}", _action("unsubscribe"), methods=["GET", "POST"]),
        Route("/undo/{token}", _action("undo"), methods=["GET", "POST"]),
        Route("/p/{token}", _profile, methods=["GET", "POST"]),
        Route("/feed/{token}", _feed, methods=["GET"]),
        Route("/open/{token}", _open, methods=["GET"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes)
    # "/x" never becomes a redirect to "/x/" (nor "//evil.example" to anything).
    app.router.redirect_slashes = False
    app.state.deps = _Deps(UserLookup(config.path, config), storage, Signer(secret, now=now), now)
    app.add_middleware(Guard)
    return app


def _form(body: bytes, content_type: str) -> dict[str, str]:
    """An urlencoded form (the only kind our pages send); the first value of each field."""
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return {}
    fields: dict[str, str] = {}
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        fields.setdefault(key, value)
    return fields


# --- pages --------------------------------------------------------------------------------

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every user string: titles, keywords, names
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_ENV.get_template(name).render(**context), status_code=status)


def _refused(reason: str, status: int = 403) -> HTMLResponse:
    return _page("refused.html.j2", status, reason=reason)


def _deps(request: Request) -> _Deps:
    deps = request.app.state.deps
    assert isinstance(deps, _Deps)
    return deps


async def _home(request: Request) -> Response:
    return _page("home.html.j2")


def _base(request: Request, config: Config) -> str:
    """Where this app is reached from outside: [web] base_url, else this request's host."""
    return config.web.base_url or str(request.base_url).rstrip("/")


async def _feed(request: Request) -> Response:
    return await run_in_threadpool(_handle_feed, _deps(request), request)


def _handle_feed(deps: _Deps, request: Request) -> Response:
    token = request.path_params["token"]
    try:  # a feed token has no expiry; a signed-out one is refused by _user
        claim = deps.signer.read(token, "feed")
    except BadToken as e:
        log.info("refused a feed link (%s): %s", token_digest(token), e)
        return _refused(str(e))
    found = _user(deps, claim)
    if isinstance(found, Response):
        return found
    config = found[0]
    self_url = f"{_base(request, config)}/feed/{token}"
    return feed_response(config, deps.storage, claim.user, self_url, request.headers)


async def _open(request: Request) -> Response:
    return await run_in_threadpool(_handle_open, _deps(request), request)


def _handle_open(deps: _Deps, request: Request) -> Response:
    opened = check_open(deps.signer, request.path_params["token"], deps.now())
    if opened.claim is None or opened.refusal:
        why, where = opened.refusal, opened.target
        return _page("refused.html.j2", 400, reason=why, recorded=False, paper_url=where)
    found = _user(deps, opened.claim)  # unknown user, signed out: 403, nothing recorded
    return found if isinstance(found, Response) else follow(deps, opened, request.method)


def _same_origin(request: Request, config: Config) -> bool:
    """A browser's POST from another site is refused.

    Browsers say where a request comes from in Sec-Fetch-Site (sent to https and to
    localhost): only "same-origin" (our own form) or "none" (typed by the user) pass.
    Origin is also checked, but "null" must pass: our Referrer-Policy no-referrer makes
    browsers send "Origin: null" on every POST, our own forms' included.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    ours = {f"{request.url.scheme}://{request.headers.get('host', '')}"}
    if config.web.base_url:
        parts = urlsplit(config.web.base_url)
        ours.add(f"{parts.scheme}://{parts.netloc}")
    return origin.rstrip("/") in ours


def _user(deps: _Deps, claim: TokenClaims) -> tuple[Config, UserConfig] | Response:
    """The token's user in the config as it is now, or the refusal: no such user (403),
    a link signed out since (403), a config that cannot be read (503)."""
    try:
        found = deps.lookup.load(claim.user)
    except ConfigError as e:
        log.error("the config cannot be read: %s", e)
        return _refused("Paperboy's configuration cannot be read right now.", 503)
    if found is None:
        return _refused("this link is for a user this Paperboy does not know")
    if claim.epoch != deps.storage.link_epoch(claim.user):
        log.info("refused a %s link of %s: signed out", claim.action, claim.user)
        return _refused("this link was signed out; use the links of your next digest")
    return found


def _title(storage: Storage, paper: str) -> str:
    stored = storage.get_papers([paper]).get(paper)
    return " ".join(stored.title.split()) if stored else paper


@dataclass(frozen=True, slots=True)
class _Form:
    """A POST form on a page: where it goes, its CSRF value and its hidden fields."""

    action: str
    csrf: str
    label: str
    fields: tuple[tuple[str, str], ...] = ()


def _action(action: str) -> Callable[[Request], Awaitable[Response]]:
    """The route of one link action: GET confirms, POST does."""

    async def endpoint(request: Request) -> Response:
        body = await _posted(request)
        if isinstance(body, Response):
            return body
        token = request.path_params["token"]
        return await run_in_threadpool(_handle, _deps(request), request, action, token, body)

    endpoint.__name__ = f"{action}_endpoint"
    return endpoint


def _one_click(request: Request, body: bytes) -> bool:
    """The RFC 8058 POST: "List-Unsubscribe=One-Click", urlencoded or multipart."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return b'name="List-Unsubscribe"' in body and b"One-Click" in body
    return _form(body, content_type).get("List-Unsubscribe") == "One-Click"


def _handle(deps: _Deps, request: Request, action: str, token: str, body: bytes) -> Response:
    try:  # unsubscribing works for as long as the mail can be read
        claim = deps.signer.read(token, action, allow_expired=action == "unsubscribe")
    except BadToken as e:
        log.info("refused a %s link (%s): %s", action, token_digest(token), e)
        return _refused(str(e))
    found = _user(deps, claim)
    if isinstance(found, Response):
        return found
    config, user = found
    if request.method != "POST":  # GET and HEAD: show, never do
        return _confirm(deps, claim, token, user)
    if action == "unsubscribe" and _one_click(request, body):
        deps.storage.set_unsubscribed(user.name, True, at=deps.now())
        log.info("one-click unsubscribe for %s", user.name)
        return PlainTextResponse("Unsubscribed.\n")
    form = _form(body, request.headers.get("content-type", ""))
    if not deps.signer.check_csrf(token, form.get("csrf")) or not _same_origin(request, config):
        return _refused("the form did not come from this page (CSRF check)")
    try:
        return _do(deps, config, claim, user)
    except PaperboyError as e:
        log.error("feedback for %s failed: %s", user.name, e)
        return _refused(_FAILED, 409)


def _undo_text(storage: Storage, claim: TokenClaims) -> list[str]:
    """What an undo token will do, in words."""
    if claim.state == "subscribe":
        return ["Send your digests again."]
    if claim.state == "resume":
        return ["End the pause: digests resume at their next time."]
    lines = []
    for op, key, values in claim.ops:
        for value in values:
            name = f"“{_title(storage, value)}”" if key in ("saved", "disliked") else value
            where = "to" if op == "add" else "from"
            lines.append(
                f"{'Add' if op == 'add' else 'Remove'} {name} {where} your {_LABELS[key]}."
            )
    return lines or ["Nothing: there is nothing to undo."]


def _confirm(deps: _Deps, claim: TokenClaims, token: str, user: UserConfig) -> Response:
    csrf = deps.signer.csrf(token)
    paper = claim.paper or ""
    title = _title(deps.storage, paper) if paper else ""
    until = deps.now() + PAUSE
    texts = {
        "like": (
            "More papers like this one?",
            [
                f"“{title}” goes into your saved papers{_in(claim.collection)}, so your next "
                "digests rank papers like it higher."
            ],
            "Yes, more like this",
        ),
        "dislike": (
            "Fewer papers like this one?",
            [
                f"“{title}” goes into your disliked papers{_in(claim.collection)}, so your "
                "next digests push papers like it down."
            ],
            "Yes, less like this",
        ),
        "pause": (
            "Pause your digests for a week?",
            [
                f"No digests until {until:%A %d %B %Y}; then they resume by themselves, "
                "with the best of what came in meanwhile."
            ],
            "Pause for a week",
        ),
        "unsubscribe": (
            "Stop your digests?",
            [
                "You will get no more digests from this Paperboy until you subscribe again "
                "(from your profile page)."
            ],
            "Unsubscribe",
        ),
        "undo": ("Undo?", _undo_text(deps.storage, claim), "Undo"),
    }
    heading, lines, button = texts[claim.action]
    return _page(
        "confirm.html.j2",
        heading=heading,
        lines=lines,
        user=user.name,
        paper=paper,
        paper_url=abs_url(paper) if paper and is_arxiv_id(paper) else None,
        form=_Form(token, csrf, button),  # relative: this same URL
    )


def _profile_href(deps: _Deps, config: Config, claim: TokenClaims) -> str | None:
    """The profile link of a page: never beyond the mailed link's expiry (None after it)."""
    if claim.limit <= deps.now():
        return None
    days = config.web.token_days
    return "../p/" + deps.signer.make("profile", claim.user, days=days, parent=claim)


def _undo_form(
    deps: _Deps,
    claim: TokenClaims,
    ops: Sequence[Operation] = (),
    state: str | None = None,
    *,
    beyond_parent: bool = False,
    collection: str = "",
) -> _Form | None:
    """An Undo button for a day, or until the mailed link expires if that is sooner."""
    if not ops and state is None:
        return None
    token = deps.signer.make(
        "undo",
        claim.user,
        days=1,
        ops=ops,
        state=state,
        parent=claim,
        beyond_parent=beyond_parent,
        collection=collection,
    )
    if deps.signer.read(token, "undo", allow_expired=True).expires <= deps.now():
        return None
    return _Form(f"../undo/{token}", deps.signer.csrf(token), "Undo")


def _inverse(changes: Sequence[Change]) -> list[Operation]:
    """The edits that take `changes` back, last first."""
    ops: list[Operation] = []
    for change in reversed(changes):
        if change.action == "added":
            ops.append(("remove", change.key, (change.value,)))
        elif change.action == "removed":
            ops.append(("add", change.key, (change.value,)))
    return ops


def _edit(
    config: Config, user: str, ops: Sequence[Operation], collection: str = ""
) -> list[Change]:
    """The edit, through the same code as `paperboy profile` (retried if someone saved the
    file meanwhile), in the config this request read; of one collection's lists."""
    return list(edit_profile(config, user, ops, attempts=5, collection=collection).changes)


def _in(collection: str) -> str:
    """ " of your collection NAME" after a list's name; nothing for the default one."""
    return f" of your collection {collection}" if collection else ""


def _do(deps: _Deps, config: Config, claim: TokenClaims, user: UserConfig) -> Response:
    now = deps.now()
    name = user.name
    undo: _Form | None = None
    if claim.action in ("like", "dislike"):
        paper, where = claim.paper or "", claim.collection
        ops = like_operations([paper]) if claim.action == "like" else dislike_operations([paper])
        changes = _edit(config, name, ops, where)
        title = _title(deps.storage, paper)
        key = "saved" if claim.action == "like" else "disliked"
        added = any(c.action == "added" for c in changes)
        heading = "Saved" if claim.action == "like" else "Noted"
        lines = [
            f"“{title}” {'is now' if added else 'was already'} in your {_LABELS[key]}{_in(where)}.",
            "Your next digests rank papers like it "
            + ("higher." if claim.action == "like" else "lower."),
        ]
        undo = _undo_form(deps, claim, _inverse(changes), collection=where)
        log.info("%s: %s %s", name, claim.action, paper)
    elif claim.action == "pause":
        until = now + PAUSE
        deps.storage.set_paused_until(name, until)
        heading = "Paused"
        lines = [f"No digests until {until:%A %d %B %Y}. They resume by themselves."]
        undo = _undo_form(deps, claim, state="resume")
        log.info("%s: paused until %s", name, until)
    elif claim.action == "unsubscribe":
        changed = deps.storage.set_unsubscribed(name, True, at=now)
        heading = "Unsubscribed"
        lines = ["You will get no more digests." if changed else "You were already unsubscribed."]
        # An old mail's link unsubscribes too. Its Undo (only of this click: an old link
        # must not re-subscribe who left otherwise) works for a day, but no page made
        # from that Undo offers a profile link.
        if changed:
            undo = _undo_form(deps, claim, state="subscribe", beyond_parent=True)
        log.info("%s: unsubscribed", name)
    else:  # undo
        if claim.state == "subscribe":
            deps.storage.set_unsubscribed(name, False)
            lines = ["Your digests come again."]
        elif claim.state == "resume":
            deps.storage.set_paused_until(name, None)
            lines = ["The pause is over: digests resume at their next time."]
        else:
            changes = _edit(config, name, claim.ops, claim.collection)
            lines = _describe(deps.storage, changes) or ["Nothing needed undoing."]
        heading = "Undone"
        log.info("%s: undo", name)
    return _page(
        "done.html.j2",
        heading=heading,
        lines=lines,
        user=name,
        undo=undo,
        profile_href=_profile_href(deps, config, claim),
    )


def _describe(storage: Storage, changes: Sequence[Change]) -> list[str]:
    lines = []
    for c in changes:
        name = f"“{_title(storage, c.value)}”" if c.key in ("saved", "disliked") else c.value
        if c.action == "added":
            lines.append(f"{name} is in your {_LABELS[c.key]} again.")
        elif c.action == "removed":
            lines.append(f"{name} is no longer in your {_LABELS[c.key]}.")
    return lines


# --- the profile page ---------------------------------------------------------------------


async def _profile(request: Request) -> Response:
    body = await _posted(request)
    if isinstance(body, Response):
        return body
    token = request.path_params["token"]
    return await run_in_threadpool(_handle_profile, _deps(request), request, token, body)


def _feed_url(deps: _Deps, request: Request, config: Config, claim: TokenClaims) -> str:
    return feed_url(_base(request, config), deps.signer, claim.user, epoch=claim.epoch)


async def _posted(request: Request) -> bytes | Response:
    """A POST's body (b"" for a GET or HEAD), or the 413 response when it is too large."""
    if request.method != "POST":
        return b""
    try:
        return await read_body(request)
    except TooLarge:
        return too_large()


def _handle_profile(deps: _Deps, request: Request, token: str, body: bytes) -> Response:
    try:
        claim = deps.signer.read(token, "profile")
    except BadToken as e:
        log.info("refused a profile link (%s): %s", token_digest(token), e)
        return _refused(str(e))
    found = _user(deps, claim)
    if isinstance(found, Response):
        return found
    config, name = found[0], found[1].name
    notice: list[str] = []
    undo: _Form | None = None
    status = 200
    if request.method == "POST":
        form = _form(body, request.headers.get("content-type", ""))
        if not deps.signer.check_csrf(token, form.get("csrf")) or not _same_origin(request, config):
            return _refused("the form did not come from this page (CSRF check)")
        op, key, value = form.get("op", ""), form.get("key", ""), form.get("value", "")
        value = " ".join(value.split())
        where = form.get("collection", "")
        if where and where not in {c.name for c in found[1].collections}:
            op = ""  # not one of the user's collections: refused below
        if op == "subscribe":
            deps.storage.set_unsubscribed(name, False)
            notice = ["Your digests come again."]
        elif op == "signout":
            return _sign_out(deps, name)
        elif (op == "add" and key in ADDABLE) or (op == "remove" and key in REMOVABLE):
            if not value or len(value) > MAX_VALUE:
                notice = [f"Give a value of 1 to {MAX_VALUE} characters."]
                status = 400
            else:
                try:
                    changes = _edit(config, name, [(op, key, (value,))], where)
                except PaperboyError as e:
                    log.error("profile edit for %s failed: %s", name, e)
                    return _refused(_FAILED, 409)
                notice = _describe_profile(deps.storage, changes, where)
                # Undo is a signed "undo" link like the digest's: it may put back a
                # saved paper, which this page's own form cannot add.
                undo = _undo_form(deps, claim, _inverse(changes), collection=where)
        else:
            notice = ["That is not something this page can change."]
            status = 400
    feed = _feed_url(deps, request, config, claim)
    return _render_profile(deps, config, token, name, notice, undo, status, feed)


def _sign_out(deps: _Deps, name: str) -> Response:
    """ "Sign out all links": every link made for this user so far (this page's too) is
    refused from now on; the next digest brings new ones."""
    deps.storage.revoke_links(name)
    lines = [
        "Every link sent to you so far no longer works, this page's included: whoever "
        "you forwarded a digest to cannot use its links.",
        "Your next digest brings new links.",
    ]
    return _page(
        "done.html.j2", heading="Signed out", lines=lines, user=name, undo=None, profile_href=None
    )


def _canonical(value: str) -> str:
    try:
        return canonical_arxiv_id(value)[0]
    except UnknownPaperError:
        return value


def _describe_profile(
    storage: Storage, changes: Sequence[Change], collection: str = ""
) -> list[str]:
    words = {
        "added": "added to",
        "already-present": "was already in",
        "removed": "removed from",
        "not-found": "was not in",
    }
    lines = []
    for c in changes:
        name = f"“{_title(storage, c.value)}”" if c.key in ("saved", "disliked") else c.value
        lines.append(f"{name}: {words[c.action]} your {_LABELS[c.key]}{_in(collection)}.")
    return lines


def _render_profile(
    deps: _Deps,
    config: Config,
    token: str,
    name: str,
    notice: Sequence[str],
    undo: _Form | None,
    status: int,
    feed: str,
) -> Response:
    user = config.user(name)
    text = read_snapshot(user_file(config, name)).text
    whole_file = user.source is not None  # a users_dir file
    # The default collection (the top-level lists) first, then each named one.
    names = ["", *(c.name for c in user.collections)]
    read = {c: read_lists(text, name, whole_file=whole_file, collection=c) for c in names}
    # The file may say "arXiv:2401.01234v2" or a URL; the database knows "2401.01234".
    ids = [v for lists in read.values() for v in (*lists["saved"], *lists["disliked"])]
    canonical = {v: _canonical(v) for v in ids}
    stored = deps.storage.get_papers(list(set(canonical.values())))

    def papers(values: Sequence[str]) -> list[dict[str, str | None]]:
        out = []
        for value in values:
            pid = canonical[value]
            paper = stored.get(pid)
            out.append(
                {
                    "value": value,  # what the remove button sends: as written in the file
                    "id": pid,
                    "title": " ".join(paper.title.split()) if paper else None,
                    "url": abs_url(pid) if is_arxiv_id(pid) else None,
                }
            )
        return out

    collections = [
        {
            "name": c,
            "heading": (f"Collection {c}" if c else "Your main lists") if len(names) > 1 else "",
            "note": "" if c else "Papers and words outside any collection: the default one.",
            "saved": papers(lists["saved"]),
            "disliked": papers(lists["disliked"]),
            "words": [(key, _LABELS[key], _SINGULAR[key], lists[key]) for key in ADDABLE],
        }
        for c, lists in read.items()
    ]
    state = deps.storage.user_state(name)
    now = deps.now()
    if state.unsubscribed_at is not None:
        subscription = "Unsubscribed: you get no digests."
    elif state.paused(now):
        assert state.paused_until is not None
        subscription = f"Paused until {state.paused_until:%A %d %B %Y}."
    else:
        subscription = "Active: your digests come on their schedule."
    return _page(
        "profile.html.j2",
        status,
        user=name,
        token=token,
        csrf=deps.signer.csrf(token),
        notice=notice,
        undo=undo,
        subscription=subscription,
        receiving=state.receiving(now),
        collections=collections,
        feed=feed,
    )
