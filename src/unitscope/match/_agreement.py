"""Prediction agreement: do two networks make the same predictions, whatever their units?

For two classifiers on the same n inputs, with predicted labels ``a``, ``b`` (argmax of the
outputs) and softmax outputs ``p``, ``q``:

* **disagreement** ``d = mean(a != b)`` (Fort et al., 2019, "Deep ensembles: a loss landscape
  perspective");
* **Cohen's κ** ``= (p_o − p_e) / (1 − p_e)`` with the observed agreement ``p_o = 1 − d`` and
  the chance agreement ``p_e = Σ_c P(a = c) P(b = c)`` of two independent labelers with the
  same label frequencies; ``1 − κ`` is the chance-corrected disagreement. When both predict
  one and the same class everywhere (``p_e = 1``) κ is 1;
* **Jensen–Shannon divergence** ``JSD = ½ KL(p ‖ m) + ½ KL(q ‖ m)``, ``m = ½ (p + q)``, in bits
  (between 0 and 1), averaged over inputs;
* ``|Δaccuracy|``, the difference of the two accuracies.

All are computed in float64. Identical outputs give exactly 0 (κ exactly 1); so do networks
that differ by a permutation of hidden units, up to the rounding of their outputs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._errors import UnitscopeError
from ..record import Recording
from ._compare import recording_data, resolve_pairs

MEASURES = ("disagreement", "kappa", "jsd", "delta_accuracy")


def prediction_agreement(logits_a: Any, logits_b: Any, y: Any = None) -> dict[str, np.ndarray]:
    """Agreement of two sets of classifier outputs on the same inputs.

    Args:
        logits_a, logits_b: (..., n, C) outputs (logits; any leading axes, e.g. pairs).
        y: (n,) integer labels, for the accuracies and ``delta_accuracy`` (NaN without).

    Returns:
        ``disagreement``, ``kappa``, ``jsd`` (bits), ``delta_accuracy``, ``accuracy_a`` and
        ``accuracy_b``, each a float64 array of the leading shape.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> z = rng.normal(size=(50, 4))
        >>> same = prediction_agreement(z, z, rng.integers(0, 4, 50))
        >>> [float(same[k]) for k in ("disagreement", "kappa", "jsd", "delta_accuracy")]
        [0.0, 1.0, 0.0, 0.0]
    """
    za, zb = _logits(logits_a, "logits_a"), _logits(logits_b, "logits_b")
    if za.shape != zb.shape:
        raise UnitscopeError(
            f"logits_a and logits_b must have the same shape (..., n, classes), got "
            f"{tuple(za.shape)} and {tuple(zb.shape)}."
        )
    C = za.shape[-1]
    pred_a, pred_b = za.argmax(-1), zb.argmax(-1)  # (..., n)
    observed = (pred_a == pred_b).double().mean(-1)
    freq_a = torch.nn.functional.one_hot(pred_a, C).double().mean(-2)  # (..., C)
    freq_b = torch.nn.functional.one_hot(pred_b, C).double().mean(-2)
    chance = (freq_a * freq_b).sum(-1)
    perfect = chance >= 1.0
    kappa = torch.where(perfect, 1.0, (observed - chance) / torch.where(perfect, 1.0, 1 - chance))
    out = {
        "disagreement": 1.0 - observed,
        "kappa": kappa,
        "jsd": _jsd(za, zb),
    }
    if y is None:
        nan = torch.full_like(observed, float("nan"))
        out |= {"accuracy_a": nan, "accuracy_b": nan, "delta_accuracy": nan}
    else:
        labels = torch.as_tensor(np.asarray(y)).long()
        if labels.shape != pred_a.shape[-1:]:
            raise UnitscopeError(
                f"`y` must hold one label per input ({pred_a.shape[-1]}), got shape "
                f"{tuple(labels.shape)}."
            )
        acc_a = (pred_a == labels).double().mean(-1)
        acc_b = (pred_b == labels).double().mean(-1)
        out |= {"accuracy_a": acc_a, "accuracy_b": acc_b, "delta_accuracy": (acc_a - acc_b).abs()}
    return {k: v.numpy() for k, v in out.items()}


def _logits(value: Any, name: str) -> torch.Tensor:
    t = value.detach() if isinstance(value, torch.Tensor) else torch.as_tensor(np.array(value))
    if t.dim() < 2 or t.shape[-1] < 2 or t.shape[-2] < 1:
        raise UnitscopeError(
            f"`{name}` must be classifier outputs (..., n, classes) with >= 2 classes, got shape "
            f"{tuple(t.shape)}."
        )
    t = t.to(torch.float64)
    if not torch.isfinite(t).all():
        raise UnitscopeError(f"`{name}` holds NaN or infinite values (a diverged network?).")
    return t


def _jsd(za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
    """(...,) mean over inputs of the Jensen–Shannon divergence of the softmaxes, in bits.

    Written with ``p = m + d``, ``q = m − d`` as ``½ Σ p log1p(d/m) + ½ Σ q log1p(−d/m)``, so
    nearly equal outputs do not lose the result to cancellation (and equal ones give 0)."""
    p, q = za.softmax(-1), zb.softmax(-1)
    m, d = 0.5 * (p + q), 0.5 * (p - q)
    ratio = torch.where(m > 0, d / torch.where(m > 0, m, 1.0), 0.0)
    terms = torch.where(p > 0, p * torch.log1p(ratio), 0.0) + torch.where(
        q > 0, q * torch.log1p(-ratio), 0.0
    )
    value = 0.5 * terms.sum(-1)  # (..., n) nats
    return (value.clamp_min(0.0) / np.log(2.0)).mean(-1)


@dataclass(frozen=True)
class Agreement:
    """Prediction agreement of P pairs of members at T checkpoints.

    Attributes:
        steps: (T,) checkpoint steps.
        pairs: (member of A, member of B) for each pair.
        split: the data the predictions were made on.
        values: measure -> (T, P) float64 (``disagreement``, ``kappa``, ``jsd``,
            ``delta_accuracy``, ``accuracy_a``, ``accuracy_b``).
        seconds: wall time.
    """

    steps: np.ndarray
    pairs: list[tuple[int, int]]
    split: str
    values: dict[str, np.ndarray]
    seconds: float = 0.0

    def summary(self, step_index: int | None = None) -> dict[str, Any]:
        """Plain Python values: every measure (T, P), or (P,) at one checkpoint index."""
        chosen = slice(None) if step_index is None else step_index
        return {
            "split": self.split,
            "steps": self.steps[chosen].tolist(),
            "pairs": [list(p) for p in self.pairs],
            **{k: v[chosen].tolist() for k, v in self.values.items()},
        }


def agreement(
    rec_a: Recording,
    rec_b: Recording | None = None,
    *,
    members: Sequence[tuple[int, int]] | None = None,
    steps: Sequence[int] | None = None,
    split: str | None = None,
    data: Any = None,
    factory: Any = None,
) -> Agreement:
    """Prediction agreement of member pairs at every checkpoint (or the given ``steps``).

    Args:
        rec_a: recording A (a classification task).
        rec_b: recording B on the same data, or None to pair the members of A.
        members: pairs ``[(i, j), ...]``; default every i < j of one recording, member k with
            member k of two (a 1-member side pairs with every member of the other).
        steps: checkpoint steps (default: every checkpoint of A that B also recorded).
        split: ``"test"``, ``"train"`` or ``"probe"`` (the recorded probe set). Default:
            ``"test"``; ``"probe"`` for a recording of your own torch networks, which has no
            other data (the data ``match.compare`` uses for its barrier there).
        data: ``(x, y)`` to predict on instead.
        factory: for a recording of your own torch networks (``Recording.from_models``): the
            function that builds one (or ``"pkg.module:factory"``); the members are rebuilt
            with ``rec.modules(factory, step)`` and run in eval mode. Required there, refused
            for unitscope's own recordings.

    Returns:
        An :class:`Agreement`.
    """
    start = time.perf_counter()
    torch_rec = rec_a.is_torch
    if rec_b is not None:
        if torch_rec:
            from ._compare_torch import check_torch_pair

            check_torch_pair(rec_a, rec_b)
        elif rec_b.is_torch:
            raise UnitscopeError(
                "recording B holds a torch model and A one of unitscope's; predictions of one "
                "architecture are compared."
            )
        else:
            rec_a.check_same_probe(rec_b)
    build = _factory(torch_rec, factory)
    task = rec_a.meta.dataset.task
    if task != "classification":
        raise UnitscopeError(f"prediction agreement needs a classification task, got {task!r}.")
    pairs = resolve_pairs(rec_a, rec_b, members)
    chosen_split = split if split is not None else ("probe" if torch_rec else "test")
    if torch_rec and data is None and chosen_split != "probe":
        raise UnitscopeError(
            f"a torch recording holds only its probe set, not {chosen_split!r} data: use "
            "split='probe' or pass data=(x, y)."
        )
    x, y = _inputs(rec_a, chosen_split, data)
    if steps is None:
        shared = set(rec_a.steps.tolist()) if rec_b is None else set(rec_b.steps.tolist())
        chosen = [s for s in rec_a.steps.tolist() if s in shared]
    else:
        chosen = [int(s) for s in steps]
    rows: dict[str, list[np.ndarray]] = {}
    ia = [i for i, _ in pairs]
    jb = [j for _, j in pairs]
    for step in chosen:
        out_a = _outputs(rec_a, step, x, build)  # (K_a, n, C)
        out_b = out_a if rec_b is None else _outputs(rec_b, step, x, build)
        for key, value in prediction_agreement(out_a[ia], out_b[jb], y).items():
            rows.setdefault(key, []).append(value)
    values = {k: np.stack(v) for k, v in rows.items()}
    steps_done = np.array([int(rec_a.steps[rec_a.step_index(s)]) for s in chosen], dtype=np.int64)
    name = "data" if data is not None else chosen_split
    return Agreement(steps_done, pairs, name, values, time.perf_counter() - start)


def _factory(torch_rec: bool, factory: Any) -> Any:
    """The callable that rebuilds a torch recording's members; None for unitscope's own."""
    if not torch_rec:
        if factory is not None:
            raise UnitscopeError(
                "`factory` is for recordings of your own torch networks; unitscope rebuilds its "
                "own models from the recording."
            )
        return None
    if factory is None:
        raise UnitscopeError(
            "prediction agreement of a torch recording needs its networks: pass factory= (your "
            "'pkg.module:factory'; --model in the CLI) to rebuild them."
        )
    from ..record._load import resolve_factory

    return resolve_factory(factory)


def _inputs(rec: Recording, split: str, data: Any) -> tuple[torch.Tensor, np.ndarray]:
    if data is not None:
        x, y = (data.x, data.y) if hasattr(data, "x") else data
        return torch.as_tensor(np.asarray(x)), np.asarray(y)
    if split == "probe":
        return torch.as_tensor(rec.probe_x), np.asarray(rec.probe_y)
    if split not in ("train", "test"):
        raise UnitscopeError(f"`split` must be 'train', 'test' or 'probe', got {split!r}.")
    chosen = recording_data(rec)[split]
    return torch.as_tensor(chosen.x), np.asarray(chosen.y)


def _outputs(rec: Recording, step: int, x: torch.Tensor, factory: Any = None) -> torch.Tensor:
    """(K, n, C) outputs of every member at checkpoint ``step`` (a torch recording's members
    rebuilt with ``factory``, in eval mode)."""
    if not rec.is_torch:
        net = rec.model(step)
        param = next(net.parameters())
        with torch.no_grad():
            return net(x.to(dtype=param.dtype, device=param.device))
    outs = []
    for module in rec.modules(factory, step):
        param = next(module.parameters())
        with torch.no_grad():
            out = module.eval()(x.to(dtype=param.dtype, device=param.device))
        if not isinstance(out, torch.Tensor):
            raise UnitscopeError(
                f"prediction agreement needs networks that return (n, classes) logits; the "
                f"factory's network returns {type(out).__name__}."
            )
        outs.append(out)
    return torch.stack(outs)
