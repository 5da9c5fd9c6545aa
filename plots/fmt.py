"""Number formatting shared by tables, captions and verdicts, so a number reads the same everywhere."""
from __future__ import annotations

MISSING = "\u2014"  # em dash: no number


def num(x: float | None) -> str:
    """About three significant figures, thousands separated: 12,543 / 98.6 / 1.96 / 0.042."""
    if x is None:
        return MISSING
    a = abs(x)
    # Thresholds sit where rounding would carry into the next digit (99.96 -> "100", not "100.0").
    if a >= 99.95:
        return f"{x:,.0f}"
    if a >= 9.995:
        return f"{x:.1f}"
    if a >= 0.995:
        return f"{x:.2f}"
    if a == 0:
        return "0"
    return f"{x:.2g}"


def rate(x: float | None) -> str:
    return MISSING if x is None else f"{num(x)}/s"


def ratio(x: float | None) -> str:
    if x is None:
        return MISSING
    return f"{x:.2f}x" if abs(x) < 10 else f"{num(x)}x"


def pct(x: float | None) -> str:
    """A fraction as a percentage: 0.986 -> 98.6%."""
    if x is None:
        return MISSING
    return f"{100 * x:,.0f}%" if abs(x) >= 10 else f"{100 * x:.1f}%"


def count(x: float | None) -> str:
    return MISSING if x is None else f"{x:,.0f}"


def duration_us(us: float) -> str:
    """A request time for prose: 10000 -> '10 ms', 100 -> '100 µs'."""
    if us >= 1_000_000:
        return f"{us / 1_000_000:g} s"
    if us >= 1000:
        return f"{us / 1000:g} ms"
    return f"{us:g} \u00b5s"


def plural(n: float, word: str) -> str:
    """'1 core', '2 cores', '1,000 workers'."""
    return f"{n:,g} {word}" if n == 1 else f"{n:,g} {word}s"


def metg(us: float, at_most: bool) -> str:
    """A METG: '0.42 µs', or '<= 0.1 µs' when 50% is reached at the sweep's smallest size already."""
    return f"{'<= ' if at_most else ''}{num(us)} \u00b5s"


def span(low: float | None, high: float | None, form=num) -> str:
    """An interval, compact for a table cell: '96,012–99,301' (en dash: the numbers carry commas)."""
    return MISSING if low is None or high is None else f"{form(low)}\u2013{form(high)}"


def ratio_ci(x: float, interval: tuple[float, float] | None) -> str:
    """A ratio with its interval where it has one: '1.96x [1.90x–2.01x]', else '1.96x'."""
    return ratio(x) + (f" [{span(*interval, form=ratio)}]" if interval else "")


def coverage(cover: float, n: int, needed: int, level: float) -> str:
    """Why an interval is narrower than asked: 'intervals cover 93.8% with 5 repetitions; 6 are needed for 95%'."""
    return (f"intervals cover {pct(cover)} with {plural(n, 'repetition')}; {needed:g} are needed for "
            f"{100 * level:g}%")
