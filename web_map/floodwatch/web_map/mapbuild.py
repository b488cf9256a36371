"""The public map as one HTML page, built by a pure function of the snapshot (no store, no
server, no clock): wards by risk level, flood extent and points, gauges with hydrographs,
24-hour rain, an "as of" banner, a legend, locate-me and a Vietnamese/English switch.

No request leaves the server: Leaflet comes from ``asset_base`` (see ``assets``), folium's CDN
defaults are replaced on this map only, popups are bound from escaped HTML by our own script (not
folium's popups, which need jQuery and put text into JavaScript template strings), and the
basemap is the region's own outlines and rivers unless a tile layer is configured.
"""

from __future__ import annotations

from typing import Any

import folium
from branca.element import Figure
from folium.utilities import JsCode
from markupsafe import escape

from floodwatch.core.errors import InputError
from floodwatch.web_map import palette
from floodwatch.web_map.assets import page_links
from floodwatch.web_map.i18n import LANGS, Lang, level_name, t, text
from floodwatch.web_map.page import Page
from floodwatch.web_map.popups import extent_popup, point_popup, station_popup, ward_popup
from floodwatch.web_map.settings import TileSetting
from floodwatch.web_map.state import MapState

#: Each feature carries its popup's HTML (escaped when built); this binds it, kept clear of the
#: banner and footer and scrollable on a short screen.
BIND_POPUP = JsCode("""function (feature, layer) {
    if (feature.properties && feature.properties.popup) {
        var top = document.getElementById("fw-banner").offsetHeight;
        var bottom = document.getElementById("fw-footer").offsetHeight;
        layer.bindPopup(feature.properties.popup, {
            maxWidth: 340, maxHeight: Math.max(240, window.innerHeight - top - bottom - 90),
            autoPanPaddingTopLeft: [10, top + 10], autoPanPaddingBottomRight: [10, bottom + 10]
        });
    }
}""")
GAUGE_RADIUS_PX = 11  # large enough to tap
POINT_RADIUS_PX = 7


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _feature(geometry: Any, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def ward_style(level: int) -> dict[str, Any]:
    colour = palette.RISK_COLOURS.get(level)
    if colour is None:  # nothing in force: no colour, only the outline
        return {"color": palette.WARD_OUTLINE, "weight": 1, "fillOpacity": 0.0,
                "fillColor": palette.LAND_COLOUR}
    return {"color": palette.WARD_OUTLINE, "weight": 1.5, "fillColor": colour.hex,
            "fillOpacity": palette.RISK_FILL_OPACITY}


def _wards(state: MapState) -> folium.GeoJson:
    features = [_feature(w.geometry, code=w.code, name=w.name_vi, level=w.level,
                         level_text=level_name(w.level), style=ward_style(w.level),
                         popup=str(ward_popup(w, state)))
                for w in state.wards]
    return folium.GeoJson(_collection(features), name=str(t("layer_wards")),
                          on_each_feature=BIND_POPUP)


def _rain(state: MapState) -> folium.GeoJson | None:
    features = [_feature(w.geometry, style={
        "stroke": False, "fillOpacity": 0.75,
        "fillColor": palette.rain_colour(w.figures.rain_24h_mm)})
        for w in state.wards if w.figures and w.figures.rain_24h_mm is not None]
    if not features:
        return None
    return folium.GeoJson(_collection(features), name=str(t("layer_rain")), show=False,
                          interactive=False)


def _rivers(state: MapState) -> folium.GeoJson | None:
    if not state.rivers:
        return None
    features = [_feature(r.geometry, style={"color": palette.RIVER_COLOUR,
                                            "weight": 3 if (r.rank or 0) <= 1 else 2})
                for r in state.rivers]
    return folium.GeoJson(_collection(features), name=str(t("layer_rivers")), interactive=False)


def _extents(state: MapState) -> folium.GeoJson | None:
    if not state.flood_extents:
        return None
    features = [_feature(e.geometry, depth_class=e.depth_class, popup=str(extent_popup(e, state)),
                         style={"stroke": False, "fillOpacity": 0.7,
                                "fillColor": palette.depth_colour(i)})
                for i, e in enumerate(state.flood_extents)]
    return folium.GeoJson(_collection(features), name=str(t("layer_extent")),
                          on_each_feature=BIND_POPUP)


def _points(state: MapState) -> folium.GeoJson | None:
    if not state.flood_points:
        return None
    features = [_feature(_point(p.lon, p.lat), popup=str(point_popup(p, state)),
                         style={"color": "#fff", "weight": 2, "fill": True,
                                "fillColor": palette.POINT_COLOUR, "fillOpacity": 1,
                                "radius": POINT_RADIUS_PX})
                for p in state.flood_points]
    return folium.GeoJson(_collection(features), name=str(t("layer_points")),
                          marker=folium.CircleMarker(radius=POINT_RADIUS_PX),
                          on_each_feature=BIND_POPUP)


def gauge_style(bd_status: int, stale: bool, has_bd: bool = True) -> dict[str, Any]:
    """A gauge's marker: by BĐ status; grey when stale; its own colour when the station has no
    BĐ levels (a reservoir or a rain gauge is never "below BĐ I")."""
    fill = (palette.STALE_COLOUR if stale else palette.BD_COLOURS[bd_status] if has_bd
            else palette.NO_BD_COLOUR)
    return {"color": "#fff" if not stale else "#424242", "weight": 3, "fill": True,
            "dashArray": "3 3" if stale else None, "fillOpacity": 1, "radius": GAUGE_RADIUS_PX,
            "fillColor": fill}


def _gauges(state: MapState) -> folium.GeoJson | None:
    features = [_feature(_point(s.lon, s.lat), code=s.code, stale=s.stale,
                         style=gauge_style(s.bd_status, s.stale,
                                           any(a is not None for a in s.alarms_m)),
                         popup=str(station_popup(s, state)))
                for s in state.stations if s.lon is not None and s.lat is not None]
    if not features:
        return None
    return folium.GeoJson(_collection(features), name=str(t("layer_gauges")),
                          marker=folium.CircleMarker(radius=GAUGE_RADIUS_PX),
                          on_each_feature=BIND_POPUP)


def build_map(state: MapState, *, asset_base: str = "/static/vendor", lang: Lang = "vi",
              tile_layer: TileSetting | None = None) -> str:
    """The page's HTML. ``asset_base`` is where the web app serves ``assets.VENDOR_DIR``;
    ``lang`` the first language shown (the reader can switch; ``?lang=en`` also works)."""
    if lang not in LANGS:
        raise InputError(f"unknown language {lang!r} (known: {', '.join(LANGS)})")
    bbox = state.region.bbox
    centre = [(bbox[1] + bbox[3]) / 2, (bbox[0] + bbox[2]) / 2] if bbox else [0.0, 0.0]
    m = folium.Map(location=centre, zoom_start=10, tiles=None, control_scale=True)
    m.default_js, m.default_css = page_links(asset_base)  # this map only, not folium's globals
    root = m.get_root()
    assert isinstance(root, Figure)
    root.title = str(escape(f"{text('title', lang)} · {state.region.title}"))
    if bbox:
        m.fit_bounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]])
    if tile_layer is not None:
        folium.TileLayer(tiles=tile_layer.url, attr=str(escape(tile_layer.attribution)),
                         name=str(t("layer_tiles")), max_zoom=tile_layer.max_zoom,
                         overlay=True).add_to(m)
    wards = _wards(state)
    for layer in (_rain(state), wards, _extents(state), _rivers(state), _points(state),
                  _gauges(state)):
        if layer is not None:
            layer.add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    Page(state, lang=lang, map_name=m.get_name(), wards_name=wards.get_name()).add_to(m)
    html: str = root.render()
    return html.replace("<html>", f'<html lang="{lang}">', 1)


__all__ = ["TileSetting", "build_map"]
