"""The HTML of each popup, built from the snapshot with every outside string escaped (names and
reasons come from files, feeds and people). Both languages are in the HTML; the page shows one."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from markupsafe import Markup, escape

from floodwatch.warnings import texts
from floodwatch.web_map.gauges import SERIES_WINDOW
from floodwatch.web_map.hydrograph import ROMAN, hydrograph_svg
from floodwatch.web_map.i18n import LANGS, UI, Lang, age, both, level_name, local_time, number, t
from floodwatch.web_map.palette import BD_COLOURS, RISK_COLOURS, STALE_COLOUR
from floodwatch.web_map.state import (
    FloodExtentState,
    FloodPointState,
    MapState,
    StationState,
    WardState,
)

#: A level changing by less than this per hour is called steady (the gauges report whole cm).
STEADY_BELOW_M_PER_H = 0.01


def when(moment: datetime, state: MapState) -> Markup:
    """Local time and how long ago (kept current by the page's script)."""
    return Markup('{} <span class="fw-age" data-t="{}">({})</span>').format(
        local_time(moment, state.region.timezone), moment.isoformat(),
        age(moment, state.generated_at))


def label(prefix: str, key: str) -> Markup:
    """A translated label for a code (``hazard_river_flood``), or the code itself, escaped."""
    return t(f"{prefix}_{key}") if f"{prefix}_{key}" in UI else Markup(escape(key))


def _rows(rows: Iterable[tuple[Markup, Markup]]) -> Markup:
    body = Markup("").join(Markup("<tr><th>{}</th><td>{}</td></tr>").format(k, v)
                           for k, v in rows)
    return Markup('<table class="fw-table">{}</table>').format(body) if body else Markup("")


def level_badge(level: int) -> Markup:
    colour = RISK_COLOURS.get(level)
    if colour is None:
        return Markup('<div class="fw-badge fw-badge-none">{}</div>').format(t("no_warning"))
    ink = "#000" if level <= 2 else "#fff"
    return Markup('<div class="fw-badge" style="background:{};color:{}">{}</div>').format(
        colour.hex, ink, both(level_name(level)))


def ward_popup(ward: WardState, state: MapState) -> Markup:
    parts = [Markup("<h3>{}</h3>").format(ward.name_vi), level_badge(ward.level)]
    if ward.hazards:
        parts.append(Markup('<p class="fw-hazards">{}</p>').format(
            Markup(" · ").join(label("hazard", h) for h in ward.hazards)))
    if ward.reason:
        at = when(ward.reason_at, state) if ward.reason_at else Markup("")
        parts.append(Markup('<p><b>{}:</b> {} <span class="fw-muted">{}</span></p>').format(
            t("why"), ward.reason, at))
    if ward.level >= 1:
        todo = {lang: texts.INSTRUCTION[lang].get(ward.level, "") for lang in LANGS}
        parts.append(Markup("<p><b>{}:</b> {}</p>").format(t("what_to_do"), both(todo)))
    f = ward.figures
    if f is not None and state.run is not None:
        if f.flooded_share is None or f.flooded_km2 is None:
            rows = [(t("flooded_share"), t("not_modelled"))]
        else:
            rows = [(t("flooded_share"), Markup("{} ({})").format(
                both(number(100 * f.flooded_share, 0, "%")),
                both(number(f.flooded_km2, 2, "km²"))))]
        rows += [(t(key), both(number(v, 2, "m"))) for key, v in
                 (("mean_depth", f.mean_depth_m), ("max_depth", f.max_depth_m)) if v is not None]
        if f.people_affected is not None:
            rows.append((t("people_affected"), both(number(f.people_affected, 0))))
        if f.rain_24h_mm is not None:
            rows.append((t("rain_24h"), both(number(f.rain_24h_mm, 0, "mm"))))
        parts.append(Markup('<h4>{} <span class="fw-muted">{} {}</span></h4>{}').format(
            t("modelled"), t("as_of_short"), when(state.run.valid_at, state), _rows(rows)))
    if ward.population is not None:
        parts.append(Markup('<p class="fw-muted">{}: {}</p>').format(
            t("population"), both(number(ward.population, 0))))
    return _wrap(parts)


def stale_text(station: StationState, state: MapState) -> Markup:
    hours = number(state.stale_after.total_seconds() / 3600, 0)
    return Markup(" · ").join(t(f"stale_{why}", h=hours) for why in station.stale_because)


def bd_text(bd_status: int) -> Markup:
    return t("above_bd", n=ROMAN[bd_status - 1]) if bd_status else t("below_bd1")


def trend_text(rate_m_per_h: float) -> Markup:
    if abs(rate_m_per_h) < STEADY_BELOW_M_PER_H:
        return both({lang: texts.TREND[lang]["steady"] for lang in LANGS})
    word = "rising" if rate_m_per_h > 0 else "falling"
    rate = number(abs(rate_m_per_h) * 100, 0, "cm/h")
    return both({lang: f"{texts.TREND[lang][word]} {rate[lang]}" for lang in LANGS})


def station_popup(s: StationState, state: MapState) -> Markup:
    kind = label("kind", s.kind)
    sub = Markup("{} · {}").format(kind, s.river_name) if s.river_name else kind
    parts = [Markup('<h3>{}</h3><p class="fw-muted">{}</p>').format(s.name, sub)]
    if s.stale:
        parts.append(Markup('<p class="fw-stale">{}</p>').format(stale_text(s, state)))
    rows: list[tuple[Markup, Markup]] = []
    if s.value is not None and s.observed_at is not None:
        what = t("water_level") if s.unit == "m" else t("reading")
        rows.append((what, Markup("<b>{}</b> {}").format(
            both(number(s.value, 2, s.unit or "")), when(s.observed_at, state))))
    alarms = [(k, a) for k, a in enumerate(s.alarms_m) if a is not None]
    if alarms and s.value is not None:
        colour = STALE_COLOUR if s.stale else BD_COLOURS[s.bd_status]
        rows.append((Markup("BĐ"), Markup('<span class="fw-dot" style="background:{}"></span>{}')
                     .format(colour, bd_text(s.bd_status))))
    if s.trend_m_per_h is not None:
        rows.append((t("trend"), trend_text(s.trend_m_per_h)))
    if alarms:
        levels = {lang: " · ".join(f"BĐ {ROMAN[k]} {number(a, 2)[lang]}" for k, a in alarms)
                  + " m" for lang in LANGS}
        rows.append((t("alarm_levels"), both(levels)))
    if s.rain_24h_mm is not None:
        rows.append((t("rain_24h"), both(number(s.rain_24h_mm, 0, "mm"))))
    parts.append(_rows(rows))
    if s.unit == "m":
        start = state.generated_at - SERIES_WINDOW
        parts.append(Markup('<h4>{}</h4>{}').format(t("hydrograph"), hydrograph_svg(
            s.series, s.alarms_m, start=start, end=state.generated_at,
            timezone=state.region.timezone)))
    return _wrap(parts)


def point_popup(p: FloodPointState, state: MapState) -> Markup:
    rows = [(t("depth"), both(number(p.depth_m, 2, "m")))] if p.depth_m is not None else []
    return _wrap([Markup('<h3>{}</h3><p class="fw-muted">{} · {}</p>').format(
        p.name, t("layer_points"), p.kind), _rows(rows), _run_as_of(state)])


def extent_popup(e: FloodExtentState, state: MapState) -> Markup:
    return _wrap([Markup('<h3>{} {}</h3>').format(t("layer_extent"), e.depth_class),
                  _rows([(t("depth"), both(depth_range(e))),
                         (t("area"), both(number(e.area_km2, 2, "km²")))]),
                  _run_as_of(state)])


def depth_range(e: FloodExtentState) -> dict[Lang, str]:
    low = number(e.min_depth_m, 1)
    if e.max_depth_m is None:
        return {lang: f"≥ {low[lang]} m" for lang in LANGS}
    high = number(e.max_depth_m, 1)
    return {lang: f"{low[lang]}–{high[lang]} m" for lang in LANGS}


def _run_as_of(state: MapState) -> Markup:
    if state.run is None:
        return Markup("")
    return Markup('<p class="fw-muted">{} {}</p>').format(
        t("as_of_short"), when(state.run.valid_at, state))


def _wrap(parts: Iterable[Markup]) -> Markup:
    return Markup('<div class="fw-popup">{}</div>').format(Markup("").join(parts))
