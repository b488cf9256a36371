"""Loading a region into the store: idempotent, in one transaction.

Each row carries a hash of what it was built from; a row whose hash is unchanged is left alone,
so a second load of the same files changes nothing (not even ``loaded_at``). Any error rolls the
whole load back: the store is left exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import sqlalchemy as sa
from geoalchemy2.shape import from_shape
from pyproj import CRS
from shapely import wkb
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from floodwatch.core.db import check_reachable, transaction
from floodwatch.core.errors import InputError
from floodwatch.core.timeutil import utcnow
from floodwatch.gis_data import vectors
from floodwatch.gis_data.models import Area, Region, River, Station, StationKind
from floodwatch.gis_data.names import ascii_name, slug
from floodwatch.gis_data.region import AreaLayer, RegionDefinition, RiverLayer, StationLayer


@dataclass
class LoadReport:
    region: str
    inserted: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        return bool(sum(self.inserted.values()) + sum(self.updated.values()))

    def lines(self) -> list[str]:
        keys = sorted(set(self.inserted) | set(self.updated) | set(self.unchanged))
        return [
            f"{k}: {self.inserted[k]} inserted, {self.updated[k]} updated, "
            f"{self.unchanged[k]} unchanged"
            for k in keys
        ]


def _hash(props: dict[str, Any], geom_wkb: bytes | None) -> str:
    h = hashlib.sha256(json.dumps(props, sort_keys=True, default=str).encode())
    if geom_wkb is not None:
        h.update(geom_wkb)
    return h.hexdigest()


def _clean(value: Any) -> Any:
    """pandas' missing values (NaN, None, NaT) as None; numpy scalars as Python ones."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def _code(value: Any) -> str:
    value = _clean(value)
    if value is None or str(value).strip() == "":
        raise ValueError("empty code")
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _apply(session: Session, report: LoadReport, kind: str, row: Any, new: dict[str, Any]) -> Any:
    """Insert ``new`` or update ``row`` with it when its hash changed; count what happened."""
    if row is None:
        row = {"area": Area, "river": River, "station": Station}[kind](**new)
        session.add(row)
        report.inserted[kind] += 1
        return row
    if row.source_hash == new["source_hash"] and all(
        getattr(row, k) == v for k, v in new.items() if k in ("parent_id", "river_id")
    ):
        report.unchanged[kind] += 1
        return row
    for key, value in new.items():
        setattr(row, key, value)
    report.updated[kind] += 1
    return row


def _area_rows(
    session: Session, definition: RegionDefinition, layer: AreaLayer, metric: CRS,
    gdf: gpd.GeoDataFrame, report: LoadReport,
) -> None:
    path = definition.path(layer.file)
    vectors.require_fields(gdf, path, layer.code_field, layer.name_field, layer.population_field,
                           layer.parent_field)
    areas_m2 = None
    seen: set[str] = set()
    for index, feature in gdf.iterrows():
        try:
            code = layer.code or _code(feature[layer.code_field])
        except ValueError:
            raise InputError(f"{path}: feature {index} has no {layer.code_field}") from None
        where = f"{path}: {layer.level} {code}"
        if code in seen:
            raise InputError(f"{where}: the code appears twice in the file")
        seen.add(code)
        name = layer.name or _clean(feature[layer.name_field])
        if not name:
            raise InputError(f"{where}: has no {layer.name_field}")
        geom = vectors.polygonal(feature.geometry, metric_crs=metric, where=where)
        areas_m2 = gpd.GeoSeries([geom], crs=4326).to_crs(metric).area.iloc[0]
        population = _clean(feature[layer.population_field]) if layer.population_field else None
        parent_id = None
        if layer.parent_level:
            parent_code = layer.parent_code or _code(feature[layer.parent_field])
            parent_id = session.scalar(
                sa.select(Area.id).filter_by(region=definition.name, level=layer.parent_level,
                                             code=parent_code)
            )
            if parent_id is None:
                raise InputError(
                    f"{where}: parent {layer.parent_level} {parent_code} is not loaded"
                )
        props = {
            "level": layer.level, "code": code, "name_vi": str(name),
            "population": None if population is None else int(population),
            "population_year": layer.population_year, "population_source": layer.population_source,
            "valid_from": layer.valid_from, "valid_to": layer.valid_to,
        }
        geom_wkb = wkb.dumps(geom)
        new = {
            **props, "region": definition.name, "name_ascii": ascii_name(str(name)),
            "parent_id": parent_id, "area_km2": round(float(areas_m2) / 1e6, 4),
            "geom": from_shape(geom, srid=4326), "source_hash": _hash(props, geom_wkb),
            "loaded_at": utcnow(),
        }
        row = session.scalar(sa.select(Area).filter_by(region=definition.name, level=layer.level,
                                                        code=code))
        _apply(session, report, "area", row, new)
        session.flush()


def _river_rows(session: Session, definition: RegionDefinition, layer: RiverLayer,
                gdf: gpd.GeoDataFrame, metric: CRS, report: LoadReport) -> None:
    path = definition.path(layer.file)
    vectors.require_fields(gdf, path, layer.name_field, layer.rank_field)
    codes: Counter[str] = Counter()
    for index, feature in gdf.iterrows():
        name = _clean(feature[layer.name_field])
        if not name:
            raise InputError(f"{path}: feature {index} has no {layer.name_field}")
        base = slug(str(name))
        codes[base] += 1
        code = base if codes[base] == 1 else f"{base}-{codes[base]}"  # same name twice in a file
        geom = vectors.lineal(feature.geometry, where=f"{path}: river {name}")
        rank = _clean(feature[layer.rank_field]) if layer.rank_field else None
        props = {"code": code, "name": str(name), "rank": None if rank is None else int(rank)}
        length_km = gpd.GeoSeries([geom], crs=4326).to_crs(metric).length.iloc[0] / 1000
        new = {
            **props, "region": definition.name, "name_ascii": ascii_name(str(name)),
            "length_km": round(float(length_km), 3), "geom": from_shape(geom, srid=4326),
            "source_hash": _hash(props, wkb.dumps(geom)), "loaded_at": utcnow(),
        }
        row = session.scalar(sa.select(River).filter_by(region=definition.name, code=code))
        _apply(session, report, "river", row, new)
    session.flush()


