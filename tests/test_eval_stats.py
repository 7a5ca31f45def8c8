"""Wilson intervals and the exact McNemar test against hand-computed values."""

from __future__ import annotations

import math

import pytest

from chainlab.eval.stats import mcnemar_exact, wilson_interval, z_value


def test_z_value_95():
    assert z_value(0.95) == pytest.approx(1.959964, abs=1e-6)


def test_wilson_8_of_10():
    # p=0.8, z²/n=0.384146: centre (0.8+0.192073)/1.384146=0.716740,
    # half 1.959964*sqrt(0.016+0.009604)/1.384146=0.226575
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.490165, abs=1e-5)
    assert hi == pytest.approx(0.943315, abs=1e-5)


def test_wilson_edges():
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.277533, abs=1e-5)
    lo, hi = wilson_interval(10, 10)
    assert hi == 1.0 and lo == pytest.approx(1 - 0.277533, abs=1e-5)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(50, 100)
    assert (lo + hi) / 2 == pytest.approx(0.5) and hi - lo == pytest.approx(0.1920, abs=1e-3)


def test_wilson_bad_input():
    with pytest.raises(ValueError):
        wilson_interval(11, 10)
    with pytest.raises(ValueError):
        wilson_interval(1, 10, confidence=1.5)


def test_mcnemar_exact_hand_values():
    # b=1, c=8: n=9, 2*(C(9,0)+C(9,1))/2^9 = 20/512
    assert mcnemar_exact(1, 8) == pytest.approx(0.0390625)
    assert mcnemar_exact(8, 1) == mcnemar_exact(1, 8)
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(4, 4) == 1.0  # capped at 1
    assert mcnemar_exact(3, 7) == pytest.approx(2 * sum(math.comb(10, i) for i in range(4)) / 1024)


def test_mcnemar_large_counts_stay_finite():
    p = mcnemar_exact(400, 600)
    assert 0.0 < p < 1e-9


def test_mcnemar_matches_scipy_binomtest_when_available():
    stats = pytest.importorskip("scipy.stats")
    for b, c in [(1, 8), (5, 12), (20, 31), (0, 3)]:
        ref = stats.binomtest(min(b, c), b + c, 0.5).pvalue
        assert mcnemar_exact(b, c) == pytest.approx(ref, rel=1e-9)


def test_mcnemar_bad_input():
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)
