"""Which wards a river gauge speaks for: the documented default behind the lists in hue.toml.

The explicit lists in ``rulesets/<region>.toml`` are the source of truth at run time; this
module is how they were produced (``python -m floodwatch.warnings.links``) and how a test checks
that they still follow from the data. The rule, kept deliberately simple:

1. Work in the metric CRS (EPSG:32648, UTM 48N, as the Huế region does).
2. *Near reach*: the gauge's own river (every line with its name) clipped to a disc of
   ``max_distance_m`` around the gauge, upstream and downstream alike.
3. *Downstream course*: from the gauge to the end of its river line, then on along whatever the
   water flows into: a line that starts where the course ends (the next stretch, or both arms of
   a braid), or a river that the course joins part-way (followed from the junction to its end).
   No distance limit: below Kim Long and Phú Ốc the water only reaches the coastal lowland and
   the lagoon, and those wards flood from the same water. River lines must be drawn from source
   to mouth, as they are in the bundled file; no elevation is used ("lowland" is assumed, a DEM
   would be the next step).
4. A ward is linked when it intersects the near reach or the downstream course buffered by
   ``buffer_m``.

Known limits: the river lines are generalised, so ``buffer_m`` also absorbs a few hundred metres
of position error; tributaries with other names are not followed upstream; wards flooded only by
the lagoon or by rivers without a gauge (Ô Lâu, Truồi) are not linked.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import geopandas as gpd
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point
from shapely.ops import substring, unary_union

from floodwatch.core.errors import InputError

METRIC_CRS = "EPSG:32648"
JOIN_TOLERANCE_M = 50.0  # how close two line ends must be to count as connected

GaugeSpec = tuple[str, str, float, float]  # (code, river name, lon, lat)


def default_links(
    wards: gpd.GeoDataFrame,
    rivers: gpd.GeoDataFrame,
    gauges: Sequence[GaugeSpec],
    *,
    buffer_m: float = 2000,
    max_distance_m: float = 25000,
) -> dict[str, list[str]]:
    """Gauge code → sorted ward codes (``gso_code_2025``), by the rule in the module docstring."""
    _require(wards, ("gso_code_2025", "geometry"), "wards")
    _require(rivers, ("name", "geometry"), "rivers")
    if buffer_m < 0 or max_distance_m <= 0:
        raise InputError(f"buffer_m must be ≥ 0 and max_distance_m > 0, got {buffer_m}, "
                         f"{max_distance_m}")
    wards_m = wards.to_crs(METRIC_CRS)
    rivers_m = rivers.to_crs(METRIC_CRS)
    parts = _single_lines(rivers_m)
    to_metric = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
    links: dict[str, list[str]] = {}
    for code, river, lon, lat in gauges:
        gauge = Point(to_metric.transform(lon, lat))
        own = [line for name, line in parts if name == river]
        if not own:
            raise InputError(f"gauge {code}: no river named {river!r} in the river lines")
        near = unary_union(own).intersection(gauge.buffer(max_distance_m))
        reach = unary_union([near, *_downstream_course(gauge, own, parts)])
        zone = reach.buffer(buffer_m)
        hit = wards_m[wards_m.geometry.intersects(zone)]
        links[code] = sorted(str(c) for c in hit["gso_code_2025"])
    return links


def _require(frame: gpd.GeoDataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{what} lack the column(s) {', '.join(missing)}")
    if frame.crs is None:
        raise InputError(f"{what} have no CRS; expected lon/lat (EPSG:4326) or a metric CRS")


def _single_lines(rivers: gpd.GeoDataFrame) -> list[tuple[str, LineString]]:
    out: list[tuple[str, LineString]] = []
    for name, geom in zip(rivers["name"], rivers.geometry, strict=True):
        if geom is None or geom.is_empty:
            continue
        for part in shapely.get_parts(geom):
            if isinstance(part, LineString):
                out.append((str(name), part))
    return out


def _downstream_course(
    gauge: Point, own: list[LineString], parts: list[tuple[str, LineString]]
) -> list[LineString]:
    """The lines the water follows from the gauge to the sea (see the module docstring, 3)."""
    start = min(own, key=gauge.distance)
    course = [substring(start, start.project(gauge), start.length)]
    used = {id(start)}
    frontier = [course[0]]
    while frontier:
        end = Point(frontier.pop().coords[-1])
        nxt = [line for _, line in parts if id(line) not in used
               and Point(line.coords[0]).distance(end) <= JOIN_TOLERANCE_M]
        if not nxt:  # joins another river part-way: follow it from the junction
            nxt = [substring(line, line.project(end), line.length) for _, line in parts
                   if id(line) not in used and line.distance(end) <= JOIN_TOLERANCE_M
                   and Point(line.coords[-1]).distance(end) > JOIN_TOLERANCE_M]
            used.update(id(line) for _, line in parts if line.distance(end) <= JOIN_TOLERANCE_M)
        else:
            used.update(id(line) for line in nxt)
        course.extend(nxt)
        frontier.extend(nxt)
    return course


def links_toml(links: dict[str, list[str]], names: dict[str, str]) -> str:
    """The ``wards = [...]`` lines for hue.toml, one gauge per block, ward names as comments."""
    lines: list[str] = []
    for code, wards in links.items():
        lines.append(f'# gauge {code}')
        lines.append("wards = [")
        lines.extend(f'  "{w}",  # {names.get(w, "?")}' for w in wards)
        lines.append("]")
    return "\n".join(lines)


def main() -> None:  # pragma: no cover - a one-off generator, its output is reviewed by hand
    from floodwatch.gis_data.region import BUNDLED_DIR
    from floodwatch.warnings.ruleset import load_ruleset

    ruleset = load_ruleset()
    wards = gpd.read_file(BUNDLED_DIR / ruleset.region / ruleset.links_wards_file)
    rivers = gpd.read_file(BUNDLED_DIR / ruleset.region / ruleset.links_rivers_file)
    gauges = [(g.code, g.river, g.lon, g.lat) for g in ruleset.gauges.values()]
    links = default_links(wards, rivers, gauges, buffer_m=ruleset.links_buffer_m,
                          max_distance_m=ruleset.links_max_distance_m)
    names = dict(zip(wards["gso_code_2025"].astype(str), wards["name_vi"], strict=True))
    sys.stdout.write(links_toml(links, names) + "\n")


if __name__ == "__main__":  # pragma: no cover
    main()
