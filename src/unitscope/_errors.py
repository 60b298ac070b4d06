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


def unknown_name(
    kind: str, name: str, choices: Iterable[str], *, closest: int | None = None, every: str = ""
) -> UnitscopeError:
    """Build the error for an unknown ``kind`` name, with a did-you-mean and the valid names.

    With ``closest``, a list longer than that shows only the ``closest`` names nearest to
    ``name`` (a network can have hundreds of modules), and ``every`` says how to list them all.

    >>> str(unknown_name("layer", "hiden.0", ["hidden.0", "out"]))
    "unknown layer 'hiden.0'. Did you mean 'hidden.0'? Available: 'hidden.0', 'out'."
    >>> names = ["fc", "conv", "head", "layer1.0.relu", "layer2.0.relu"]
    >>> str(unknown_name("layer", "layer1.0.rel", names, closest=2, every="see module_names()"))
    "unknown layer 'layer1.0.rel'. Did you mean 'layer1.0.relu'? Closest of 5: 'layer1.0.relu', \
'layer2.0.relu'; see module_names()."
    """
    choices = sorted(choices)
    if closest is not None and len(choices) > closest:
        near = difflib.get_close_matches(name, choices, n=closest, cutoff=0.0)
        listed = ", ".join(repr(c) for c in near)
        tail = f"; {every}" if every else ""
        return UnitscopeError(
            f"unknown {kind} {name!r}.{did_you_mean(name, choices)} "
            f"Closest of {len(choices)}: {listed}{tail}."
        )
    listed = ", ".join(repr(c) for c in choices)
    return UnitscopeError(
        f"unknown {kind} {name!r}.{did_you_mean(name, choices)} Available: {listed}."
    )
