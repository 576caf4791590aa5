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

Every module imports only cheap modules at the top (`paperboy --help` must start at once);
each command imports what it needs when it runs.
"""

from __future__ import annotations

from paperboy.jobs.cli import daemon, digest, fetch, getting_started, profile, rank, status
from paperboy.jobs.cli.common import FORMATS
from paperboy.jobs.cli.root import cli, main
from paperboy.jobs.ranking.evaluate import eval_command

cli.add_command(profile.profile)  # the group; `profile` here stays the module
cli.add_command(eval_command, name="eval")

__all__ = ["FORMATS", "cli", "main"]
# The modules above register their commands on `cli` when imported.
_COMMAND_MODULES = (daemon, digest, fetch, getting_started, rank, status)
