"""The list of subcommands; each area of the CLI registers its commands here."""

from __future__ import annotations

import importlib

import click

# (module, attribute) pairs; a module is imported only when the CLI starts.
_COMMANDS = [
    ("train", "train"),
    ("train", "info"),
    ("match", "match"),
    ("sweep", "sweep"),
    ("report", "report"),
    ("measure", "measure"),
    ("measure", "compare"),
    ("study", "study"),
    ("study", "demo"),
]


def all_commands() -> list[click.Command]:
    out = []
    for module, attr in _COMMANDS:
        mod = importlib.import_module(f"unitscope.cli.{module}")
        out.append(getattr(mod, attr))
    return out
