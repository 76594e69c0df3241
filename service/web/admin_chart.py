"""A line chart as inline SVG, drawn on the server: no script, nothing the page's CSP forbids.

Colours come from the stylesheet (one class per series), so the chart follows the admin's
look; the SVG carries a title and a description, and the page shows the same figures as a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28


@dataclass(frozen=True)
class Series:
    label: str
    css: str  # the stylesheet class that colours it
    values: Sequence[int]


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 × 10^n at or above ``value`` (a round top for the axis)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def line_chart(labels: Sequence[str], series: Sequence[Series], title: str, description: str) -> Markup:
    count = max(len(labels), 1)
    top = nice_ceiling(max([1, *(v for s in series for v in s.values)]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title chart-desc"'
        ' xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title><desc id="chart-desc">{escape(description)}</desc>',
    ]
    for tick in (0, top // 2, top):
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    shown = sorted({0, (count - 1) // 2, count - 1}) if labels else []
    for i in shown:
        anchor = "start" if i == 0 and count > 1 else "end" if i == count - 1 and count > 1 else "middle"
        parts.append(
            f'<text class="axis" x="{x(i):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">{escape(labels[i])}</text>'
        )
    for s in series:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        parts.append(f'<polyline class="line {escape(s.css)}" fill="none" points="{points}"/>')
        if len(s.values) <= 31:  # a dot per day while they stay apart
            parts.extend(
                f'<circle class="dot {escape(s.css)}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3"/>'
                for i, v in enumerate(s.values)
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it is escaped above
