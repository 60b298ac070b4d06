"""One error type for everything the user can get wrong, with helpers that phrase it well."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UnitscopeError(ValueError):
    """Bad input: a malformed config, a mistyped name, NaN data, mismatched shapes, a bad file.

    The message is one line that says what was wrong, the value received, and how to fix it.
    The CLI prints it on stderr and exits with code 2.
    """


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return `` Did you mean 'x'?`` for the closest choice, or ``""`` when nothing is close.

    >>> did_you_mean("hiden.0", ["hidden.0", "out"])
    " Did you mean 'hidden.0'?"
    """
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def unknown_name(kind: str, name: str, choices: Iterable[str]) -> UnitscopeError:
    """Build the error for an unknown ``kind`` name, with a did-you-mean and the valid names.

    >>> str(unknown_name("layer", "hiden.0", ["hidden.0", "out"]))
    "unknown layer 'hiden.0'. Did you mean 'hidden.0'? Available: 'hidden.0', 'out'."
    """
    choices = sorted(choices)
    listed = ", ".join(repr(c) for c in choices)
    return UnitscopeError(
        f"unknown {kind} {name!r}.{did_you_mean(name, choices)} Available: {listed}."
    )
