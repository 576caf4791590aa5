"""`paperboy profile ...`: show and grow a user's interest profile in config.toml.

A thin click layer: the edits are :mod:`jobs.config.lists` (text in, text out, comments and
layout kept; :func:`jobs.config.lists.edit_profile` finds the file the user lives in, config.toml
or their users_dir file), BibTeX reading is :mod:`jobs.fetch.bibtex`, the database is
:mod:`jobs.storage`. Every edit re-validates the whole file before writing it, writes it
atomically with a backup (config.toml.bak) and refuses if the file changed on disk in the
meantime.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from paperboy.jobs.cli.common import EXISTING_FILE, FORMATS, emit_one, load, say
from paperboy.jobs.cli.common import emit as _emit
from paperboy.jobs.cli.common import open_storage as _storage
from paperboy.jobs.config.load import parse_config
from paperboy.jobs.config.model import CollectionConfig, Config, UserConfig
from paperboy.jobs.config.writes import ConfigSnapshot, backup_path, config_lock, read_snapshot
from paperboy.jobs.core.errors import ConfigError, StorageError, UnknownPaperError
from paperboy.jobs.core.ids import abs_url, canonical_arxiv_id
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.core.text_safety import for_terminal

if TYPE_CHECKING:  # imported by the commands that edit (tomlkit) or import (bibtexparser)
    from paperboy.jobs.config.lists import Change, Operation, ProfileEdit
    from paperboy.jobs.fetch.bibtex import BibPaper

_LABELS = {
    "saved": "saved papers",
    "disliked": "disliked papers",
    "keywords": "keywords",
    "authors": "followed authors",
    "muted": "muted words",
}


def _row(change: Change, user: str) -> dict[str, str]:
    return {"user": user, "list": change.key, "action": change.action, "value": change.value}


# --- shared steps ------------------------------------------------------------------------


def _load(ctx: click.Context) -> tuple[ConfigSnapshot, Config]:
    """Read the file once: the snapshot that will be edited is the text that was validated.

    The config lock is held until the command ends, so a click in a digest waits for
    this edit instead of refusing it (jobs.config.writes.config_lock). The schedules'
    cron lines are not checked: no profile command uses them (`paperboy status` does)."""
    ctx.with_resource(config_lock(Path(ctx.obj["config_path"])))
    snapshot = read_snapshot(Path(ctx.obj["config_path"]))
    return snapshot, parse_config(snapshot.text, snapshot.path, check_schedules=False)


def _user(config: Config, name: str | None) -> UserConfig:
    if name:
        return config.user(name)
    if len(config.users) == 1:
        return config.users[0]
    known = ", ".join(u.name for u in config.users) or "none"
    raise click.UsageError(f"which user? give --user NAME (configured: {known})")


def _lists(user: UserConfig, collection: str) -> CollectionConfig:
    """The lists --collection names ("": the user's top-level lists); a usage error (exit
    2) naming the user's collections otherwise."""
    try:
        return user.collection(collection)
    except ConfigError as e:
        raise click.UsageError(str(e)) from e


def _ids(values: Sequence[str]) -> list[str]:
    """Canonical arXiv ids; a usage error (exit 2) naming the first bad one."""
    out = []
    for value in values:
        try:
            out.append(canonical_arxiv_id(value)[0])
        except UnknownPaperError as e:
            raise click.BadParameter(str(e), param_hint="ID") from e
    return out


def _edit(
    config: Config,
    snapshot: ConfigSnapshot,
    user: str,
    operations: Sequence[Operation],
    *,
    write: bool = True,
    collection: str = "",
) -> ProfileEdit:
    """Apply (op, key, values) edits in the file the user lives in (to one collection's
    lists with `collection`), validate, write."""
    from paperboy.jobs.config.lists import edit_profile

    try:
        return edit_profile(
            config, user, operations, snapshot=snapshot, write=write, collection=collection
        )
    except ValueError as e:  # an empty --keyword "" and the like
        raise click.UsageError(str(e)) from e


def _say_changes(user: str, changes: Sequence[Change], quiet_moves: bool = False) -> None:
    verbs = {
        "added": "added to",
        "already-present": "already in",
        "removed": "removed from",
        "not-found": "not in",
    }
    for change in changes:
        if quiet_moves and change.action == "not-found":
            continue
        say(f"{change.value}: {verbs[change.action]} {user}'s {_LABELS[change.key]}")


