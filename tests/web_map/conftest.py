"""The Huế store as the public map reads it on 17 Nov 2025, 15:00 local (08:00 UTC), when Kim
Long stood at its 3.01 m peak: the real region and readings, plus model runs, alerts and flood
layers inserted directly (factories below), since they are produced by other components."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Point, box
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from floodwatch.core.db import transaction
from floodwatch.gis_data.loader import load_region
from floodwatch.gis_data.models import Area
from floodwatch.gis_data.region import load_definition
from floodwatch.hydro.backfill import load_series
from floodwatch.hydro.models import AreaResult, FloodExtent, FloodPoint, ModelRun
from floodwatch.warnings.tables import AlertStateRow, AlertTransition

NOW = datetime(2025, 11, 17, 8, 0, tzinfo=UTC)
HOSTILE = "<img src=x onerror=alert(1)>"
WARD_RED, WARD_YELLOW, WARD_CANCELLED = "19753", "19774", "19777"  # Phú Xuân, Kim Long, Vỹ Dạ
RED_REASON = "Kim Long 2.91 m ≥ BĐ II 2.00 m <script>alert(2)</script>"


def add_run(session: Session, valid_at: datetime, status: str = "ok", **extra: Any) -> int:
    run = ModelRun(region="hue", valid_at=valid_at, started_at=valid_at, finished_at=valid_at,
                   status=status, inputs=[], stale_inputs=extra.pop("stale_inputs", []),
                   parameters=extra.pop("parameters", {}), timing_s={}, inputs_hash="x" * 64,
                   **extra)
    session.add(run)
    session.flush()
    return run.id


def add_result(session: Session, run_id: int, area_id: int, **values: Any) -> None:
    defaults = {"flooded_km2": 0.0, "flooded_share": 0.0, "mean_depth_m": None,
                "max_depth_m": None, "people_affected": 0, "rain_24h_mm": None}
    session.add(AreaResult(run_id=run_id, area_id=area_id, **{**defaults, **values}))


def add_state(session: Session, area_id: int, hazard: str, status: str, level: int) -> None:
    session.add(AlertStateRow(area_id=area_id, hazard=hazard, status=status, level=level,
                              data={}, updated_at=NOW))


_sequence = iter(range(1, 10_000))


def add_transition(session: Session, area_id: int, hazard: str, at: datetime, level: int,
                   reason: str, kind: str = "alert") -> None:
    seq = next(_sequence)
    session.add(AlertTransition(area_id=area_id, hazard=hazard, sequence=seq, kind=kind,
                                level=level, previous_level=0, at=at, reason=reason, evidence={},
                                cap_identifier=f"test-{seq}"))


def ward_ids(session: Session) -> dict[str, int]:
    return dict(session.execute(sa.select(Area.code, Area.id).where(Area.level == "ward")).all())


@dataclass(frozen=True)
class Scenario:
    """What the tests need to know of the store they get (test modules cannot import this
    conftest under --import-mode=importlib, so it all travels in the fixture)."""

    engine: Engine
    ids: dict[str, int]
    run_id: int
    extent_shapes: tuple[MultiPolygon, ...]
    point_xy: tuple[float, float]
    now: datetime = NOW
    red: str = WARD_RED  # level 3 (river flood firing, fast rise resolving)
    yellow: str = WARD_YELLOW  # level 2 (heavy rain resolving)
    cancelled: str = WARD_CANCELLED  # level 0 after a cancel
    red_reason: str = RED_REASON
    hostile: str = HOSTILE  # the flood point's name


def build_scenario(engine: Engine) -> Scenario:
    load_region(engine, load_definition("hue"))
    load_series(engine, "hue-2025-11")
    with transaction(engine) as s:
        ids = ward_ids(s)
        red, yellow, cancelled = ids[WARD_RED], ids[WARD_YELLOW], ids[WARD_CANCELLED]
        district = s.scalar(sa.select(Area.id).where(Area.level == "district").limit(1))
        ward = s.get(Area, red)
        assert ward is not None and district is not None
        centre = ward.geom  # reused for an expired ward of the old era
        s.add(Area(region="hue", level="ward", code="OLD-1", name_vi="Phường cũ",
                   name_ascii="Phuong cu", area_km2=1.0, valid_to=date(2025, 7, 1), geom=centre,
                   source_hash="x"))
        old = add_run(s, NOW - timedelta(hours=2))
        add_result(s, old, red, flooded_km2=9.0, flooded_share=0.9, people_affected=1)
        s.add(FloodPoint(run_id=old, kind="deepest", name="old point", area_id=red,
                         depth_m=9.0, geom=from_shape(Point(107.58, 16.46), srid=4326)))
        run = add_run(s, NOW - timedelta(hours=1), "partial",
                      stale_inputs=[{"feed": "rain", "newest": "2025-11-16T00:00:00Z"}],
                      parameters={"terrain_approximate": True})
        add_run(s, NOW - timedelta(minutes=30), "failed")
        add_run(s, NOW + timedelta(hours=1))  # after now: not yet
        add_result(s, run, red, flooded_km2=1.25, flooded_share=0.125, mean_depth_m=0.42,
                   max_depth_m=1.6, people_affected=5234, rain_24h_mm=142.0)
        add_result(s, run, yellow, flooded_km2=0.0, flooded_share=0.0, people_affected=0,
                   rain_24h_mm=35.5)
        point_xy = (107.5801, 16.4652)
        s.add(FloodPoint(run_id=run, kind="deepest", name=HOSTILE, area_id=red, depth_m=1.6,
                         geom=from_shape(Point(*point_xy), srid=4326)))
        shapes = (MultiPolygon([box(107.57, 16.45, 107.59, 16.47)]),
                  MultiPolygon([box(107.575, 16.455, 107.585, 16.465)]))
        for (cls, low, high), shape in zip((("0.1-0.5 m", 0.1, 0.5), ("≥0.5 m", 0.5, None)),
                                           shapes, strict=True):
            s.add(FloodExtent(run_id=run, depth_class=cls, min_depth_m=low, max_depth_m=high,
                              area_km2=1.0, geom=from_shape(shape, srid=4326)))
        add_state(s, red, "river_flood", "firing", 3)
        add_state(s, red, "heavy_rain", "pending", 4)  # not in force yet
        add_state(s, red, "rapid_rise", "resolving", 1)
        add_state(s, yellow, "heavy_rain", "resolving", 2)
        add_state(s, cancelled, "river_flood", "inactive", 0)
        add_state(s, district, "river_flood", "firing", 5)  # an area of the old era
        add_transition(s, red, "river_flood", NOW - timedelta(hours=3), 2, "first alert")
        add_transition(s, red, "river_flood", NOW - timedelta(hours=1), 3, RED_REASON, "update")
        add_transition(s, red, "river_flood", NOW + timedelta(hours=1), 4, "later", "update")
        add_transition(s, red, "rapid_rise", NOW - timedelta(minutes=30), 1, "fast rise")
        add_transition(s, yellow, "heavy_rain", NOW - timedelta(hours=2), 2, "142 mm in 24 h")
        add_transition(s, cancelled, "river_flood", NOW - timedelta(hours=4), 1, "early")
        add_transition(s, cancelled, "river_flood", NOW - timedelta(hours=2), 0,
                       "below BĐ I again", "cancel")
    return Scenario(engine, ids, run, shapes, point_xy)


@pytest.fixture
def factories() -> SimpleNamespace:
    """The row factories above, for tests that add rows of their own."""
    return SimpleNamespace(add_run=add_run, add_result=add_result, add_state=add_state,
                           add_transition=add_transition)


@pytest.fixture
def hue(engine: Engine) -> Scenario:
    return build_scenario(engine)
