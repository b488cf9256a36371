"""What the store holds for a region: areas per level, stations, extent, when it was loaded."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from shapely.ops import unary_union
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from floodwatch.core.db import check_reachable, session_factory
from floodwatch.core.errors import FloodwatchError, NotFoundError
from floodwatch.gis_data.models import Area, Region, River, Station
from floodwatch.gis_data.region import load_definition


def region_names(engine: Engine) -> list[str]:
    check_reachable(engine)
    with session_factory(engine)() as session:
        return list(session.scalars(sa.select(Region.name).order_by(Region.name)))


def _get_region(session: Session, name: str) -> Region:
    region = session.get(Region, name)
    if region is None:
        loaded = ", ".join(session.scalars(sa.select(Region.name))) or "none"
        raise NotFoundError(f"region {name!r} is not loaded (loaded: {loaded}); "
                            f"run `floodwatch region load {name}`")
    return region


def region_summary(engine: Engine, name: str) -> dict[str, Any]:
    """A JSON-ready summary of a loaded region."""
    check_reachable(engine)
    with session_factory(engine)() as session:
        region = _get_region(session, name)
        levels = dict(session.execute(
            sa.select(Area.level, sa.func.count()).where(Area.region == name)
            .group_by(Area.level)
        ).all())
        kinds = dict(session.execute(
            sa.select(Station.kind, sa.func.count()).where(Station.region == name)
            .group_by(Station.kind)
        ).all())
        population = dict(session.execute(
            sa.select(Area.level, sa.func.sum(Area.population)).where(Area.region == name)
            .group_by(Area.level)
        ).all())
        rivers = session.scalar(sa.select(sa.func.count()).select_from(River)
                                .where(River.region == name))
        query = sa.select(Area.geom).where(Area.region == name)
        geoms = [to_shape(g) for g in session.scalars(query)]
        bbox = [round(v, 5) for v in unary_union(geoms).bounds] if geoms else None
        return {
            "region": region.name,
            "title": region.title,
            "metric_crs": region.metric_crs,
            "timezone": region.timezone,
            "areas": dict(sorted(levels.items())),
            "population": {k: int(v) for k, v in sorted(population.items()) if v is not None},
            "stations": dict(sorted(kinds.items())),
            "rivers": rivers,
            "bbox": bbox,
            "loaded_at": region.loaded_at.isoformat(),
            "definition": region.definition,
            "terrain": _terrain(region.definition),
        }


def _terrain(definition_path: str | None) -> dict[str, Any] | None:
    """The flood model's terrain as the region definition gives it (None: no flood depth)."""
    if not definition_path:
        return None
    try:
        definition = load_definition(definition_path)
    except FloodwatchError:
        return None
    terrain = definition.terrain
    if terrain is None:
        return None
    return {"file": str(definition.path(terrain.file)), "approximate": terrain.approximate,
            "note": terrain.note, "rivers": [r.river for r in terrain.rivers]}


def area_table(engine: Engine, name: str, level: str | None = None) -> list[dict[str, Any]]:
    """One row per area: level, code, names, parent, population, km²."""
    with session_factory(engine)() as session:
        _get_region(session, name)
        parent = sa.orm.aliased(Area)
        query = (
            sa.select(Area.level, Area.code, Area.name_vi, Area.name_ascii, parent.code,
                      Area.population, Area.population_year, Area.area_km2)
            .outerjoin(parent, Area.parent_id == parent.id)
            .where(Area.region == name)
            .order_by(Area.level, Area.code)
        )
        if level:
            query = query.where(Area.level == level)
        keys = ("level", "code", "name_vi", "name_ascii", "parent", "population",
                "population_year", "area_km2")
        return [dict(zip(keys, row, strict=True)) for row in session.execute(query)]


def station_table(engine: Engine, name: str) -> list[dict[str, Any]]:
    with session_factory(engine)() as session:
        _get_region(session, name)
        rows = session.scalars(sa.select(Station).filter_by(region=name).order_by(Station.code))
        return [
            {
                "code": s.code, "name": s.name, "kind": s.kind, "river": s.river_name,
                "alarm_m": [s.alarm1_m, s.alarm2_m, s.alarm3_m],
                "lon": None if s.geom is None else round(to_shape(s.geom).x, 5),
                "lat": None if s.geom is None else round(to_shape(s.geom).y, 5),
            }
            for s in rows
        ]
