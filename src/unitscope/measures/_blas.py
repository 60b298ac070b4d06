"""numpy's BLAS and LAPACK on one thread, for the many small factorizations of the measures.

OpenBLAS (numpy's and scipy's BLAS) hands even small matrices to its threads, which spin while
they wait for each other: on a busy 2-core machine a batch of 304 SVDs of 75 x 256 took 70 s
of CPU on two threads and 0.2 s on one. The batched measures (one factorization per checkpoint
and member) therefore run under :func:`one_blas_thread`; it limits numpy's and scipy's BLAS
only (not PyTorch's), and restores the previous setting on exit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_controller: list[Any] = []  # one ThreadpoolController, made on first use (it scans the libraries)


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Inside the block numpy's and scipy's BLAS use one thread."""
    if not _controller:
        from threadpoolctl import ThreadpoolController  # installed with scikit-learn

        _controller.append(ThreadpoolController())
    with _controller[0].limit(limits=1, user_api="blas"):
        yield
