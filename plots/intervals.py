"""The distribution-free confidence interval of a median, from order statistics: the one rule, the same as the
C++ harness writes into its ci_low / ci_high rows, so a file with those rows and one without read alike."""
from __future__ import annotations

from math import comb

LEVEL = 0.95  # the coverage asked for (the run's ci_level)


def coverage(n: int, k: int) -> float:
    """The chance that [x(k), x(n+1-k)] holds the true median of n samples: the median lies outside only when
    fewer than k samples fall on one side of it, and each sample falls on either side with chance 1/2, whatever
    the distribution (so no normality is assumed)."""
    below = sum(comb(n, i) for i in range(k)) / 2 ** n  # BinomCDF(k - 1; n, 0.5)
    return 1 - 2 * below


def median_interval(samples: list[float], level: float = LEVEL) -> tuple[float, float, float] | None:
    """(low, high, coverage) of the median of samples: [x(k), x(n+1-k)] with the largest k (1 <= k <= n/2)
    whose coverage reaches level. Below 6 samples no k reaches 95%: [min, max] then, with the coverage it
    really has (5: 93.75%), so a reader can say so. None for fewer than 2 samples: no interval at all."""
    n = len(samples)
    if n < 2:
        return None
    xs = sorted(samples)
    reaching = [k for k in range(1, n // 2 + 1) if coverage(n, k) >= level]
    k = max(reaching, default=1)
    return xs[k - 1], xs[n - k], coverage(n, k)


def needed(level: float = LEVEL) -> int:
    """The fewest samples whose [min, max] reaches level (6 for 95%): what a coverage note asks for."""
    n = 2
    while coverage(n, 1) < level:
        n += 1
    return n
