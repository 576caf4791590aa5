"""The long-running commands: `paperboy run` (the scheduler), `paperboy serve` (the
feedback endpoint) and `paperboy worker` (a Celery worker)."""

from __future__ import annotations

import logging
import signal

import click

from paperboy.jobs.cli.common import load as _config
from paperboy.jobs.cli.common import open_storage as _storage
from paperboy.jobs.cli.common import say
from paperboy.jobs.cli.root import cli

log = logging.getLogger("paperboy")


# --- run ---------------------------------------------------------------------------------


@cli.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the daemon: fetch on arXiv's schedule, mail each digest at its time.

    Stops cleanly on Ctrl-C or SIGTERM.

    \b
    Example:
      PAPERBOY_SMTP_PASSWORD=... paperboy --config ~/paperboy/config.toml run -v
    """
    from paperboy.jobs.core.stopping import stop_cleanly_until_started

    stop_cleanly_until_started()  # exit 0 on SIGTERM while starting (python -m jobs.cli run)
    from paperboy.jobs.runners.scheduler import run_forever

    config = _config(ctx)
    with _storage(config) as storage:
        run_forever(config, storage)


# --- serve -------------------------------------------------------------------------------


@cli.command()
@click.option("--listen", metavar="HOST:PORT", help="Where to listen (default: [web] listen).")
@click.pass_context
def serve(ctx: click.Context, listen: str | None) -> None:
    """Serve the pages behind the links in digests: more/less like this, pause,
    unsubscribe, the profile page. Stops cleanly on Ctrl-C or SIGTERM.

    Listens on [web] listen (default 127.0.0.1:8080, this machine only); put it behind
    your reverse proxy at [web] base_url. `paperboy run` serves it too with [web] serve =
    true. The links are signed with $PAPERBOY_WEB_SECRET or [web] secret_file (web.key).

    \b
    Example:
      paperboy serve
      paperboy serve --listen 127.0.0.1:9000
    """
    from paperboy.jobs.config.services import parse_listen
    from paperboy.jobs.web.server import make_server

    config = _config(ctx)
    host = port = None
    if listen is not None:
        try:
            host, port = parse_listen(listen)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--listen") from e
    if not config.web.base_url:
        log.warning("[web] base_url is not set: digests carry no links to these pages")
    with _storage(config) as storage:
        server = make_server(config, storage, host=host, port=port)
        say(
            f"Serving Paperboy's feedback pages on http://{server.config.host}:"
            f"{server.config.port} (Ctrl-C stops)",
            err=True,
        )
        # uvicorn catches SIGINT/SIGTERM to shut down gracefully, then raises the signal
        # again for the handler that was there before: make that one a clean exit 0.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: None)
        server.run()
    log.info("stopped")


# --- worker ------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    help="Worker processes on this machine (default: one per core).",
)
@click.pass_context
def worker(ctx: click.Context, concurrency: int | None) -> None:
    """Run a queue worker: fetch, rank, render and send what `paperboy run` enqueues.

    Needs a [queue] table with a broker in config.toml; start as many workers as you
    like, on any machine that reaches the broker and the database.

    \b
    Example:
      paperboy --config /etc/paperboy/config.toml worker --concurrency 2
    """
    from paperboy.jobs.runners.queue.app import make_app, run_worker

    config = _config(ctx)
    app = make_app(config)
    with _storage(config):
        pass  # the database is reachable and its schema current before any task runs
    run_worker(app, config, concurrency)
