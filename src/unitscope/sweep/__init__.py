"""Sweeps: many seeds x widths x inits x optimizers, batched, resumable, local or on Ray.

A **grid file** (TOML) is a base training config, the axes to vary, and the seeds of each
randomness source::

    [base]                        # a training config, as `unitscope train` reads it
    data.options = {n_samples = 256}
    train.steps = 300
    # or, instead of a table:  base = "train.toml"   (relative to the grid file)

    [axes]                        # dotted config key = list of values
    "model.hidden" = [[8], [16], [32], [64]]
    optim.name = ["sgd", "adam"]
    "data.options.noise" = [0.1, 0.3]

    [seeds]                       # per source: an integer, a list, or a range
    init = {range = [0, 64]}      # 0, 1, ..., 63 (stop excluded, as in Python; [a, b, step])
    data = [0, 1]
    # dropout absent: the base config's dropout seed

    [sweep]                       # optional
    seed_mode = "product"         # or "zip": the sources side by side (length-1 lists broadcast)
    group = true                  # batch jobs that differ only in seeds
    group_size = 64               # at most this many members per batched fit
    threads = 1                   # torch threads per batched fit (the same on every backend)

The grid is the product of the axes (the first axis varies slowest) times the seed combinations
(``product``: every combination of the sources; ``zip``: the i-th seed of each source). Each
**job** is one member: the base config with the point's values and one seed per source. Its id
is a hash of the resolved config, so the same job has the same id in every sweep and backend.
Everything is checked before anything runs: unknown keys (with a did-you-mean), empty axes,
repeated values, bad values, seeds of the wrong type, unknown datasets and dataset options.

**Grouping**: jobs whose configs differ only in seeds form a group; each group is cut, in grid
order, into batches of at most ``group_size`` jobs, and each batch is one batched fit, member k
being job k, with ``threads`` torch threads available (default 1; ``train.threads = 0`` then
picks 1 for small models and ``threads`` otherwise). The cut depends only on the grid, never
on the backend or the number of workers, so every backend trains the very same batches and the
per-job results are bit-identical across ``local``, ``processes`` and ``ray``.

Each member of a batch depends only on its own seeds, but batched and single matrix products
(and vectorized loops at different offsets) round differently: a job trained in a batch equals
the same job trained alone (``group = false``) to rounding, not to the bit. Measured on the CPU
(Adam, minibatches, 2000 steps): relative differences up to about 1e-6 in float32 and 3e-15 in
float64. Compare grouped runs with grouped runs, and use float64 when that matters.

**Backends**: ``local`` (this process), ``processes`` (N spawned workers; a worker killed by
SIGKILL is detected and its batch re-queued) and ``ray`` (Ray tasks; ``pip install
'unitscope[ray]'``).

**Store**: ``DIR/sweep.db`` (SQLite, one row per job: id, config, status, timings, metrics,
error) and ``DIR/runs/<id>/`` (the job's recording). Rerunning resumes: finished jobs are
skipped, failed ones are retried only with ``retry_failed``. See ``_store.py`` for the commit
protocol that makes a crash at any instant harmless.

Example:
    >>> from unitscope.sweep import make_grid
    >>> grid = make_grid(axes={"model.hidden": [[8], [16]]}, seeds={"init": {"range": [0, 4]}})
    >>> grid.describe()["jobs"], grid.describe()["groups"], len(grid.batches(group=False))
    (8, 2, 8)
"""

from __future__ import annotations

from ._backends import BACKENDS
from ._grid import Grid, make_grid
from ._jobs import Batch, Job
from ._runner import SweepEvent, SweepSummary, run_sweep
from ._tables import sweep_status, sweep_table, write_table

__all__ = [
    "BACKENDS",
    "Batch",
    "Grid",
    "Job",
    "SweepEvent",
    "SweepSummary",
    "make_grid",
    "run_sweep",
    "sweep_status",
    "sweep_table",
    "write_table",
]
