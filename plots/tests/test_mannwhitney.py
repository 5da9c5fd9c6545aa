"""plots/mannwhitney.py pinned to scipy.stats.mannwhitneyu on fixed samples."""
from __future__ import annotations

import math

import pytest
from scipy import stats

from mannwhitney import mann_whitney_u

SAMPLES = {
    "5v5 separated": ([1.0, 2, 3, 4, 5], [6.0, 7, 8, 9, 10]),
    "5v5 interleaved": ([1.0, 3, 5, 7, 9], [2.0, 4, 6, 8, 10]),
    "3v7 no ties": ([10.5, 11.2, 9.8], [12.1, 8.7, 13.4, 12.9, 11.9, 14.2, 10.1]),
    "8v12 no ties": ([0.11, 0.52, 0.33, 0.94, 0.25, 0.76, 0.47, 0.68],
                     [0.91, 1.02, 0.83, 1.24, 0.15, 1.36, 0.97, 1.18, 1.29, 0.59, 1.41, 1.07]),
    "6v6 ties": ([1.0, 2, 2, 3, 3, 3], [2.0, 3, 3, 4, 4, 5]),
    "9v9 ties": ([0.051, 0.051, 0.07, 0.051, 0.051, 0.08, 0.051, 0.051, 0.06],
                 [0.071, 0.071, 0.081, 0.071, 0.051, 0.071, 0.09, 0.071, 0.071]),
    "9v9 no ties": ([1000.0, 1010, 990, 1005, 995, 1002, 998, 1003, 997],
                    [900.0, 909, 891, 904.5, 895.5, 901.8, 898.2, 902.7, 897.3]),
    "all equal": ([4.0, 4, 4], [4.0, 4, 4, 4]),
    "1v1": ([1.0], [2.0]),
    "40v50 far apart": ([float(i) for i in range(40)], [i + 25.5 for i in range(50)]),
    "12v200": ([float(i * 7 % 13) for i in range(12)], [i * 0.37 % 17 for i in range(200)]),
}


@pytest.mark.parametrize("method", ["auto", "exact", "asymptotic"])
@pytest.mark.parametrize("key", SAMPLES)
def test_matches_scipy(key, method):
    x, y = SAMPLES[key]
    ours = mann_whitney_u(x, y, method)
    ref = stats.mannwhitneyu(x, y, alternative="two-sided", method=method)
    assert ours.u == ref.statistic
    assert ours.p == pytest.approx(ref.pvalue, rel=1e-12, abs=0)


def test_auto_picks_exact_only_for_small_samples_without_ties():
    assert mann_whitney_u(*SAMPLES["8v12 no ties"]).method == "exact"  # one sample of 8 or fewer
    assert mann_whitney_u(*SAMPLES["9v9 no ties"]).method == "asymptotic"
    assert mann_whitney_u(*SAMPLES["6v6 ties"]).method == "asymptotic"


def test_known_values():
    # 5 vs 5 fully separated: 2 of the C(10, 5) = 252 orderings are as extreme, two-sided.
    r = mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert (r.u, r.p, r.method) == (0.0, 2 / 252, "exact")
    assert mann_whitney_u([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]).u == 25.0
    assert mann_whitney_u([4, 4, 4], [4, 4, 4, 4]).p == 1.0
    # The textbook example in scipy's documentation.
    r = mann_whitney_u([19, 22, 16, 29, 24], [20, 11, 17, 12])
    assert r.u == 17.0 and r.p == pytest.approx(0.1111111111111111, rel=1e-12)


def test_tiny_p_keeps_its_relative_accuracy():
    x, y = SAMPLES["40v50 far apart"]
    p = mann_whitney_u(x, y).p
    assert 0 < p < 1e-6
    assert p == pytest.approx(stats.mannwhitneyu(x, y).pvalue, rel=1e-12)


def test_rejects_empty_and_nan():
    with pytest.raises(ValueError):
        mann_whitney_u([], [1.0])
    with pytest.raises(ValueError):
        mann_whitney_u([1.0, math.nan], [1.0])
