"""Readings into the store: idempotent upserts on station + parameter + time.

Re-ingesting the same observations stores nothing new; a changed value or flag set (a source
revising a provisional value) updates the row. Two paths with the same effect:
``upsert_readings`` (bulk: COPY into a temporary table on PostgreSQL, one executemany on SQLite)
and ``insert_row_by_row`` (the plain baseline the benchmark compares against).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from floodwatch.core.timeutil import utcnow
from floodwatch.gis_data.models import Reading, Station, StationKind
from floodwatch.gis_data.names import ascii_name
from floodwatch.hydro.feeds.base import Observation, Parameter, StationInfo

READINGS: sa.Table = Reading.__table__  # type: ignore[assignment]
STATIONS: sa.Table = Station.__table__  # type: ignore[assignment]
_KIND_BY_PARAMETER = {
    Parameter.RAINFALL: StationKind.RAIN_GAUGE,
    Parameter.RESERVOIR_LEVEL: StationKind.RESERVOIR,
    Parameter.RESERVOIR_INFLOW: StationKind.RESERVOIR,
    Parameter.RESERVOIR_OUTFLOW: StationKind.RESERVOIR,
}


def station_ids(
    conn: Connection, observations: Sequence[Observation],
    known: Mapping[str, StationInfo] | None = None,
) -> dict[str, int]:
    """Ids of the observations' stations; stations the store does not know yet are registered
    (outside any region) from what the source said about them, or from their code alone."""
    codes = {o.station for o in observations}
    rows = conn.execute(sa.select(STATIONS.c.code, STATIONS.c.id)
                        .where(STATIONS.c.code.in_(codes))).all()
    ids: dict[str, int] = {code: id_ for code, id_ in rows}
    for code in sorted(codes - ids.keys()):
        info = (known or {}).get(code)
        parameter = next(o.parameter for o in observations if o.station == code)
        kind = info.kind if info else _KIND_BY_PARAMETER.get(parameter, StationKind.RIVER_GAUGE)
        name = info.name if info and info.name else code
        geom = None
        if info and info.lon is not None and info.lat is not None:
            geom = sa.func.ST_GeomFromText(f"POINT({info.lon} {info.lat})", 4326)
        ids[code] = conn.execute(
            STATIONS.insert().values(
                code=code, name=name, name_ascii=ascii_name(name), kind=str(kind),
                river_name=info.river if info else None, geom=geom,
                source=(info.source if info else None) or next(
                    o.source for o in observations if o.station == code),
                source_hash="", loaded_at=utcnow(),
            ).returning(STATIONS.c.id)
        ).scalar_one()
    return ids


def _rows(observations: Iterable[Observation], ids: Mapping[str, int], now: datetime
          ) -> list[dict[str, Any]]:
    return [
        {"station_id": ids[o.station], "parameter": str(o.parameter), "observed_at": o.observed_at,
         "value": o.value, "unit": o.unit, "flags": o.flags_text, "source": o.source,
         "ingested_at": now}
        for o in observations
    ]


def _changed(target: Any, excluded: Any) -> Any:
    return sa.or_(target.c.value.is_distinct_from(excluded.value),
                  target.c.flags != excluded.flags)


def _upsert_statement(dialect: str) -> Any:
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(READINGS)
    return insert.on_conflict_do_update(
        index_elements=["station_id", "parameter", "observed_at"],
        set_={"value": insert.excluded.value, "flags": insert.excluded.flags,
              "unit": insert.excluded.unit, "source": insert.excluded.source,
              "ingested_at": insert.excluded.ingested_at},
        where=_changed(READINGS, insert.excluded),
    )


def _copy_upsert(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """PostgreSQL: COPY into a temporary table, then one INSERT … ON CONFLICT."""
    raw = conn.connection.driver_connection
    assert raw is not None
    conn.exec_driver_sql(
        "CREATE TEMPORARY TABLE IF NOT EXISTS readings_in (station_id integer, "
        "parameter text, observed_at timestamptz, value double precision, unit text, "
        "flags text, source text, ingested_at timestamptz) ON COMMIT DELETE ROWS"
    )
    conn.exec_driver_sql("TRUNCATE readings_in")
    columns = ("station_id", "parameter", "observed_at", "value", "unit", "flags", "source",
               "ingested_at")
    with raw.cursor() as cur, cur.copy(
            f"COPY readings_in ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(tuple(row[c] for c in columns))
    result = conn.exec_driver_sql(
        f"INSERT INTO readings ({', '.join(columns)}) "
        f"SELECT DISTINCT ON (station_id, parameter, observed_at) {', '.join(columns)} "
        "FROM readings_in "
        "ON CONFLICT (station_id, parameter, observed_at) DO UPDATE SET "
        "value = excluded.value, flags = excluded.flags, unit = excluded.unit, "
        "source = excluded.source, ingested_at = excluded.ingested_at "
        "WHERE readings.value IS DISTINCT FROM excluded.value "
        "OR readings.flags <> excluded.flags"
    )
    return int(result.rowcount)


def upsert_readings(
    engine_or_conn: Engine | Connection, observations: Sequence[Observation], *,
    known_stations: Mapping[str, StationInfo] | None = None, now: datetime | None = None,
) -> int:
    """Store observations; returns how many rows were added or changed (0 on a replay)."""
    if not observations:
        return 0
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.begin() as conn:
            return upsert_readings(conn, observations, known_stations=known_stations, now=now)
    conn = engine_or_conn
    ids = station_ids(conn, observations, known_stations)
    rows = _rows(observations, ids, now or utcnow())
    if conn.dialect.name == "postgresql":
        return _copy_upsert(conn, rows)
    before = conn.connection.driver_connection.total_changes  # type: ignore[union-attr]
    conn.execute(_upsert_statement(conn.dialect.name), rows)
    return int(conn.connection.driver_connection.total_changes - before)  # type: ignore[union-attr]


def insert_row_by_row(engine: Engine, observations: Sequence[Observation]) -> int:
    """The plain baseline: one INSERT … ON CONFLICT statement per reading, one transaction."""
    with engine.begin() as conn:
        ids = station_ids(conn, observations)
        stmt = _upsert_statement(conn.dialect.name).returning(READINGS.c.id)
        added = 0
        for row in _rows(observations, ids, utcnow()):
            added += len(conn.execute(stmt, row).all())
        return added


def latest_by_series(conn: Connection, codes: Iterable[str]
                     ) -> dict[tuple[str, str], tuple[datetime, float | None]]:
    """The newest stored reading of each (station code, parameter): QC's "previous" value."""
    newest = (
        sa.select(READINGS.c.station_id, READINGS.c.parameter,
                  sa.func.max(READINGS.c.observed_at).label("t"))
        .join(STATIONS, STATIONS.c.id == READINGS.c.station_id)
        .where(STATIONS.c.code.in_(list(codes)))
        .group_by(READINGS.c.station_id, READINGS.c.parameter)
        .subquery()
    )
    query = (
        sa.select(STATIONS.c.code, READINGS.c.parameter, READINGS.c.observed_at, READINGS.c.value)
        .join(newest, sa.and_(READINGS.c.station_id == newest.c.station_id,
                              READINGS.c.parameter == newest.c.parameter,
                              READINGS.c.observed_at == newest.c.t))
        .join(STATIONS, STATIONS.c.id == READINGS.c.station_id)
    )
    return {(code, param): (t, value) for code, param, t, value in conn.execute(query)}


