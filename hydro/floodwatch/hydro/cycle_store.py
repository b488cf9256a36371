"""Storing a model run: the run row (inserted, or updated in place for the same region and time)
and its figures per area, flood points and extent polygons, replaced as a whole, in one
transaction."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from geoalchemy2.shape import from_shape
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Point
from sqlalchemy.engine import Engine

from floodwatch.core.db import transaction
from floodwatch.gis_data.models import WGS84
from floodwatch.hydro.cycle_model import CycleOutput
from floodwatch.hydro.models import AreaResult, FloodExtent, FloodPoint, ModelRun
from floodwatch.hydro.region_grid import RegionGrid, ZoneLevel


def save_run(engine: Engine, run: dict[str, Any], output: CycleOutput,
             levels: list[ZoneLevel], grid: RegionGrid, timing: dict[str, float]) -> int:
    to_wgs84 = Transformer.from_crs(grid.metric_crs, WGS84, always_xy=True)
    with transaction(engine) as session:
        row = session.scalars(sa.select(ModelRun).where(
            ModelRun.region == run["region"], ModelRun.valid_at == run["valid_at"])).first()
        if row is None:
            row = ModelRun(**run, timing_s=timing)
            session.add(row)
        else:
            for key, value in run.items():
                setattr(row, key, value)
            row.timing_s = timing
            for table in (AreaResult, FloodPoint, FloodExtent):
                session.execute(sa.delete(table).where(table.run_id == row.id))
        session.flush()
        session.add_all(_area_results(row.id, output, levels))
        finest = max(levels, key=lambda lv: len(lv.index.codes)) if levels else None
        session.add_all(_flood_points(row.id, output, finest, to_wgs84))
        session.add_all(_extents(row.id, output, to_wgs84))
        return row.id


def _number(value: Any, digits: int) -> float | None:
    return None if pd.isna(value) else round(float(value), digits)


def _area_results(run_id: int, output: CycleOutput, levels: list[ZoneLevel]
                  ) -> list[AreaResult]:
    rows = []
    for level in levels:
        frame = output.stats[level.level]
        for code, r in frame.iterrows():
            area_id = level.area_ids.get(str(code))
            if area_id is None or (output.depth is not None and pd.isna(r["flooded_share"])):
                continue  # an area outside the grid: no figures rather than zeros
            modelled = output.depth is not None
            people = r["people_affected"]
            rows.append(AreaResult(
                run_id=run_id, area_id=area_id,
                flooded_km2=_number(r["flooded_km2"], 4),
                flooded_share=_number(r["flooded_share"], 5),
                mean_depth_m=_number(r["mean_depth_m"], 3),
                max_depth_m=_number(r["max_depth_m"], 3),
                # unknown population: 0 affected is all that can be said of a modelled run
                people_affected=(int(people) if not pd.isna(people) else 0) if modelled
                else None,
                rain_24h_mm=_number(r["rain_24h_mm"], 1)))
    return rows


def _flood_points(run_id: int, output: CycleOutput, finest: ZoneLevel | None,
                  to_wgs84: Transformer) -> list[FloodPoint]:
    rows = []
    for p in output.points:
        lon, lat = to_wgs84.transform(p["x"], p["y"])
        area_id = finest.area_ids.get(p["code"]) if finest is not None and p["code"] else None
        rows.append(FloodPoint(run_id=run_id, kind=p["kind"], name=p["name"][:200],
                               area_id=area_id, depth_m=p["depth_m"],
                               geom=from_shape(Point(round(lon, 6), round(lat, 6)), srid=WGS84)))
    return rows


def _extents(run_id: int, output: CycleOutput, to_wgs84: Transformer) -> list[FloodExtent]:
    if output.extents is None or output.extents.empty:
        return []
    rows = []
    for r in output.extents.itertuples():
        geom = shapely.transform(r.geometry, lambda xy: np.column_stack(
            to_wgs84.transform(xy[:, 0], xy[:, 1])))
        polygons = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon"]
        polygons += [q for g in getattr(geom, "geoms", []) if g.geom_type == "MultiPolygon"
                     for q in g.geoms]
        if not polygons:
            continue
        rows.append(FloodExtent(
            run_id=run_id, depth_class=r.label, min_depth_m=float(r.min_depth_m),
            max_depth_m=None if math.isnan(r.max_depth_m) else float(r.max_depth_m),
            area_km2=round(float(r.area_m2) / 1e6, 4),
            geom=from_shape(MultiPolygon(polygons), srid=WGS84)))
    return rows
