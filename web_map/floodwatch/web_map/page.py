"""The page around the map: the "as of" banner, language switch, legend, locate-me button,
footer, and the inline style and script (``client/``). A folium element added to the map last,
so its script runs after every layer exists."""

from __future__ import annotations

import itertools
from importlib import resources
from typing import Any

from folium.elements import MacroElement
from folium.template import Template
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from floodwatch.web_map.i18n import Lang, age, both, client_strings, level_name, local_time, t
from floodwatch.web_map.palette import (
    BD_COLOURS,
    LAND_COLOUR,
    NO_BD_COLOUR,
    RAIN_CLASSES,
    RISK_COLOURS,
    STALE_COLOUR,
    depth_colour,
)
from floodwatch.web_map.popups import bd_text, depth_range
from floodwatch.web_map.state import MapState


def _client(name: str) -> str:
    return (resources.files("floodwatch.web_map") / "client" / name).read_text(encoding="utf-8")


def banner(state: MapState) -> Markup:
    old = state.as_of is None or state.generated_at - state.as_of > state.stale_after
    if state.as_of is None:
        when = t("no_data")
    else:
        iso = state.as_of.isoformat()
        when = Markup('{}: <time datetime="{}">{}</time> <span class="fw-age" data-t="{}">({})'
                      '</span>').format(t("as_of"), iso,
                                        local_time(state.as_of, state.region.timezone), iso,
                                        age(state.as_of, state.generated_at))
    flag = Markup('<span class="fw-flag">{}</span>').format(t("data_stale")) if old else ""
    return Markup(
        '<div id="fw-banner" role="status" class="{cls}"><span class="fw-title">{title} · {region}'
        '</span><span class="fw-asof">{when}</span>{flag}'
        '<button id="fw-lang" class="fw-btn" type="button">{switch}</button></div>'
    ).format(cls="fw-old" if old else "", title=t("title"), region=state.region.title,
             when=when, flag=flag, switch=t("switch_to"))


def _item(swatch: Markup, text: Markup) -> Markup:
    return Markup("<li>{}{}</li>").format(swatch, text)


def legend(state: MapState) -> Markup:
    risk = [_item(Markup('<span class="fw-swatch" style="background:{}"></span>').format(c.hex),
                  both(level_name(level))) for level, c in sorted(RISK_COLOURS.items())]
    risk.append(_item(Markup('<span class="fw-swatch fw-none"></span>'), t("no_warning")))
    dot = Markup('<span class="fw-dot{}" style="background:{}"></span>')
    gauges = [_item(dot.format("", BD_COLOURS[k]), bd_text(k)) for k in sorted(BD_COLOURS)]
    if any(all(a is None for a in s.alarms_m) for s in state.stations):
        gauges.append(_item(dot.format("", NO_BD_COLOUR), t("legend_no_bd")))
    gauges.append(_item(dot.format(" fw-stale-dot", STALE_COLOUR), t("legend_stale")))
    sections = [(t("legend_risk"), risk), (t("legend_gauges"), gauges)]
    if state.flood_extents:
        swatch = Markup('<span class="fw-swatch" style="background:{}"></span>')
        sections.append((t("legend_depth"), [
            _item(swatch.format(depth_colour(i)), both(depth_range(e)))
            for i, e in enumerate(state.flood_extents)]))
    if any(w.figures and w.figures.rain_24h_mm is not None for w in state.wards):
        swatch = Markup('<span class="fw-swatch" style="background:{}"></span>')
        bounds = [low for low, _ in RAIN_CLASSES[1:]]
        labels = [f"< {bounds[0]:g}"] + [f"{a:g}–{b:g}" for a, b in itertools.pairwise(bounds)]
        labels.append(f"≥ {bounds[-1]:g}")
        sections.append((t("legend_rain"), [_item(swatch.format(c), Markup(text))
                                            for (_, c), text in zip(RAIN_CLASSES, labels,
                                                                    strict=True)]))
    body = Markup("").join(Markup("<h4>{}</h4><ul>{}</ul>").format(title, Markup("").join(items))
                           for title, items in sections)
    return Markup('<details id="fw-legend" class="leaflet-bar"><summary>{}</summary>{}</details>'
                  ).format(t("legend"), body)


def footer(state: MapState) -> Markup:
    notes = []
    if state.approximate_terrain:
        notes.append(Markup('<span class="fw-approx">{}</span>').format(t("approx_terrain")))
    if state.run is not None and state.run.stale_inputs:
        notes.append(t("partial_run", n=state.run.stale_inputs))
    notes.append(t("official"))
    notes.append(Markup("floodwatch"))
    return Markup('<div id="fw-footer">{}</div>').format(Markup(" · ").join(notes))


def controls() -> Markup:
    """Locate-me and its message box. Labels are visible text in both languages (attributes
    cannot switch language), so no title or aria-label repeats them."""
    return Markup(
        '<button id="fw-locate" class="fw-ctl" type="button">&#9678; {label}</button>'
        '<div id="fw-message" role="alert" hidden><span id="fw-message-text"></span>'
        '<button id="fw-message-close" class="fw-btn" type="button">'
        '<span aria-hidden="true">&times;</span><span class="fw-sr">{close}</span></button></div>'
    ).format(label=t("locate"), close=t("close"))


class Page(MacroElement):
    """Banner, legend, controls, footer, style and script of the public map."""

    _template = Template("""
        {% macro header(this, kwargs) %}
        <script>(function () {
          var l = {{ this.lang_json }};
          try {
            var asked = new URLSearchParams(window.location.search).get("lang");
            var kept = window.localStorage.getItem("fw-lang");
            if (kept === "vi" || kept === "en") l = kept;
            if (asked === "vi" || asked === "en") l = asked;
          } catch (e) { /* no storage: keep the default */ }
          document.documentElement.lang = l;
        })();</script>
        <style>:root { --fw-land: {{ this.land }}; }
        {{ this.css }}</style>
        {% endmacro %}

        {% macro html(this, kwargs) %}
        {{ this.body }}
        {% endmacro %}

        {% macro script(this, kwargs) %}
        window.FW = Object.assign({map: {{ this.map_name }}, wards: {{ this.wards_name }}},
                                  {{ this.data_json }});
        {{ this.js }}
        {% endmacro %}
    """)

    def __init__(self, state: MapState, *, lang: Lang, map_name: str, wards_name: str) -> None:
        super().__init__()
        self._name = "Page"
        self.lang_json = htmlsafe_json_dumps(lang)
        self.land = LAND_COLOUR
        self.css = _client("map.css")
        self.js = _client("map.js")
        self.body = Markup("").join([banner(state), controls(), legend(state), footer(state)])
        self.map_name, self.wards_name = map_name, wards_name
        data: dict[str, Any] = {"strings": client_strings(), "region": state.region.title,
                                "now": state.generated_at.isoformat()}
        self.data_json = htmlsafe_json_dumps(data)
