"""The ``unitscope`` command line: parses, calls the library, writes. Nothing else.

Every subcommand lives in its own module here and is registered below. Commands that print
results take ``--json`` and then print exactly one JSON document on stdout. Bad input raises
:class:`~unitscope._errors.UnitscopeError`; :func:`main` turns it into one line on stderr and
exit code 2, without a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .._errors import UnitscopeError, unknown_name
from .._version import __version__


class _LazyGroup(click.Group):
    """Imports a subcommand's module only when that subcommand runs (fast ``--help``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from ._commands import names

        return sorted(set(names()) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from ._commands import load

        return self.commands.get(cmd_name) or load(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            raise unknown_name("command", name, self.list_commands(ctx))
        return super().resolve_command(ctx, args)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="unitscope")
def cli() -> None:
    """unitscope: why do interchangeable hidden units learn different things?

    Train controlled experiments, record every hidden unit, measure and match units across
    runs, and write an offline HTML report whose verdicts are computed from the numbers.
    """


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``unitscope`` script: one clear line and exit code 2 on bad input."""
    try:
        return cli.main(args=argv, prog_name="unitscope", standalone_mode=False)
    except UnitscopeError as err:
        click.echo(f"unitscope: error: {err}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("unitscope: aborted.", err=True)
        sys.exit(130)
    except click.ClickException as err:
        click.echo(f"unitscope: error: {err.format_message()}", err=True)
        sys.exit(2)
    except FileNotFoundError as err:
        click.echo(f"unitscope: error: file not found: {err.filename}", err=True)
        sys.exit(2)
    except OSError as err:  # a read or write the system refused that no check foresaw
        where = f" {str(err.filename)!r}" if err.filename else ""
        reason = err.strerror or str(err) or type(err).__name__
        click.echo(f"unitscope: error: cannot access{where}: {reason}.", err=True)
        sys.exit(2)
