"""What a worker does with one batch: one batched fit, cut into one result per job.

:func:`run_batch` is the only code that runs on workers (in-process, in worker processes or as a
Ray task). It never raises for a job's own failure: a fit that raises marks every member failed
with the error, a member whose loss became NaN/Inf is marked failed with the step; the other
members of the batch are unaffected.
"""

from __future__ import annotations

import math
import os
import socket
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import Any

from .._errors import UnitscopeError
from ..record import Recording
from ._jobs import SOURCES, group_key


@dataclass(frozen=True)
class BatchSpec:
    """What a worker needs: the batch's index, each member's id and config, torch threads."""

    index: int
    ids: tuple[str, ...]
    configs: tuple[dict[str, Any], ...]
    threads: int = 1


@dataclass
class MemberResult:
    """The outcome of one job: ``finished`` with a recording, or ``failed`` with an error."""

    job_id: str
    status: str
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    recording: Recording | None = None


@dataclass
class BatchResult:
    """The outcomes of one batch, the fit's wall time, and where it ran."""

    index: int
    members: list[MemberResult]
    elapsed_s: float
    worker: str


def worker_name() -> str:
    """``host:pid`` of the current process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_batch(spec: BatchSpec) -> BatchResult:
    """Train the members of ``spec`` as one K-member fit and cut the recording per job.

    The fit runs on ``spec.threads`` torch threads (restored afterwards): reductions split
    across threads round differently, so the thread count is part of what makes a batch's
    numbers the same on every backend.
    """
    import torch

    from ..train import Config, fit

    start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(spec.threads)
    try:
        rec = fit(Config.from_dict(merge_configs(spec.configs)))
        members = [_member(rec, k, i, c) for k, (i, c) in enumerate(zip(spec.ids, spec.configs))]
    except Exception as err:  # a job's own failure: record it, never crash the sweep
        text, tb = one_line(err), traceback.format_exc()
        members = [MemberResult(i, "failed", error=text, traceback=tb) for i in spec.ids]
    finally:
        torch.set_num_threads(threads)
    return BatchResult(spec.index, members, time.perf_counter() - start, worker_name())


def merge_configs(configs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """One K-member config from K one-member configs that differ only in seeds."""
    if not configs or len({group_key(c) for c in configs}) != 1:
        raise UnitscopeError("a batch must hold configs that differ only in their seeds.")
    merged = {k: v for k, v in configs[0].items() if k != "seeds"}
    merged["seeds"] = {s: [c["seeds"][s][0] for c in configs] for s in SOURCES}
    return merged


def _member(rec: Recording, k: int, job_id: str, config: dict[str, Any]) -> MemberResult:
    one = rec.select([k])
    one.meta = replace(one.meta, config=config, sweep={"job_id": job_id})
    metrics = summarize(one)
    step = int(one.diverged[0])
    if step >= 0:
        error = (
            f"diverged at step {step}: the loss became NaN or Inf (lower optim.lr or add "
            "regularization)."
        )
        return MemberResult(job_id, "failed", metrics, error)
    return MemberResult(job_id, "finished", metrics, recording=one)


def summarize(rec: Recording) -> dict[str, Any]:
    """Summary metrics of a one-member recording: final and best values of every curve.

    NaN and Inf become None so the metrics are strict JSON.
    """
    out: dict[str, Any] = {}
    for name, curve in sorted(rec.curves.items()):
        values = [float(v) for v in curve[0]]
        finite = [v for v in values if math.isfinite(v)]
        out[f"final_{name}"] = _finite(values[-1])
        best = min if name.endswith("loss") else max
        out[f"best_{name}"] = best(finite) if finite else None
    out["diverged_step"] = int(rec.diverged[0])
    out["steps"] = int(rec.curve_steps[-1])
    return out


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def one_line(err: BaseException) -> str:
    """``Type: message`` on one line (a UnitscopeError is its message alone)."""
    text = " ".join(str(err).split()) or "(no message)"
    return text if isinstance(err, UnitscopeError) else f"{type(err).__name__}: {text}"
