"""The store's model: one geoalchemy2 metadata that runs unchanged on SpatiaLite and PostGIS.

Geometries are kept in EPSG:4326 (lon/lat); computations use the region's metric CRS.
Later components add their tables to the same ``Base`` through migrations.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from floodwatch.core.db import UTCDateTime
from floodwatch.core.timeutil import utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

WGS84 = 4326


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class StationKind(enum.StrEnum):
    RIVER_GAUGE = "river_gauge"
    RAIN_GAUGE = "rain_gauge"
    RESERVOIR = "reservoir"


class Region(Base):
    """A region floodwatch watches (e.g. ``hue``): its metric CRS and when it was loaded."""

    __tablename__ = "regions"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    metric_crs: Mapped[str] = mapped_column(sa.String(32))
    definition: Mapped[str | None] = mapped_column(sa.String(500))  # where it was loaded from
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    source_hash: Mapped[str] = mapped_column(sa.String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Area(Base):
    """An administrative area at any level (city, district, ward, commune …) with its parent."""

    __tablename__ = "areas"
    __table_args__ = (sa.UniqueConstraint("region", "level", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(
        sa.ForeignKey("regions.name", ondelete="CASCADE"), index=True
    )
    level: Mapped[str] = mapped_column(sa.String(32))
    code: Mapped[str] = mapped_column(sa.String(32))
    name_vi: Mapped[str] = mapped_column(sa.String(200))
    name_ascii: Mapped[str] = mapped_column(sa.String(200))
    parent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("areas.id", ondelete="SET NULL"), index=True
    )
    population: Mapped[int | None]
    population_year: Mapped[int | None]
    population_source: Mapped[str | None] = mapped_column(sa.String(500))
    area_km2: Mapped[float] = mapped_column(sa.Float)
    valid_from: Mapped[date | None]
    valid_to: Mapped[date | None]
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=WGS84, spatial_index=True), nullable=False)
    source_hash: Mapped[str] = mapped_column(sa.String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parent: Mapped[Area | None] = relationship(remote_side=[id])


class River(Base):
    __tablename__ = "rivers"
    __table_args__ = (sa.UniqueConstraint("region", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(sa.ForeignKey("regions.name", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(sa.String(200))  # ASCII slug of the name, unique per region
    name: Mapped[str] = mapped_column(sa.String(200))
    name_ascii: Mapped[str] = mapped_column(sa.String(200))
    rank: Mapped[int | None]
    length_km: Mapped[float] = mapped_column(sa.Float)
    geom = mapped_column(
        Geometry("MULTILINESTRING", srid=WGS84, spatial_index=True), nullable=False
    )
    source_hash: Mapped[str] = mapped_column(sa.String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Station(Base):
    """A river gauge, rain gauge or reservoir, with its official alarm levels (BĐ I–III)."""

    __tablename__ = "stations"
    __table_args__ = (sa.UniqueConstraint("code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str | None] = mapped_column(
        sa.ForeignKey("regions.name", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    name_ascii: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16))
    river_id: Mapped[int | None] = mapped_column(sa.ForeignKey("rivers.id", ondelete="SET NULL"))
    river_name: Mapped[str | None] = mapped_column(sa.String(200))
    alarm1_m: Mapped[float | None] = mapped_column(sa.Float)
    alarm2_m: Mapped[float | None] = mapped_column(sa.Float)
    alarm3_m: Mapped[float | None] = mapped_column(sa.Float)
    alarm_source: Mapped[str | None] = mapped_column(sa.String(500))
    datum: Mapped[str | None] = mapped_column(sa.String(200))
    source: Mapped[str | None] = mapped_column(sa.String(500))
    geom = mapped_column(Geometry("POINT", srid=WGS84, spatial_index=True), nullable=True)
    source_hash: Mapped[str] = mapped_column(sa.String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    river: Mapped[River | None] = relationship()


class Reading(Base):
    """One observed value: station + parameter + time is unique (re-ingesting changes nothing)."""

    __tablename__ = "readings"
    __table_args__ = (
        sa.UniqueConstraint("station_id", "parameter", "observed_at"),
        sa.Index("ix_readings_observed_at", "observed_at"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                                    primary_key=True)
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("stations.id", ondelete="CASCADE"))
    parameter: Mapped[str] = mapped_column(sa.String(32))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    value: Mapped[float | None] = mapped_column(sa.Float)
    unit: Mapped[str] = mapped_column(sa.String(16))
    flags: Mapped[str] = mapped_column(sa.String(200), default="")
    source: Mapped[str] = mapped_column(sa.String(200))
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
