"""Server-rendered SVG charts: no script, no inline style (the CSP forbids both), readable without JS.

Each chart is an <svg role="img"> with a <title> and a <desc> that says what it shows; the page puts
the same numbers in a table one click away. Colours and line styles come from app.css classes.
Numbers and dates are formatted by the caller in the user's language.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | None]  # one per label; None leaves a gap
    css: str  # class of the line: series-1, series-2, ...


def line_chart(
    chart_id: str,
    title: str,
    description: str,
    labels: list[str],
    series: list[Series],
    *,
    percent: bool = True,
    number=None,
) -> Markup:
    """Lines over the labels (weeks); y from 0 to 100 % (percent) or to the largest value.
    `number(value, percent)` formats the axis labels in the user's language."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = 1.0 if percent else max([v for s in series for v in s.values if v is not None] + [1])
    n = max(len(labels), 1)

    def x(i: int) -> float:
        return LEFT + (plot_w * (i / (n - 1)) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    parts = [
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
    ]
    for k in range(5):  # grid lines and y labels
        value = top * k / 4
        if number is not None:
            label = number(value, percent)
        else:
            label = f"{round(value * 100)}%" if percent else f"{value:.0f}"
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{escape(label)}</text>'
        )
    step = max(1, n // 8)
    for i, label in enumerate(labels):
        if i % step == 0 or i == n - 1:
            parts.append(
                f'<text class="axis" x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    for s in series:
        points, path = [], []
        for i, value in enumerate(s.values):
            if value is None:
                if points:
                    path.append(points)
                points = []
                continue
            points.append(f"{x(i):.1f},{y(value):.1f}")
        if points:
            path.append(points)
        for segment in path:
            parts.append(f'<polyline class="line {escape(s.css)}" points="{" ".join(segment)}"/>')
            for point in segment:
                cx, cy = point.split(",")
                parts.append(f'<circle class="dot {escape(s.css)}" cx="{cx}" cy="{cy}" r="3"/>')
    for k, s in enumerate(series):  # legend
        lx = LEFT + k * 150
        parts.append(
            f'<line class="line {escape(s.css)}" x1="{lx}" x2="{lx + 18}" y1="{HEIGHT - 8}" y2="{HEIGHT - 8}"/>'
            f'<text class="legend" x="{lx + 24}" y="{HEIGHT - 4}">{escape(s.name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(chart_id: str, title: str, description: str, bars: list[tuple[str, float, str]]) -> Markup:
    """Horizontal bars: (label, value, value as text), longest first as given."""
    rows = max(len(bars), 1)
    height = TOP + rows * 28 + 8
    top = max([v for _, v, _ in bars] + [1e-9])
    label_w, plot_w = 180, WIDTH - 180 - RIGHT - 60
    parts = [
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
    ]
    for i, (label, value, shown) in enumerate(bars):
        y = TOP + i * 28
        w = plot_w * value / top
        parts.append(
            f'<text class="axis" x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="20"/>'
            f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + 15}">{escape(shown)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
