"""The `paperboy` command: a thin click layer over jobs/, recommender/ and emails/.

One module per group of commands, so a behaviour is found from the file names:

- root.py: the group itself (global options, errors to exit statuses, `main`);
- common.py: helpers every command shares (config, database, output formats);
- getting_started.py: `init`, `demo`;
- fetch.py: `fetch`, `index`;
- rank.py: `rank`;
- digest.py: `digest`;
- daemon.py: `run`, `serve`, `worker`;
- status.py: `status`;
- profile.py: `profile list/add/remove/like/dislike/import/...`;
- `eval` is jobs/ranking/evaluate.py's.

A command's module is imported when the command runs (COMMANDS below; `paperboy --help`
imports them all to list them), and every module imports only cheap modules at the top;
each command imports what it needs when it runs.
"""

from __future__ import annotations

from paperboy.jobs.cli.common import FORMATS
from paperboy.jobs.cli.root import cli, main

# name -> (module, attribute): the module that defines the command, imported on first use.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("paperboy.jobs.cli.getting_started", "demo"),
    "digest": ("paperboy.jobs.cli.digest", "digest"),
    "eval": ("paperboy.jobs.ranking.evaluate", "eval_command"),
    "fetch": ("paperboy.jobs.cli.fetch", "fetch"),
    "index": ("paperboy.jobs.cli.fetch", "index_command"),
    "init": ("paperboy.jobs.cli.getting_started", "init"),
    "profile": ("paperboy.jobs.cli.profile", "profile"),
    "rank": ("paperboy.jobs.cli.rank", "rank"),
    "run": ("paperboy.jobs.cli.daemon", "run"),
    "serve": ("paperboy.jobs.cli.daemon", "serve"),
    "status": ("paperboy.jobs.cli.status", "status"),
    "worker": ("paperboy.jobs.cli.daemon", "worker"),
}
cli.lazy.update(COMMANDS)

__all__ = ["COMMANDS", "FORMATS", "cli", "main"]
