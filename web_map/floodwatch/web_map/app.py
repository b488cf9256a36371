"""The web app: ``create_app`` builds a FastAPI app over the store, a thin layer over ``state``
and the queries. The public side is read-only; administration needs a bearer token.

Errors are one table (:data:`HTTP_STATUS`) from domain errors to HTTP codes, and every error is
JSON ``{"error": "...", "message": "..."}``: bad parameters are 4xx with a clear message, never a
traceback. Nothing the page or the docs load comes from another host (see :data:`csp`).
"""

from __future__ import annotations

import http
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware, IdentityResponder
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from floodwatch.core.db import make_engine
from floodwatch.core.errors import (
    ConfigError,
    FloodwatchError,
    InputError,
    NotFoundError,
    StoreUnavailableError,
)
from floodwatch.core.settings import StoreSettings
from floodwatch.hydro.settings import FeedConfig
from floodwatch.web_map import routes_admin, routes_files, routes_public, routes_readings
from floodwatch.web_map.assets import VENDOR_DIR
from floodwatch.web_map.context import AppContext, WebAppSettings
from floodwatch.web_map.docs_page import docs_html
from floodwatch.web_map.httpcache import NO_STORE, Body, accepts_gzip, conditional, public
from floodwatch.web_map.payloads import json_bytes
from floodwatch.web_map.settings import WebMapSettings

log = logging.getLogger(__name__)

#: The one table from domain errors to HTTP status codes (first match wins).
HTTP_STATUS: dict[type[BaseException], int] = {
    InputError: 400,
    NotFoundError: 404,
    StoreUnavailableError: 503,
    ConfigError: 500,
    FloodwatchError: 500,
}
#: What a client is told of a server-side failure (the detail goes to the log only).
SERVER_MESSAGES = {500: "the server could not answer: the problem is logged",
                   503: "the store cannot be reached: try again shortly"}
#: How long browsers may keep the vendored libraries.
VENDOR_MAX_AGE_S = 3600
MAX_BODY_BYTES = 64 * 1024


def status_for(exc: BaseException) -> int:
    return next((code for kind, code in HTTP_STATUS.items() if isinstance(exc, kind)), 500)


def error_response(status_code: int, message: str, headers: dict[str, str] | None = None
                   ) -> Response:
    name = http.HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    return Response(json_bytes({"error": name, "message": message}), status_code=status_code,
                    media_type="application/json",
                    headers={"Cache-Control": NO_STORE, **(headers or {})})


async def _domain_error(request: Request, exc: Exception) -> Response:
    code = status_for(exc)
    if code >= 500:
        log.error("%s %s: %s", request.method, request.url.path, exc)
    return error_response(code, SERVER_MESSAGES.get(code, str(exc)))


async def _store_error(request: Request, exc: Exception) -> Response:
    log.error("%s %s: store error: %s", request.method, request.url.path, exc)
    return error_response(503, SERVER_MESSAGES[503])


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail), dict(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for error in list(exc.errors())[:5]:
        where = ".".join(str(p) for p in error.get("loc", ())
                         if p not in ("query", "path", "body", "header"))
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where
                     else str(error.get("msg", "invalid")))
    return error_response(400, "; ".join(parts) or "invalid request")


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, SERVER_MESSAGES[500])


def csp(web: WebMapSettings) -> str:
    """Content-Security-Policy: everything from this server; images also from a configured
    tile host. folium's page needs inline script and style."""
    images = "'self' data:"
    if web.tiles is not None and web.tiles.url.startswith(("https://", "http://")):
        parts = urlsplit(web.tiles.url.replace("{s}", "a"))
        images += f" {parts.scheme}://{parts.netloc}"
    return ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
            f"style-src 'self' 'unsafe-inline'; img-src {images}; connect-src 'self'; "
            "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")


class SecurityHeaders:
    """Adds the policy headers to every response (pure ASGI: bodies pass through)."""

    def __init__(self, app: ASGIApp, policy: str) -> None:
        self.app, self.policy = app, policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", self.policy)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
            await send(message)

        await self.app(scope, receive, sending)


class Gzip(GZipMiddleware):
    """Starlette's gzip, which compresses whenever "gzip" appears in Accept-Encoding, even as
    ``gzip;q=0``: here only when the client takes it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not accepts_gzip(
                Headers(scope=scope).get("accept-encoding", "")):
            await IdentityResponder(self.app, self.minimum_size,
                                    exclude_content_types=self.exclude_content_types
                                    )(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class VendorFiles(StaticFiles):
    """The vendored browser libraries, with a Cache-Control header (ETag and Last-Modified
    come from Starlette)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = public(VENDOR_MAX_AGE_S)
        return response


def _version() -> str:
    try:
        return metadata.version("floodwatch")
    except metadata.PackageNotFoundError:
        return "0"


def create_app(store: StoreSettings | None = None, web: WebMapSettings | None = None,
               settings: WebAppSettings | None = None, *, engine: Engine | None = None,
               feeds: Sequence[FeedConfig] = (),
               clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> FastAPI:
    """The app for ``web.region``. Settings not given are read here (this is an entry point);
    an ``engine`` given is the caller's to dispose, one made here is disposed at shutdown.
    ``clock`` is injected for tests and drills; ``feeds`` are the configured feeds (their
    cadence tells stale from fresh)."""
    store = store or StoreSettings()
    web = web or WebMapSettings()
    settings = settings or WebAppSettings()
    owned = engine is None
    engine = engine or make_engine(store.url, echo=store.echo_sql)
    ctx = AppContext(engine=engine, region=web.region, web=web, settings=settings,
                     publish_dir=store.publish_path, feeds=tuple(feeds), clock=clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            engine.dispose()

    app = FastAPI(
        title="floodwatch", version=_version(), lifespan=lifespan,
        description="Flood early warning: wards by risk level, gauges, alerts and CAP feeds. "
                    "Times are UTC ISO 8601; levels follow Decision 18/2021/QĐ-TTg.",
        docs_url=None, redoc_url=None, openapi_url=None, max_body_size=MAX_BODY_BYTES)
    app.state.fw = ctx
    app.add_exception_handler(FloodwatchError, _domain_error)
    for unreachable in (OperationalError, InterfaceError, PoolTimeoutError):
        app.add_exception_handler(unreachable, _store_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
    # the vendored files (our own bodies come gzipped already and pass through)
    app.add_middleware(Gzip, minimum_size=1024, compresslevel=6)
    app.add_middleware(SecurityHeaders, policy=csp(web))
    app.mount("/static/vendor", VendorFiles(directory=VENDOR_DIR), name="vendor")
    for module in (routes_public, routes_readings, routes_files, routes_admin):
        app.include_router(module.router)
    _docs(app, settings)
    return app


def _docs(app: FastAPI, settings: WebAppSettings) -> None:
    kept: dict[str, Body] = {}
    started = datetime.now(UTC)

    def body(key: str) -> Body:
        if key not in kept:
            document = app.openapi()
            kept["openapi"] = Body.of(json_bytes(document), "application/json")
            kept["docs"] = Body.of(docs_html(document).encode("utf-8"),
                                   "text/html; charset=utf-8")
        return kept[key]

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request) -> Response:
        return conditional(request, body("openapi"), cache_control=public(settings.cache_s),
                           last_modified=started)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:  # browsers ask for it; the page has none: no 404 in their log
        return Response(status_code=204, headers={"Cache-Control": public(VENDOR_MAX_AGE_S)})

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> Response:
        return conditional(request, body("docs"), cache_control=public(settings.cache_s),
                           last_modified=started)
