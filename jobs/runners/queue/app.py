"""The Celery app, made from config.toml's [queue] table (nothing happens at import).

Every task is acknowledged late (after it ran), a task whose worker process was killed
goes back to the queue (task_reject_on_worker_lost), and a worker takes one task at a
time (prefetch multiplier 1): a worker killed mid-task leaves its task to another
worker, and the task is idempotent because each digest is claimed in the database.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from celery import Celery

from paperboy.jobs.config.model import Config
from paperboy.jobs.core.errors import ConfigError

if TYPE_CHECKING:
    from paperboy.jobs.mailing.run import Pause


def make_app(config: Config, *, pause: Pause | None = None) -> Celery:
    """Paperboy's Celery app for `config` (ConfigError without a [queue] table).
    ``pause``: the digests' test hook (jobs.mailing.run.run_digests)."""
    queue = config.queue
    if queue is None:
        raise ConfigError(
            f"{config.path}: no [queue] table; add one with a broker, e.g.\n"
            '  [queue]\n  broker = "amqp://guest:guest@127.0.0.1:5672//"'
        )
    app = Celery("paperboy", broker=queue.broker_url(), set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=queue.name,
        task_default_exchange=queue.name,
        task_default_routing_key=queue.name,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            # Redis: a task whose worker died returns after visibility_timeout; the scan
            # for such tasks runs every unacked_restore_interval seconds.
            "visibility_timeout": queue.visibility_timeout,
            "unacked_restore_interval": max(1, min(10, queue.visibility_timeout // 2)),
            "unacked_restore_throttle": 1,
        },
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        timezone="UTC",
    )
    from paperboy.jobs.runners.queue.tasks import register

    register(app, config.path, pause=pause)
    return app


def run_worker(app: Celery, config: Config, concurrency: int | None = None) -> None:
    """Run a Celery worker of `app` on the config's queue until it is stopped
    (`paperboy worker`)."""
    assert config.queue is not None  # make_app made `app` from it
    argv = [
        "worker",
        "--loglevel",
        "INFO",
        "--queues",
        config.queue.name,
        "--hostname",
        f"paperboy-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    if concurrency is not None:
        argv += ["--concurrency", str(concurrency)]
    app.worker_main(argv)
