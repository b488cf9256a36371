"""The store: one SQLAlchemy engine over SQLite + SpatiaLite (embedded default) or
PostgreSQL + PostGIS (production), and the column types that behave the same on both."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from floodwatch.core.errors import ConfigError, StoreUnavailableError
from floodwatch.core.timeutil import as_utc


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC instant on both backends.

    PostgreSQL keeps ``timestamptz``; SQLite keeps the naive UTC wall time. Values come back as
    aware UTC datetimes either way: this is the one place where time zones are normalised.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: floodwatch stores aware UTC instants only")
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def masked(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<malformed database URL>"


def _bind_bundled_geo_libraries() -> None:
    """Load the GEOS/PROJ/GDAL copies bundled in the shapely, pyproj, pyogrio and rasterio
    wheels before SpatiaLite.

    SQLite loads extensions with ``RTLD_GLOBAL``, so mod_spatialite puts the system's libproj
    and libgeos symbols in the global scope; a wheel's library loaded after that binds to them
    instead of its own copy and crashes (seen: rasterio's CRS segfaults). Python loads extension
    modules with ``RTLD_NOW``, so importing these first binds every symbol to the right copy.
    """
    import pyogrio  # noqa: F401
    import pyproj  # noqa: F401
    import rasterio  # noqa: F401
    import shapely  # noqa: F401


def _sqlite_engine(url: sa.URL, echo: bool) -> Engine:
    from geoalchemy2.admin.dialects.sqlite import load_spatialite

    _bind_bundled_geo_libraries()

    try:
        import pysqlite3.dbapi2 as dbapi  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - platforms without the wheel
        import sqlite3 as dbapi

    os.environ.setdefault("SPATIALITE_LIBRARY_PATH", "mod_spatialite")
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url.set(drivername="sqlite+pysqlite"),
        module=dbapi,
        echo=echo,
        connect_args={"timeout": 30},
    )
    on_connect = functools.partial(load_spatialite, init_mode="WGS84")

    def _connect(dbapi_conn: Any, record: Any) -> None:
        # pysqlite's own transaction handling fights with DDL; SQLAlchemy emits BEGIN itself.
        dbapi_conn.isolation_level = None
        on_connect(dbapi_conn, record)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    sa.event.listen(engine, "connect", _connect)
    sa.event.listen(engine, "begin", _begin)
    return engine


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for a SQLAlchemy URL; SpatiaLite is loaded on every SQLite connection."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError(f"not a database URL: {masked(url)}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, echo)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(parsed, echo=echo, pool_pre_ping=True)
    raise ConfigError(
        f"unsupported database {masked(url)}: use sqlite:///FILE or postgresql+psycopg://…"
    )


def check_reachable(engine: Engine) -> None:
    """Raise StoreUnavailableError with one clear line when the database cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        url = engine.url.render_as_string(hide_password=True)
        raise StoreUnavailableError(f"cannot reach the database at {url}: {reason}") from exc


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One session in one transaction: committed on success, rolled back on any error."""
    with session_factory(engine).begin() as session:
        yield session
