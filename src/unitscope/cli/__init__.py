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

from .._errors import UnitscopeError
from .._version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="unitscope")
def cli() -> None:
    """unitscope: why do interchangeable hidden units learn different things?

    Train controlled experiments, record every hidden unit, measure and match units across
    runs, and write an offline HTML report whose verdicts are computed from the numbers.
    """


def _register() -> None:
    from . import _commands

    for command in _commands.all_commands():
        cli.add_command(command)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``unitscope`` script: one clear line and exit code 2 on bad input."""
    _register()
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
