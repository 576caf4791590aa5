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

In a checkout, this folder is only the namespace root: the parts sit next to it, not in it.
So that the checkout imports the way the installed package does, whoever puts the repository
root first on `sys.path` (pytest from the root, `python benchmarks/x.py`, `python -c` there)
even with a regular, non-editable install in site-packages, `__path__` then also holds the
repository root, and `paperboy.jobs` is `<root>/jobs`, exactly what package-dir maps: the
checkout's code runs, never a mix of it and the installed copy. An installed wheel has the
parts inside this folder and no pyproject.toml beside it, so there nothing changes; an
editable install maps the same files. (A side effect in a checkout only: the root's other
packages, e.g. `tests`, are importable as `paperboy.tests` too. Nothing does that.)
"""

from __future__ import annotations

import os as _os

__all__ = ["__version__"]

__version__ = "0.1.0.dev0"

_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if (
    _os.path.isfile(_os.path.join(_root, "pyproject.toml"))
    and _os.path.isfile(_os.path.join(_root, "jobs", "__init__.py"))
    and _root not in __path__
):
    __path__.append(_root)
del _os, _root
