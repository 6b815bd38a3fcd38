"""How the report writes its numbers, the same in the terminal and on the page."""

from __future__ import annotations

NONE = "–"  # no value: nothing to compute it from


def share(value: float | None) -> str:
    """0.6667 -> "67%"."""
    return NONE if value is None else f"{value:.0%}"


def count_and_share(count: int, value: float | None) -> str:
    """2, 0.5 -> "2 (50%)"."""
    return str(count) if value is None else f"{count} ({share(value)})"


def duration(seconds: float | None) -> str:
    """45 -> "45s", 90 -> "1m 30s", 3720 -> "1h 02m"."""
    if seconds is None:
        return NONE
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def rating(average: float | None, count: int) -> str:
    """3.6667, 3 -> "3.67 (3)"."""
    return NONE if average is None else f"{average:.2f} ({count})"


def helpful(yes: int, no: int) -> str:
    """3, 1 -> "3/4 (75%)"."""
    return NONE if yes + no == 0 else f"{yes}/{yes + no} ({yes / (yes + no):.0%})"