def _say_written(path: Path, written: bool) -> None:
    if written:
        say(f"Wrote {path} (the previous version is {backup_path(path.resolve())}).")
    else:
        say(f"Nothing to change in {path}.")


def _edit_command(
    ctx: click.Context,
    user_name: str | None,
    fmt: str,
    operations: Sequence[tuple[str, str, Sequence[str]]],
    *,
    hide_not_found: bool = False,
    collection: str = "",
) -> None:
    snapshot, config = _load(ctx)
    user = _user(config, user_name)
    _lists(user, collection)
    edit = _edit(config, snapshot, user.name, operations, collection=collection)
    changes = edit.changes
    rows = [_row(c, user.name) for c in changes if not (hide_not_found and c.action == "not-found")]

    def text() -> None:
        _say_changes(user.name, changes, quiet_moves=hide_not_found)
        if any(c.key == "saved" and c.action == "added" for c in changes):
            say("Run `paperboy fetch` to look up the titles and abstracts of new papers.")
        _say_written(edit.path, edit.written)

    _emit(fmt, rows, text)


_USER_OPTION = click.option(
    "--user",
    "user_name",
    metavar="NAME",
    help="The user to edit (may be left out when there is only one).",
)
_FORMAT_OPTION = click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
_COLLECTION_OPTION = click.option(
    "--collection",
    "collection",
    metavar="NAME",
    default="",
    help="One of the user's [[users.collections]] (default: their top-level lists).",
)


# --- the group ---------------------------------------------------------------------------


# A declared type, not an inferred one: jobs.cli refers to it inside the import cycle.
profile: click.Group = click.Group(
    "profile",
    help="""Show and edit a user's interest profile in config.toml.

    Edits keep your comments and layout, write the file atomically, keep the previous
    version as config.toml.bak and refuse to overwrite a change made meanwhile by hand.
    A user of [paperboy] users_dir is edited in their own file (users.d/NAME.toml).

    \b
    Example:
      paperboy profile add --user ada 2401.01234 https://arxiv.org/abs/1706.03762
      paperboy profile list --user ada
    """,
)


@profile.command("list")
@_USER_OPTION
@_COLLECTION_OPTION
@_FORMAT_OPTION
@click.pass_context
def list_(ctx: click.Context, user_name: str | None, collection: str, fmt: str) -> None:
    """List a user's saved and disliked papers (with titles), keywords, authors, muted words.

    Titles come from the database; a paper not looked up yet shows "(not fetched yet)".
    With --collection, that collection's lists (and its library and Zotero papers).

    \b
    Example:
      paperboy profile list --user ada
      paperboy profile list --user ada --collection rl-reasoning --format json
    """
    _snapshot, config = _load(ctx)
    owner = _user(config, user_name)
    user = _lists(owner, collection)
    titles: dict[str, str] = {}
    library: list[dict[str, str]] = []
    zotero: list[dict[str, str | None]] = []
    try:
        with _storage(config) as storage:
            stored = storage.get_papers([*user.saved, *user.disliked])
            titles = {pid: " ".join(p.title.split()) for pid, p in stored.items()}
            library = [
                {"id": p.id, "title": p.title}
                for p in storage.library_papers(owner.name, collection=collection)
            ]
            synced = storage.zotero_paper_ids(owner.name, collection=collection)
            found = storage.get_papers(synced)
            zotero = [
                {"id": pid, "title": " ".join(found[pid].title.split()) if pid in found else None}
                for pid in synced
            ]
    except StorageError as e:
        say(f"paperboy: warning: titles unavailable: {e}", err=True)

    def papers(ids: Sequence[str]) -> list[dict[str, Any]]:
        return [{"id": pid, "title": titles.get(pid), "url": abs_url(pid)} for pid in ids]

    row = {
        "user": owner.name,
        "collection": collection,  # "": the top-level lists (the default collection)
        "collections": [c.name for c in owner.collections],
        "saved": papers(user.saved),
        "disliked": papers(user.disliked),
        "keywords": list(user.keywords),
        "authors": list(user.authors),
        "muted": list(user.muted),
        "library": library,
        "zotero": zotero,  # synced from [users.zotero] (jobs.fetch.zotero_sync), not in config.toml
    }

    def text() -> None:
        where = f", collection {collection}" if collection else ""
        say(f"{owner.name}{where} ({owner.source or config.path})")
        for key in ("saved", "disliked"):
            items = row[key]
            assert isinstance(items, list)
            say(f"{_LABELS[key].capitalize()} ({len(items)}):")
            for item in items:
                say(f"  {item['id']:<18} {item['title'] or '(not fetched yet)'}")
        for key in ("keywords", "authors", "muted"):
            values = row[key]
            assert isinstance(values, list)
            shown = ", ".join(for_terminal(v, single_line=True) for v in values)
            say(f"{_LABELS[key].capitalize()}: {shown or 'none'}")
        if library:
            say(f"Library (imported from BibTeX, no arXiv id) ({len(library)}):")
            for item in library:
                say(f"  {' '.join(item['title'].split())}")
        if zotero:
            say(f"Zotero ({owner.zotero.library if owner.zotero else '?'}) ({len(zotero)}):")
            for z in zotero:
                say(f"  {z['id']:<18} {z['title'] or '(not fetched yet)'}")
        if owner.collections and not collection:
            names = ", ".join(c.name for c in owner.collections)
            say(f"Collections: {names} (see one with --collection NAME)")

    _emit(fmt, [row], text)


