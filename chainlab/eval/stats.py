"""Pure-Python statistics for strategy comparisons: Wilson intervals and the exact McNemar test.

No numpy/scipy: the binomial tail is summed exactly with :func:`math.comb`.
"""

from __future__ import annotations

import math
from statistics import NormalDist

__all__ = ["wilson_interval", "mcnemar_exact", "z_value"]


def z_value(confidence: float = 0.95) -> float:
    """The two-sided standard-normal quantile of ``confidence`` (1.95996... for 0.95)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``successes / n``.

    Returns ``(0.0, 1.0)`` when ``n == 0`` (nothing is known).

    >>> lo, hi = wilson_interval(8, 10)
    >>> round(lo, 4), round(hi, 4)
    (0.4902, 0.9433)
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"Need 0 <= successes <= n, got successes={successes}, n={n}.")
    if n == 0:
        return 0.0, 1.0
    z = z_value(confidence)
    p = successes / n
    z2n = z * z / n
    denom = 1.0 + z2n
    center = (p + z2n / 2.0) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, center - half)  # exact bounds at the edges
    hi = 1.0 if successes == n else min(1.0, center + half)
    return lo, hi


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c``.

    ``b`` = pairs where only the first strategy is right, ``c`` = only the second. Under the null
    hypothesis each discordant pair is a fair coin, so ``p = min(1, 2 * P[X <= min(b, c)])`` with
    ``X ~ Binomial(b + c, 1/2)``; ``p = 1`` when there are no discordant pairs.

    >>> round(mcnemar_exact(1, 8), 4)
    0.0391
    """
    if b < 0 or c < 0:
        raise ValueError(f"Discordant counts must be >= 0, got b={b}, c={c}.")
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    # exact integer arithmetic until the final division
    return min(1.0, 2 * tail / 2**n)