def _float(value: Any) -> float | None:
    value = _clean(value)
    return None if value is None else float(value)


def _station_rows(session: Session, definition: RegionDefinition, layer: StationLayer,
                  gdf: gpd.GeoDataFrame, report: LoadReport) -> None:
    path = definition.path(layer.file)
    alarm = layer.alarm_fields or (None, None, None)
    vectors.require_fields(gdf, path, layer.code_field, layer.name_field, layer.kind_field,
                           layer.river_field, *alarm, layer.alarm_source_field, layer.datum_field,
                           layer.source_field)
    kinds = {k.value for k in StationKind}
    rivers = {r.name: r.id for r in session.scalars(sa.select(River).filter_by(
        region=definition.name))}
    for index, feature in gdf.iterrows():
        try:
            code = _code(feature[layer.code_field])
        except ValueError:
            raise InputError(f"{path}: feature {index} has no {layer.code_field}") from None
        where = f"{path}: station {code}"
        kind = str(_clean(feature[layer.kind_field])) if layer.kind_field else layer.kind
        if kind not in kinds:
            raise InputError(f"{where}: kind {kind!r} is not one of {', '.join(sorted(kinds))}")
        geom = feature.geometry if isinstance(feature.geometry, BaseGeometry) else None
        if geom is not None and not geom.is_empty and geom.geom_type != "Point":
            raise InputError(f"{where}: is a {geom.geom_type}, not a point")
        point = None if geom is None or geom.is_empty else geom
        river_name = _clean(feature[layer.river_field]) if layer.river_field else None
        levels = [_float(feature[f]) if f else None for f in alarm]
        if all(v is not None for v in levels) and not levels[0] < levels[1] < levels[2]:  # type: ignore[operator]
            raise InputError(f"{where}: alarm levels {levels} are not increasing (BĐ I < II < III)")
        name = str(_clean(feature[layer.name_field]) or code)
        props = {
            "code": code, "name": name, "kind": kind, "river_name": river_name,
            "alarm1_m": levels[0], "alarm2_m": levels[1], "alarm3_m": levels[2],
            "alarm_source": _clean(feature[layer.alarm_source_field])
            if layer.alarm_source_field else None,
            "datum": _clean(feature[layer.datum_field]) if layer.datum_field else None,
            "source": _clean(feature[layer.source_field]) if layer.source_field else None,
        }
        river_id = None
        if river_name:
            river_id = rivers.get(river_name) or rivers.get(str(river_name).split(" (")[0])
        new = {
            **props, "region": definition.name, "name_ascii": ascii_name(name),
            "river_id": river_id,
            "geom": None if point is None else from_shape(point, srid=4326),
            "source_hash": _hash(props, None if point is None else wkb.dumps(point)),
            "loaded_at": utcnow(),
        }
        row = session.scalar(sa.select(Station).filter_by(code=code))
        if row is not None and row.region not in (None, definition.name):
            raise InputError(f"{where}: the code belongs to region {row.region} already")
        _apply(session, report, "station", row, new)
    session.flush()


def _definition_hash(definition: RegionDefinition) -> str:
    data = definition.model_dump(mode="json", exclude={"root", "origin"})
    return _hash(data, None)


def load_region(engine: Engine, definition: RegionDefinition) -> LoadReport:
    """Load every layer of the definition, all or nothing."""
    check_reachable(engine)
    # Read and validate every file before the transaction starts.
    area_frames = [
        (layer, vectors.read_layer(definition.path(layer.file), crs=layer.crs))
        for layer in definition.areas
    ]
    river_frame = (vectors.read_layer(definition.path(definition.rivers.file),
                                      crs=definition.rivers.crs) if definition.rivers else None)
    station_frame = (vectors.read_layer(definition.path(definition.stations.file),
                                        crs=definition.stations.crs)
                     if definition.stations else None)
    sample = next((g for _, g in area_frames), river_frame if river_frame is not None
                  else station_frame)
    report = LoadReport(region=definition.name)
    with transaction(engine) as session:
        region = session.get(Region, definition.name)
        metric = vectors.metric_crs_for(
            sample, definition.metric_crs or (region.metric_crs if region else None)
        ) if sample is not None else CRS.from_user_input(region.metric_crs if region else 4326)
        metric_name = metric.to_string()
        region_hash = _definition_hash(definition)
        if region is None:
            region = Region(name=definition.name, title=definition.title, metric_crs=metric_name,
                            timezone=definition.timezone, source_hash=region_hash,
                            definition=definition.origin or None, loaded_at=utcnow())
            session.add(region)
            session.flush()
            report.inserted["region"] += 1
        for layer, gdf in area_frames:
            _area_rows(session, definition, layer, metric, gdf, report)
        if definition.rivers and river_frame is not None:
            _river_rows(session, definition, definition.rivers, river_frame, metric, report)
        if definition.stations and station_frame is not None:
            _station_rows(session, definition, definition.stations, station_frame, report)
        if report.changed and not report.inserted["region"]:
            region.loaded_at = utcnow()
            region.source_hash = region_hash
            region.title = definition.title
            region.metric_crs = metric_name
    return report
