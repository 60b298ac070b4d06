"""``one_blas_thread``: numpy's BLAS on one thread inside the block, as before outside."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from unitscope.measures import unit_summary
from unitscope.measures._blas import one_blas_thread


def blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_one_thread_inside_and_the_previous_setting_after():
    if not blas_threads():
        pytest.skip("numpy reports no BLAS library to threadpoolctl")
    with threadpool_limits(2, user_api="blas"):  # a known starting point above one
        before = blas_threads()
        with one_blas_thread():
            assert blas_threads() == [1] * len(before)
        assert blas_threads() == before


def test_unit_summary_gives_the_same_numbers_under_the_limit():
    acts = np.random.default_rng(0).standard_normal((2, 3, 40, 6))
    with threadpool_limits(2, user_api="blas"):
        got = unit_summary(acts)
    s = np.linalg.svd(acts - acts.mean(axis=-2, keepdims=True), compute_uv=False)
    lam = s**2
    np.testing.assert_allclose(got["participation_ratio"], lam.sum(-1) ** 2 / (lam**2).sum(-1))
