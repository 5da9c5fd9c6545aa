"""The two-sided Mann-Whitney U test, computed as scipy.stats.mannwhitneyu computes it.

Our own so that a gate's verdict does not move with the installed scipy; tests/test_mannwhitney.py
pins it to scipy on fixed samples. Pure Python: the exact distribution is counted in integers.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

# scipy's method="auto": the exact distribution unless both samples are larger than this or there
# are ties (the exact distribution assumes none); the normal approximation otherwise.
EXACT_MAX_N = 8


@dataclass(frozen=True)
class UTest:
    u: float  # U of the first sample: pairs (x, y) with x > y, a tie counting one half
    p: float  # two-sided
    method: str  # "exact" or "asymptotic"


def mann_whitney_u(x: Sequence[float], y: Sequence[float], method: str = "auto") -> UTest:
    """scipy.stats.mannwhitneyu(x, y, alternative="two-sided", method=method), continuity corrected."""
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("each sample needs at least one value")
    values = [float(v) for v in (*x, *y)]
    if any(math.isnan(v) for v in values):
        raise ValueError("a sample holds NaN")
    if method not in ("auto", "exact", "asymptotic"):
        raise ValueError(f"method {method!r} is not auto, exact or asymptotic")

    ranks, tie_sizes = _ranks(values)
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    u = max(u1, n1 * n2 - u1)  # the larger tail: doubled below for two sides
    if method == "auto":
        ties = any(t > 1 for t in tie_sizes)
        method = "exact" if min(n1, n2) <= EXACT_MAX_N and not ties else "asymptotic"
    if method == "exact":
        p = 2 * _exact_sf(int(u), n1, n2)  # int(): as scipy, which truncates a tied U here
    else:
        p = 2 * _normal_sf(u, n1, n2, tie_sizes)
    return UTest(u1, min(p, 1.0), method)


def _ranks(values: list[float]) -> tuple[list[float], list[int]]:
    """Ranks from 1, tied values sharing their average rank; and the size of each group of equal values."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    sizes = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        sizes.append(j - i + 1)
        i = j + 1
    return ranks, sizes


def _exact_sf(u: int, n1: int, n2: int) -> float:
    """P(U >= u) under the null: the share of the C(n1+n2, n1) orderings whose U is at least u.

    The number of orderings with U = k is the q^k coefficient of the Gaussian binomial
    [n1+n2 choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i), m = min(n1, n2), n = max.
    """
    m, n = min(n1, n2), max(n1, n2)
    top = m * n
    counts = [1] + [0] * top
    for i in range(1, m + 1):
        for k in range(top, n + i - 1, -1):  # times (1 - q^(n+i)); terms past top are not needed
            counts[k] -= counts[k - n - i]
        for k in range(i, top + 1):  # divided by (1 - q^i), exact: the quotient is a polynomial
            counts[k] += counts[k - i]
    return float(Fraction(sum(counts[u:]), math.comb(n1 + n2, n1)))


def _normal_sf(u: float, n1: int, n2: int, tie_sizes: list[int]) -> float:
    """P(U >= u) by the normal approximation, with tie and continuity corrections."""
    n = n1 + n2
    tie_term = sum(t**3 - t for t in tie_sizes)
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:
        return 1.0  # every value equal: nothing tells the samples apart
    z = (u - n1 * n2 / 2 - 0.5) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))
