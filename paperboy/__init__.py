"""Paperboy: a self-hosted daemon that mails each user a ranked digest of new research papers.

The parts live in folders of their own at the top of the repository and install under this
one namespace (see pyproject.toml's package-dir), so nothing else on a machine can clash
with them:

- `paperboy.recommender` (`recommender/`): text -> features -> a per-user model -> scores
  with reasons. Pure: no network, no database, no e-mail.
- `paperboy.emails` (`emails/`): templates and delivery.
- `paperboy.jobs` (`jobs/`): the daemon: config, storage, sources, jobs, scheduler, CLI,
  queue workers and the feedback endpoint.
- `paperboy.text` (this folder): plain-text helpers that both `recommender` and `emails` use
  and that neither may take from the other, so that the words a reason names are the words
  the mail shows.

Importing `paperboy` imports none of the parts.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0.dev0"