@profile.command()
@click.argument("ids", nargs=-1, metavar="[ID]...")
@_USER_OPTION
@click.option("--keyword", "keywords", multiple=True, help="A keyword to boost (repeatable).")
@click.option("--author", "authors", multiple=True, help="An author to follow (repeatable).")
@click.option("--mute", "muted", multiple=True, help="A word or category to push down.")
@_COLLECTION_OPTION
@_FORMAT_OPTION
@click.pass_context
def add(
    ctx: click.Context,
    ids: tuple[str, ...],
    user_name: str | None,
    keywords: tuple[str, ...],
    authors: tuple[str, ...],
    muted: tuple[str, ...],
    collection: str,
    fmt: str,
) -> None:
    """Add saved papers (any arXiv id form), keywords, authors or muted words.

    Ids are written in their canonical form (2401.01234v2, arXiv:2401.01234 and
    https://arxiv.org/abs/2401.01234 are all 2401.01234). Adding what is already there
    changes nothing. A disliked paper that you add is no longer disliked.

    \b
    Example:
      paperboy profile add --user ada 2401.01234 https://arxiv.org/abs/1706.03762
      paperboy profile add --user ada --keyword bandits --author "Jeff Clune"
      paperboy profile add --user ada --collection rl-reasoning 2501.12948
    """
    if not (ids or keywords or authors or muted):
        raise click.UsageError("nothing to add: give ids, --keyword, --author or --mute")
    canonical = _ids(ids)
    _edit_command(
        ctx,
        user_name,
        fmt,
        [
            ("remove", "disliked", canonical),
            ("add", "saved", canonical),
            ("add", "keywords", keywords),
            ("add", "authors", authors),
            ("add", "muted", muted),
        ],
        hide_not_found=True,
        collection=collection,
    )


@profile.command()
@click.argument("ids", nargs=-1, metavar="[ID]...")
@_USER_OPTION
@click.option("--keyword", "keywords", multiple=True, help="A keyword to drop (repeatable).")
@click.option("--author", "authors", multiple=True, help="An author to unfollow (repeatable).")
@click.option("--mute", "muted", multiple=True, help="A muted word to drop (repeatable).")
@_COLLECTION_OPTION
@_FORMAT_OPTION
@click.pass_context
def remove(
    ctx: click.Context,
    ids: tuple[str, ...],
    user_name: str | None,
    keywords: tuple[str, ...],
    authors: tuple[str, ...],
    muted: tuple[str, ...],
    collection: str,
    fmt: str,
) -> None:
    """Remove saved or disliked papers, keywords, authors or muted words.

    A paper is found whatever form you give it in (a URL, a version, "arXiv:"), and
    keywords, authors and muted words whatever their case.

    \b
    Example:
      paperboy profile remove --user ada https://arxiv.org/abs/2401.01234v3
      paperboy profile remove --user ada --keyword Bandits
    """
    if not (ids or keywords or authors or muted):
        raise click.UsageError("nothing to remove: give ids, --keyword, --author or --mute")
    canonical = _ids(ids)
    snapshot, config = _load(ctx)
    user = _user(config, user_name)
    lists = _lists(user, collection)
    in_disliked = [pid for pid in canonical if pid in lists.disliked]
    in_saved = [pid for pid in canonical if pid not in in_disliked]
    edit = _edit(
        config,
        snapshot,
        user.name,
        [
            ("remove", "saved", in_saved),
            ("remove", "disliked", in_disliked),
            ("remove", "keywords", keywords),
            ("remove", "authors", authors),
            ("remove", "muted", muted),
        ],
        collection=collection,
    )

    def text() -> None:
        _say_changes(user.name, edit.changes)
        _say_written(edit.path, edit.written)

    _emit(fmt, [_row(c, user.name) for c in edit.changes], text)


