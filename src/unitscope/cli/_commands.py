"""The list of subcommands; each area of the CLI registers its commands here."""

from __future__ import annotations

import importlib

import click

# (module, attribute) pairs; a module is imported only when the CLI starts.
_COMMANDS = [
    ("train", "train"),
    ("train", "info"),
    ("record", "record"),
    ("match", "match"),
    ("stitch", "stitch"),
    ("consensus", "consensus"),
    ("sweep", "sweep"),
    ("report", "report"),
    ("measure", "measure"),
    ("measure", "compare"),
    ("study", "study"),
    ("study", "demo"),
]


def names() -> list[str]:
    """Every subcommand's name."""
    return [attr for _, attr in _COMMANDS]


def load(name: str) -> click.Command | None:
    """Import and return subcommand ``name`` (None when there is no such command)."""
    for module, attr in _COMMANDS:
        if attr == name:
            command = getattr(importlib.import_module(f"unitscope.cli.{module}"), attr)
            return command if isinstance(command, click.Command) else None
    return None


def all_commands() -> list[click.Command]:
    """Every subcommand, imported."""
    return [c for c in (load(n) for n in names()) if c is not None]
