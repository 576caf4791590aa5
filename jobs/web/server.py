"""Run the feedback app on uvicorn: in the foreground (`paperboy serve`) or in a thread
beside the scheduler (`paperboy run` with [web] serve = true), stopped cleanly either way.

uvicorn's access log is off: every path holds a token, and a token in a log file is a
link anyone reading the log could use. The app logs what was done, without tokens.
"""

from __future__ import annotations

import logging
import threading

import uvicorn
from starlette.types import ASGIApp

from paperboy.jobs.config.model import Config
from paperboy.jobs.storage import Storage
from paperboy.jobs.web.app import create_app

__all__ = ["WebThread", "make_server", "uvicorn_server"]

log = logging.getLogger(__name__)


def make_server(
    config: Config, storage: Storage, *, host: str | None = None, port: int | None = None
) -> uvicorn.Server:
    """A uvicorn server for the app (not started). The key is read now: a missing key
    is a ConfigError before anything listens."""
    app = create_app(config, storage, secret=config.web.secret())
    return uvicorn_server(app, host or config.web.host, config.web.port if port is None else port)


def uvicorn_server(app: ASGIApp, host: str, port: int) -> uvicorn.Server:
    """uvicorn as Paperboy runs it: no access log (tokens), no Server header, our logging."""
    settings = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_config=None,  # Paperboy's logging (jobs.core.logs) applies
        server_header=False,
        proxy_headers=False,
        lifespan="off",
    )
    return uvicorn.Server(settings)


class WebThread:
    """The server in a daemon thread; stop() asks it to finish and waits."""

    def __init__(self, server: uvicorn.Server) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.run, name="paperboy-web", daemon=True)

    def start(self) -> None:
        self.thread.start()
        host, port = self.server.config.host, self.server.config.port
        log.info("serving the feedback pages on http://%s:%s", host, port)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