@profile.command()
@click.argument("ids", nargs=-1, required=True, metavar="ID...")
@_USER_OPTION
@_COLLECTION_OPTION
@_FORMAT_OPTION
@click.pass_context
def like(
    ctx: click.Context, ids: tuple[str, ...], user_name: str | None, collection: str, fmt: str
) -> None:
    """Save papers you liked (and take them off your disliked papers).

    \b
    Example:
      paperboy profile like --user ada 2401.01234
      paperboy profile like --user ada --collection rl-reasoning 2401.01234
    """
    from paperboy.jobs.config.lists import like_operations

    canonical = _ids(ids)
    _edit_command(
        ctx,
        user_name,
        fmt,
        like_operations(canonical),
        hide_not_found=True,
        collection=collection,
    )


@profile.command()
@click.argument("ids", nargs=-1, required=True, metavar="ID...")
@_USER_OPTION
@_COLLECTION_OPTION
@_FORMAT_OPTION
@click.pass_context
def dislike(
    ctx: click.Context, ids: tuple[str, ...], user_name: str | None, collection: str, fmt: str
) -> None:
    """Mark papers you do not want more of (and take them off your saved papers).

    Disliked papers are kept in `disliked = [...]` in config.toml; the ranker learns
    from them what to push down.

    \b
    Example:
      paperboy profile dislike --user ada 2401.01234
    """
    from paperboy.jobs.config.lists import dislike_operations

    canonical = _ids(ids)
    _edit_command(
        ctx,
        user_name,
        fmt,
        dislike_operations(canonical),
        hide_not_found=True,
        collection=collection,
    )


def _link(paper: BibPaper) -> str:
    if paper.arxiv_id:
        return abs_url(paper.arxiv_id)
    return f"https://doi.org/{paper.doi}" if paper.doi else ""


