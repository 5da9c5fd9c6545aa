"""Number formatting: about three significant figures, never a rounding that changes the digit count."""
import pytest

import fmt


@pytest.mark.parametrize("value, text", [
    (None, "—"), (0, "0"), (0.0421, "0.042"), (0.9994, "1.00"), (1.957, "1.96"), (9.996, "10.0"),
    (98.64, "98.6"), (99.96, "100"), (12543.2, "12,543"), (-3.5, "-3.50"),
])
def test_num(value, text):
    assert fmt.num(value) == text


def test_ratio_pct_plural():
    assert fmt.ratio(1.914) == "1.91x" and fmt.ratio(289.4) == "289x"
    assert fmt.pct(0.986) == "98.6%" and fmt.pct(0.5) == "50.0%" and fmt.pct(27.19) == "2,719%"
    assert fmt.plural(1, "core") == "1 core" and fmt.plural(1000, "worker") == "1,000 workers"
    assert fmt.duration_us(10000) == "10 ms" and fmt.duration_us(100) == "100 µs"
