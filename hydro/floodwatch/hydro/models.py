"""The hydro component's tables: feed health (one row per configured feed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import Mapped, mapped_column

from floodwatch.core.db import UTCDateTime
from floodwatch.gis_data.models import WGS84, Base


class FeedStatus(Base):
    """Health of one feed: what was tried, what worked, how fresh its data is, what failed."""

    __tablename__ = "feed_status"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    newest_reading_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    readings_added: Mapped[int] = mapped_column(sa.Integer, default=0)  # by the last success
    readings_total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    consecutive_failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    # HTTP validators (ETag / Last-Modified) per URL, and resumable backfill cursors
    state: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class ModelRun(Base):
    """One run of the model cycle for a region at one valid time: what went in, what was left
    out and why, the parameters and the timing. One run per region and time (idempotent)."""

    __tablename__ = "model_runs"
    __table_args__ = (sa.UniqueConstraint("region", "valid_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(sa.ForeignKey("regions.name", ondelete="CASCADE"))
    valid_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(sa.String(16))  # ok | partial | failed
    inputs: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    stale_inputs: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    parameters: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    timing_s: Mapped[dict[str, float]] = mapped_column(sa.JSON, default=dict)
    inputs_hash: Mapped[str] = mapped_column(sa.String(64))
    depth_path: Mapped[str | None] = mapped_column(sa.String(500))
    message: Mapped[str | None] = mapped_column(sa.Text)


class AreaResult(Base):
    """The model's figures for one area in one run."""

    __tablename__ = "area_results"

    run_id: Mapped[int] = mapped_column(sa.ForeignKey("model_runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    area_id: Mapped[int] = mapped_column(sa.ForeignKey("areas.id", ondelete="CASCADE"),
                                         primary_key=True, index=True)
    # NULL when the run did not model flooding (no terrain, or no fresh river gauge): unknown,
    # which is not "nothing flooded"
    flooded_km2: Mapped[float | None] = mapped_column(sa.Float)
    flooded_share: Mapped[float | None] = mapped_column(sa.Float)
    mean_depth_m: Mapped[float | None] = mapped_column(sa.Float)
    max_depth_m: Mapped[float | None] = mapped_column(sa.Float)
    people_affected: Mapped[int | None] = mapped_column(sa.Integer)
    rain_24h_mm: Mapped[float | None] = mapped_column(sa.Float)


class FloodPoint(Base):
    """A point with a modelled or measured depth: a ward's deepest flooded cell, a gauge site,
    a depth sensor, or a point of interest from the region definition."""

    __tablename__ = "flood_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("model_runs.id", ondelete="CASCADE"),
                                        index=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(200))
    area_id: Mapped[int | None] = mapped_column(sa.ForeignKey("areas.id", ondelete="SET NULL"))
    depth_m: Mapped[float | None] = mapped_column(sa.Float)
    geom = mapped_column(Geometry("POINT", srid=WGS84, spatial_index=True), nullable=False)


class FloodExtent(Base):
    """The modelled flood extent of a run as polygons by depth class."""

    __tablename__ = "flood_extents"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("model_runs.id", ondelete="CASCADE"),
                                        index=True)
    depth_class: Mapped[str] = mapped_column(sa.String(32))
    min_depth_m: Mapped[float] = mapped_column(sa.Float)
    max_depth_m: Mapped[float | None] = mapped_column(sa.Float)
    area_km2: Mapped[float] = mapped_column(sa.Float)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=WGS84, spatial_index=True),
                         nullable=False)