@profile.command("import")
@click.argument("bibfile", type=EXISTING_FILE)
@_USER_OPTION
@click.option("--dry-run", is_flag=True, help="Show what would be added; change nothing.")
@_COLLECTION_OPTION
@_FORMAT_OPTION
@click.pass_context
def import_(
    ctx: click.Context,
    bibfile: Path,
    user_name: str | None,
    dry_run: bool,
    collection: str,
    fmt: str,
) -> None:
    """Import a BibTeX/BibLaTeX library (a Zotero or Mendeley export).

    Entries with an arXiv id (eprint, an arxiv.org URL or an arXiv DOI) become saved
    papers in config.toml. Entries without one but with a title and an abstract are kept
    in the database as library papers, for the model. Their titles and abstracts are
    stored, so nothing needs fetching. Prints how many were added, already present, and
    skipped (and why). With --collection, into that collection (its saved papers, and
    its share of the library; a library paper is in one collection at a time).

    \b
    Example:
      paperboy profile import --user ada ~/zotero/library.bib
      paperboy profile import --user ada library.bib --dry-run
      paperboy profile import --user ada rl.bib --collection rl-reasoning
    """
    from paperboy.jobs.fetch.bibtex import read_library

    found = read_library(bibfile)
    snapshot, config = _load(ctx)
    user = _user(config, user_name)
    lists = _lists(user, collection)
    disliked = [p for p in found.arxiv if p.id in lists.disliked]
    to_save = [p.id for p in found.arxiv if p.id not in lists.disliked]
    edit = _edit(
        config,
        snapshot,
        user.name,
        [("add", "saved", to_save)],
        write=not dry_run,
        collection=collection,
    )
    changes = edit.changes
    saved_new = [c.value for c in changes if c.action == "added"]
    saved_old = [c.value for c in changes if c.action == "already-present"]

    library_ids = [p.id for p in found.library]
    with _storage(config) as storage:
        had = set(storage.library_ids(user.name, collection=collection))
        if not dry_run:
            storage.upsert_papers(
                [
                    SourcePaper(
                        id=p.id,
                        title=p.title,
                        abstract=p.abstract,
                        authors=p.authors,
                        categories=(),
                        link=_link(p),
                    )
                    for p in (*found.arxiv, *found.library)
                    if p.title
                ],
                source="bibtex",
                listed=False,
            )
            storage.add_to_library(user.name, library_ids, collection=collection)
    library_new = [pid for pid in library_ids if pid not in had]
    library_old = [pid for pid in library_ids if pid in had]
    skipped: list[dict[str, Any]] = [
        *({"key": s.key, "line": s.line, "reason": s.reason} for s in found.skipped),
        *(
            {"key": p.key, "line": p.line, "reason": f"{p.id} is in your disliked papers"}
            for p in disliked
        ),
    ]
    skipped.sort(key=lambda s: s["line"] or 0)
    row = {
        "file": str(bibfile),
        "user": user.name,
        "collection": collection,
        "dry_run": dry_run,
        "entries": found.entries,
        "added": {"saved": saved_new, "library": library_new},
        "already_present": {
            "saved": saved_old,
            "library": library_old,
            "duplicates": [
                {"key": d.key, "line": d.line, "id": d.id, "same_as": d.first_key}
                for d in found.duplicates
            ],
        },
        "skipped": skipped,
    }

    def text() -> None:
        present = len(saved_old) + len(library_old) + len(found.duplicates)
        would = "would be " if dry_run else ""
        say(f"{bibfile}: {found.entries} entries")
        say(
            f"  {would}added: {len(saved_new) + len(library_new)} "
            f"({len(saved_new)} saved papers with an arXiv id, {len(library_new)} library "
            "papers without one)"
        )
        say(
            f"  already present: {present} ({len(saved_old)} saved, {len(library_old)} in "
            f"the library, {len(found.duplicates)} listed twice in the file)"
        )
        say(f"  skipped: {len(skipped)}")
        for s in skipped:
            where = f"line {s['line']}" if s["line"] else "?"
            say(f"    {where} ({s['key'] or 'no key'}): {s['reason']}")
        if dry_run:
            say("Dry run: nothing was written.")
        else:
            _say_written(edit.path, edit.written)

    _emit(fmt, [row], text)


@profile.command()
@_USER_OPTION
@_FORMAT_OPTION
@click.pass_context
def subscribe(ctx: click.Context, user_name: str | None, fmt: str) -> None:
    """Send a user's digests again after "Unsubscribe" or "Pause for a week" in a digest.

    Both are kept in the database (so `paperboy serve` on another machine sees them);
    `paperboy status` shows who is unsubscribed or paused.

    \b
    Example:
      paperboy profile subscribe --user ada
    """
    _snapshot, config = _load(ctx)
    user = _user(config, user_name)
    with _storage(config) as storage:
        changed = storage.set_unsubscribed(user.name, False)
    row = {"user": user.name, "action": "subscribed" if changed else "already-subscribed"}

    def text() -> None:
        if changed:
            say(f"{user.name} gets digests again.")
        else:
            say(f"{user.name} was neither unsubscribed nor paused: nothing to change.")

    _emit(fmt, [row], text)


@profile.command("feed-url")
@_USER_OPTION
@_FORMAT_OPTION
@click.pass_context
def feed_url(ctx: click.Context, user_name: str | None, fmt: str) -> None:
    """Print the address of a user's Atom feed of their recent digests, for a feed reader.

    `paperboy serve` serves it at [web] base_url; the profile page shows the same address.
    It does not expire; "Sign out all links" on the profile page revokes it (and this
    command then prints the new one). Keep it private: it shows what was sent to the user.

    \b
    Example:
      paperboy profile feed-url --user ada
    """
    from paperboy.jobs.web.feed import feed_url as make_url
    from paperboy.jobs.web.tokens import Signer

    config = load(ctx)  # read-only: no config lock
    user = _user(config, user_name)
    if not config.web.base_url:
        raise ConfigError("[web] base_url is not set: there is no address to serve a feed at")
    with _storage(config) as storage:
        epoch = storage.link_epoch(user.name)
    url = make_url(config.web.base_url, Signer(config.web.secret()), user.name, epoch=epoch)
    emit_one(fmt, {"user": user.name, "feed_url": url}, lambda: say(url))
