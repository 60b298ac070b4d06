"""The prediction-agreement fields of ``unitscope compare``."""

from __future__ import annotations

from typing import Any

import click

from ..match import agreement
from ..record import Recording


def agreement_fields(
    rec_a: Recording, rec_b: Recording, members: int, step: int, factory: Any = None
) -> Any:
    """Member k of A against member k of B (k < ``members``) at every shared checkpoint, and
    at ``step``; None for a regression task (there are no predicted labels) and for torch
    recordings without ``factory`` (unitscope cannot rebuild their networks to predict). With
    ``factory``, a torch recording's members are rebuilt and predict on its probe set."""
    if rec_a.meta.dataset.task != "classification":
        return None
    if (rec_a.is_torch or rec_b.is_torch) and factory is None:
        return None
    pairs = [(k, k) for k in range(members)]
    result = agreement(rec_a, rec_b, members=pairs, factory=factory)
    hits = [t for t, s in enumerate(result.steps.tolist()) if s == step]
    return {
        "at_step": result.summary(hits[0]) if hits else None,
        "over_training": result.summary(),
    }


def echo_agreement(fields: Any) -> None:
    """One line: the mean of each agreement measure over the pairs at the compared step."""
    at = None if fields is None else fields["at_step"]
    if at is None:
        return
    means = {k: sum(at[k]) / len(at[k]) for k in ("disagreement", "kappa", "jsd", "delta_accuracy")}
    click.echo(
        f"predictions ({at['split']}, step {at['steps']}): disagreement {means['disagreement']:.4f}"
        f", Cohen's kappa {means['kappa']:.4f}, JSD {means['jsd']:.4f} bits, |delta accuracy| "
        f"{means['delta_accuracy']:.4f} (mean over {len(at['pairs'])} member pair(s))"
    )
