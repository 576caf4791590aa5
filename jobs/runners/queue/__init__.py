"""Paperboy over a distributed task queue (Celery): `paperboy run` enqueues, `paperboy
worker` processes on any number of machines fetch, rank, render and send.

    jobs.runners.queue.app     make_app(config): the one place the Celery app is made, from [queue]
    jobs.runners.queue.tasks   the tasks (names and ids in, never objects) and the enqueuers
"""
