"""A gauge's last 72 hours as a small inline SVG, with its BĐ I/II/III lines. Pure; the only
text in it is numbers, times and the BĐ names, all escaped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup

from floodwatch.web_map.i18n import LANGS, both, number, t, text
from floodwatch.web_map.palette import BD_COLOURS, LINE_COLOUR

#: Readings further apart than this are not joined by a line (the Huế series has 24 h gaps).
GAP = timedelta(hours=3)
ROMAN = ("I", "II", "III")

W, H = 300, 170
LEFT, RIGHT, TOP, BOTTOM = 42, 46, 10, 24


def _y_range(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high - low < 0.2:
        mid = (high + low) / 2
        return mid - 0.1, mid + 0.1
    pad = (high - low) * 0.06
    return low - pad, high + pad


def hydrograph_svg(
    series: Sequence[tuple[datetime, float]], alarms_m: Sequence[float | None], *,
    start: datetime, end: datetime, timezone: str, unit: str = "m",
) -> Markup:
    """The series between ``start`` and ``end`` (x) against level (y), BĐ lines dashed."""
    alarms = [(k, a) for k, a in enumerate(alarms_m) if a is not None]
    values = [v for _, v in series] + [a for _, a in alarms]
    if not series:
        return Markup('<p class="fw-muted">{}</p>').format(t("no_series"))
    y0, y1 = _y_range(values)
    span = (end - start).total_seconds() or 1.0

    def x(moment: datetime) -> float:
        return round(LEFT + (W - LEFT - RIGHT) * (moment - start).total_seconds() / span, 1)

    def y(value: float) -> float:
        return round(TOP + (H - TOP - BOTTOM) * (y1 - value) / (y1 - y0), 1)

    parts: list[Markup] = [Markup(
        '<svg class="fw-hydrograph" viewBox="0 0 {w} {h}" width="100%" role="img">'
        '<title>{title}</title>'
        '<rect x="{l}" y="{t}" width="{pw}" height="{ph}" fill="#fff" stroke="#bbb"/>'
    ).format(w=W, h=H, title=" / ".join(text("hydrograph", lang) for lang in LANGS),
             l=LEFT, t=TOP, pw=W - LEFT - RIGHT, ph=H - TOP - BOTTOM)]
    zone = ZoneInfo(timezone)
    day = start.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    while (day := day + timedelta(days=1)) < end:
        parts.append(Markup(
            '<line x1="{x}" x2="{x}" y1="{t}" y2="{b}" stroke="#e3e3e3"/>'
            '<text x="{x}" y="{ty}" font-size="10" text-anchor="middle" fill="#555">{d}</text>'
        ).format(x=x(day), t=TOP, b=H - BOTTOM, ty=H - BOTTOM + 13, d=f"{day:%d/%m}"))
    for value in (y0, (y0 + y1) / 2, y1):
        parts.append(Markup(
            '<text x="{tx}" y="{ty}" font-size="10" text-anchor="end" fill="#555">{v}</text>'
        ).format(tx=LEFT - 4, ty=y(value) + 3, v=both(number(value, 1), tag="tspan")))
    for k, level in alarms:
        colour = BD_COLOURS[k + 1]
        parts.append(Markup(
            '<line x1="{l}" x2="{r}" y1="{y}" y2="{y}" stroke="{c}" stroke-width="1.5" '
            'stroke-dasharray="5 3"/>'
            '<text x="{tx}" y="{ty}" font-size="10" fill="{c}">BĐ {n}</text>'
        ).format(l=LEFT, r=W - RIGHT, y=y(level), c=colour, tx=W - RIGHT + 3, ty=y(level) + 3,
                 n=ROMAN[k]))
    for segment in _segments(series):
        if len(segment) == 1:  # an isolated reading: a dot, as a line needs two
            parts.append(Markup('<circle cx="{x}" cy="{y}" r="2" fill="{c}"/>').format(
                x=x(segment[0][0]), y=y(segment[0][1]), c=LINE_COLOUR))
            continue
        points = " ".join(f"{x(m)},{y(v)}" for m, v in segment)
        parts.append(Markup('<polyline points="{p}" fill="none" stroke="{c}" '
                            'stroke-width="2"/>').format(p=points, c=LINE_COLOUR))
    last_t, last_v = series[-1]
    parts.append(Markup('<circle cx="{x}" cy="{y}" r="3.5" fill="{c}"/>').format(
        x=x(last_t), y=y(last_v), c=LINE_COLOUR))
    parts.append(Markup('<text x="{x}" y="{y}" font-size="10" fill="#555">{u}</text>').format(
        x=4, y=TOP + 8, u=unit))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _segments(series: Sequence[tuple[datetime, float]]) -> list[list[tuple[datetime, float]]]:
    segments: list[list[tuple[datetime, float]]] = []
    for point in series:
        if segments and point[0] - segments[-1][-1][0] <= GAP:
            segments[-1].append(point)
        else:
            segments.append([point])
    return segments
