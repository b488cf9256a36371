"""Shared fixtures: a fresh store on each backend (SpatiaLite file, PostGIS database)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Iterator
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


# -- a real HTTP server on loopback, scripted per path ----------------------------------------

import contextlib  # noqa: E402
import threading  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    truncate: bool = False  # announce the full length, send half, close
    etag: str | None = None  # answer 304 when the request carries this ETag


class LoopbackServer:
    """Each path answers with its replies in turn; the last reply repeats."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path
                server.requests.append((path, dict(self.headers.items())))
                replies = server.routes.get(path.split("?")[0]) or [Reply(404, b"not found")]
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                if reply.delay_s:
                    import time

                    time.sleep(reply.delay_s)
                if reply.etag and self.headers.get("If-None-Match") == reply.etag:
                    self.send_response(304)
                    self.send_header("ETag", reply.etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                if reply.etag:
                    self.send_header("ETag", reply.etag)
                self.send_header("Content-Length", str(len(reply.body)))
                if reply.truncate:
                    self.send_header("Connection", "close")
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(reply.body[: len(reply.body) // 2] if reply.truncate
                                     else reply.body)
                if reply.truncate:
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def route(self, path: str, *replies: Reply) -> str:
        self.routes[path] = list(replies)
        return self.url(path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.close()
LoopbackServer.Reply = Reply  # type: ignore[attr-defined]


@pytest.fixture
def add_subscription() -> Callable[..., int]:
    """Subscribe an address to wards (by code) straight in the store; returns its id."""
    from floodwatch.core.db import transaction
    from floodwatch.gis_data.models import Area
    from floodwatch.warnings.tables import Subscription, SubscriptionArea

    def add(engine: Engine, codes: Iterable[str], address: str, *, channel: str = "email",
            language: str = "vi", min_level: int = 1) -> int:
        with transaction(engine) as s:
            sub = Subscription(channel=channel, address=address, language=language,
                               min_level=min_level)
            s.add(sub)
            s.flush()
            for area in s.scalars(sa.select(Area.id).where(Area.code.in_(list(codes)))):
                s.add(SubscriptionArea(subscription_id=sub.id, area_id=area))
            return sub.id

    return add


@pytest.fixture
def hue(engine: Engine) -> Engine:
    """The migrated store with the Huế region and its recorded November 2025 series (the
    web map's tests have their own ``hue``: a whole scenario)."""
    from floodwatch.gis_data.loader import load_region
    from floodwatch.gis_data.region import load_definition
    from floodwatch.hydro.backfill import load_series

    load_region(engine, load_definition("hue"))
    load_series(engine, "hue-2025-11")
    return engine
