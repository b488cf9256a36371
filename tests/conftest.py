"""Shared fixtures: a fresh store on each backend (SpatiaLite file, PostGIS database)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from floodwatch.core import migrate
from floodwatch.core.db import make_engine

FIXTURES = Path(__file__).parent / "fixtures"
BACKENDS = ["spatialite", "postgis"]


def _postgis_admin_url() -> str:
    url = os.environ.get("FLOODWATCH_TEST_DATABASE_URL")
    if not url:
        pytest.fail("FLOODWATCH_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, "
                    "which sets up PostgreSQL + PostGIS, or point it at a server of yours")
    return url


@pytest.fixture(scope="session")
def postgis_admin() -> Iterator[Engine]:
    engine = sa.create_engine(_postgis_admin_url(), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def _new_postgis_db(admin: Engine) -> str:
    name = f"fwtest_{uuid.uuid4().hex[:12]}"
    template = os.environ.get("FLOODWATCH_TEST_TEMPLATE")
    with admin.connect() as conn:
        if template:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(admin.url).set(database=name)
    if not template:
        with sa.create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
    return url.render_as_string(hide_password=False)


def _drop_postgis_db(admin: Engine, url: str) -> None:
    name = make_url(url).database
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty store (no schema) on each backend."""
    if request.param == "spatialite":
        yield f"sqlite:///{tmp_path / 'floodwatch.sqlite'}"
        return
    admin = request.getfixturevalue("postgis_admin")
    url = _new_postgis_db(admin)
    try:
        yield url
    finally:
        _drop_postgis_db(admin, url)


@pytest.fixture
def empty_engine(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(empty_engine: Engine) -> Engine:
    """A store migrated to head, on each backend."""
    migrate.upgrade(empty_engine)
    return empty_engine
