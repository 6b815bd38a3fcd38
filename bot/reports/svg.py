"""Charts as inline SVG strings: vertical bars, lines, horizontal bars. No script, no fonts, no requests.

Each chart is an `<svg role="img">` named by its `<title>` and described by its `<desc>` (what a
screen reader announces); each bar and point has its own `<title>` with the exact value (a
tooltip). Every text that comes from data goes through `esc`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 560
PLOT_HEIGHT = 170
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 34, 38  # room for the y axis, the legend above, the x labels below
ROW_HEIGHT = 22  # one bar of a horizontal chart
LABEL_WIDTH = 190  # the labels left of horizontal bars
MAX_LABEL_CHARS = 30
AXIS_COLOUR, GRID_COLOUR, TEXT_COLOUR = "#595959", "#e3e3e3", "#1f1f1f"

ValueText = Callable[[float], str]


def esc(value: object) -> str:
    return escape(str(value), quote=True)


@dataclass(frozen=True)
class Series:
    name: str  # shown in the legend and the tooltips
    values: Sequence[float | None]  # one per label; None: no value (a gap in a line)
    colour: str


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    value_text: ValueText,
    stacked: bool = True,
    y_max: float | None = None,
) -> str:
    """Vertical bars per label: stacked (parts of a whole) or side by side."""
    heights = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))] if stacked else []
    top = y_max or nice_top(max(heights or [v or 0 for s in series for v in s.values] or [0]))
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    width = slot * 0.7 / (1 if stacked else max(len(series), 1))
    parts = [_y_axis(top, value_text), _x_labels(labels, slot), _legend(series)]
    for i, label in enumerate(labels):
        base = 0.0
        for n, one in enumerate(series):
            value = one.values[i]
            if not value:
                continue
            x = LEFT + slot * i + slot * 0.15 + (0 if stacked else n * width)
            y0, y1 = _y(base if stacked else 0, top), _y((base if stacked else 0) + value, top)
            parts.append(
                f'<rect x="{x:.1f}" y="{y1:.1f}" width="{width:.1f}" height="{max(y0 - y1, 0.5):.1f}" '
                f'fill="{one.colour}"><title>{esc(label)}, {esc(one.name)}: {esc(value_text(value))}</title></rect>'
            )
            base += value
    return _svg(chart_id, title, description, TOP + PLOT_HEIGHT + BOTTOM, parts)


def line_chart(
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    value_text: ValueText,
    y_max: float | None = None,
) -> str:
    """A line per series over the labels; a missing value breaks the line."""
    top = y_max or nice_top(max([v or 0 for s in series for v in s.values] or [0]))
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    parts = [_y_axis(top, value_text), _x_labels(labels, slot), _legend(series)]
    for one in series:
        points = [
            (LEFT + slot * (i + 0.5), 0.0 if value is None else _y(value, top), label, value)
            for i, (label, value) in enumerate(zip(labels, one.values, strict=True))
        ]
        run: list[str] = []
        for x, y, _, value in [*points, (0.0, 0.0, "", None)]:  # the sentinel ends the last run
            if value is not None:
                run.append(f"{x:.1f},{y:.1f}")
                continue
            if len(run) > 1:
                parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{one.colour}" stroke-width="2"/>')
            run = []
        for x, y, label, value in points:
            if value is not None:
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{one.colour}">'
                    f"<title>{esc(label)}, {esc(one.name)}: {esc(value_text(value))}</title></circle>"
                )
    return _svg(chart_id, title, description, TOP + PLOT_HEIGHT + BOTTOM, parts)


def horizontal_bars(
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    value_text: ValueText,
) -> str:
    """A stacked horizontal bar per label (long labels such as FAQ ids), its total written after it."""
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    top = nice_top(max(totals or [0]))
    span = WIDTH - LABEL_WIDTH - RIGHT - 60  # room for the total after the longest bar
    height = TOP + ROW_HEIGHT * max(len(labels), 1) + 8
    parts = [_legend(series)] if len(series) > 1 else []
    for i, label in enumerate(labels):
        y = TOP + ROW_HEIGHT * i
        shown = label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "…"
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end" font-size="12" fill="{TEXT_COLOUR}">'
            f"<title>{esc(label)}</title>{esc(shown)}</text>"
        )
        x = float(LABEL_WIDTH)
        for one in series:
            value = one.values[i] or 0
            if value:
                width = span * value / top
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 4}" width="{width:.1f}" height="{ROW_HEIGHT - 8}" fill="{one.colour}">'
                    f"<title>{esc(label)}, {esc(one.name)}: {esc(value_text(value))}</title></rect>"
                )
                x += width
        parts.append(
            f'<text x="{x + 6:.1f}" y="{y + 15}" font-size="12" fill="{TEXT_COLOUR}">'
            f"{esc(value_text(totals[i]))}</text>"
        )
    return _svg(chart_id, title, description, height, parts)


def _svg(chart_id: str, title: str, description: str, height: float, parts: list[str]) -> str:
    ids = f"{chart_id}-title {chart_id}-desc"
    return (
        f'<svg class="chart" id="{esc(chart_id)}" role="img" aria-labelledby="{esc(ids)}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif">'
        f'<title id="{esc(chart_id)}-title">{esc(title)}</title>'
        f'<desc id="{esc(chart_id)}-desc">{esc(description)}</desc>' + "".join(parts) + "</svg>"
    )


def _y(value: float, top: float) -> float:
    return TOP + PLOT_HEIGHT - PLOT_HEIGHT * value / top


def _y_axis(top: float, value_text: ValueText) -> str:
    steps = 5 if top % 5 == 0 and top % 4 else 4  # 0-10 in 2s, 0-5 in 1s; otherwise quarters
    lines = []
    for n in range(steps + 1):
        value = top * n / steps
        y = _y(value, top)
        lines.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{AXIS_COLOUR if n == 0 else GRID_COLOUR}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="{TEXT_COLOUR}">'
            f"{esc(value_text(value))}</text>"
        )
    return "".join(lines)


def _x_labels(labels: Sequence[str], slot: float) -> str:
    every = math.ceil(len(labels) / 12) or 1  # at most a dozen labels fit under the axis
    y = TOP + PLOT_HEIGHT + 16
    return "".join(
        f'<text x="{LEFT + slot * (i + 0.5):.1f}" y="{y}" text-anchor="middle" font-size="11" '
        f'fill="{TEXT_COLOUR}">{esc(label)}</text>'
        for i, label in enumerate(labels)
        if i % every == 0
    )


def _legend(series: Sequence[Series]) -> str:
    """Swatches and names in a row above the plot; what does not fit is left out (the table names every series)."""
    parts, x = [], 8.0
    for one in series:
        width = 26 + 6.5 * len(one.name)
        if x + width > WIDTH and x > 8:
            break
        parts.append(
            f'<rect x="{x:.1f}" y="8" width="12" height="12" fill="{one.colour}"/>'
            f'<text x="{x + 16:.1f}" y="18" font-size="12" fill="{TEXT_COLOUR}">{esc(one.name)}</text>'
        )
        x += width
    return "".join(parts)


def nice_top(value: float) -> float:
    """An axis' top for counts (at least 4): 4, 8, 10, 20 or 40 times a power of ten, so that the grid
    lines (four, or five for 10) fall on round values."""
    value = max(value, 4)
    step = 10 ** math.floor(math.log10(value / 4))
    for multiple in (1, 2, 2.5, 5, 10):
        if value <= 4 * step * multiple:
            return 4 * step * multiple
    return 40 * step
