"""The `paperboy` command group: global options, logging, and errors to exit statuses.

Exit status: 0 success, 1 failure, 2 usage or config error. Output for people by default,
`--format json|jsonl` for scripts; logs and progress go to stderr. The commands live in
the modules beside this one, one per group of commands; `jobs/cli/__init__.py` names them
in `cli.lazy`, and a command's module is imported only when that command runs (or when a
list of all commands is asked for: `paperboy --help`, a misspelt command).
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from paperboy import __version__
from paperboy.jobs.cli.common import fail
from paperboy.jobs.config.load import config_path
from paperboy.jobs.core.errors import ConfigError, InputFileError, PaperboyError
from paperboy.jobs.core.logs import configure_logging


class PaperboyGroup(click.Group):
    """Turns the project's errors into exit statuses: ConfigError and InputFileError (a bad
    file named on the command line, in any format) 2, other errors 1.

    Its commands load lazily: `lazy` maps a command's name to (module, attribute), and
    the module is imported when the command is first looked up, so `paperboy status`
    imports neither the profile editor nor the evaluation code."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, tuple[str, str]] = {}

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            if cmd_name not in self.lazy:
                self._load_all()  # for click's "did you mean" among all the commands
            else:
                module, attribute = self.lazy[cmd_name]
                command = getattr(importlib.import_module(module), attribute)
                if cmd_name not in self.commands:  # a module's @cli.command() registers it
                    self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_all()
        return super().list_commands(ctx)

    def _load_all(self) -> None:
        for name in self.lazy:
            if name not in self.commands:
                self.get_command(click.Context(self), name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigError, InputFileError) as e:
            fail(str(e), 2)
        except PaperboyError as e:
            fail(f"error: {e}", 1)
        except Exception as e:
            # A database problem storage did not foresee. SQLAlchemy is imported only by
            # the commands that open the database: if it is not loaded, this is not one.
            exc = sys.modules.get("sqlalchemy.exc")
            if exc is not None and isinstance(e, exc.SQLAlchemyError):
                fail(f"database error: {getattr(e, 'orig', None) or e}", 1)
            raise


@click.group(cls=PaperboyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_option",
    metavar="PATH",
    help="config.toml to use (default: $PAPERBOY_CONFIG, else ./config.toml).",
)
@click.option("-v", "--verbose", count=True, help="More log lines on stderr (-vv: debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines for people, or one JSON object per line.",
)
@click.version_option(version=__version__, prog_name="paperboy")
@click.pass_context
def cli(
    ctx: click.Context, config_option: str | None, verbose: int, quiet: bool, log_format: str
) -> None:
    """Paperboy: a ranked digest of new research papers, mailed to each user.

    \b
    Try it offline, on data bundled with Paperboy:
      paperboy demo
    Then make your own:
      paperboy init && $EDITOR config.toml && paperboy fetch && paperboy digest
    """
    levels = [logging.WARNING, logging.INFO, logging.DEBUG]
    level = logging.ERROR if quiet else levels[min(verbose, 2)]
    configure_logging(level, log_format)
    ctx.obj = {"config_path": config_path(config_option)}


def main() -> None:
    """The console script's entry point."""
    cli(prog_name="paperboy")
