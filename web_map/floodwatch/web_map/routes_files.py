"""CAP files and the Atom index from the publish directory (written by the warnings component),
and the health check. A CAP name is checked against the identifier rule and resolved inside
``<publish>/cap`` only: no path leads anywhere else."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Any

from fastapi import APIRouter
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response

from floodwatch.core.db import check_reachable
from floodwatch.core.errors import InputError, NotFoundError, StoreUnavailableError
from floodwatch.hydro.health import feed_health
from floodwatch.warnings.capfeed import CAP_MEDIA_TYPE, INDEX_NAME, cap_filename
from floodwatch.web_map.context import AppContext, Ctx
from floodwatch.web_map.httpcache import NO_STORE, Body, conditional, public
from floodwatch.web_map.payloads import iso, json_bytes

log = logging.getLogger(__name__)
ATOM_MEDIA_TYPE = "application/atom+xml"
#: Feed states that count as fresh for the health check.
FRESH_STATES = frozenset({"ok"})

router = APIRouter()


def published_file(ctx: AppContext, name: str) -> FilePath:
    """``<publish>/cap/<name>`` if it is a regular file there (symlinks out are refused)."""
    missing = NotFoundError(f"no published CAP file {name!r}")
    try:
        folder = ctx.cap_dir.resolve(strict=True)
        path = (folder / name).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        raise missing from None
    if path.parent != folder or not path.is_file():
        raise missing
    return path


def _file(request: Request, ctx: AppContext, path: FilePath, media_type: str) -> Response:
    try:
        content = path.read_bytes()
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        raise NotFoundError(f"no published CAP file {path.name!r}") from None
    return conditional(request, Body.of(content, media_type),
                       cache_control=public(ctx.settings.cache_s), last_modified=modified)


@router.get("/cap/index.atom", tags=["cap"], summary="Atom index of the current CAP alerts",
            response_class=Response)
def cap_index(request: Request, ctx: Ctx) -> Response:
    return _file(request, ctx, published_file(ctx, INDEX_NAME), ATOM_MEDIA_TYPE)


@router.get("/cap/{identifier}.xml", tags=["cap"], summary="One CAP 1.2 alert",
            response_class=Response)
def cap_alert(request: Request, ctx: Ctx, identifier: str) -> Response:
    try:
        name = cap_filename(identifier)
    except InputError:
        raise NotFoundError(f"no published CAP alert {identifier!r}") from None
    return _file(request, ctx, published_file(ctx, name), CAP_MEDIA_TYPE)


def _feeds(ctx: AppContext, now: datetime) -> list[dict[str, Any]]:
    return [{"name": r["name"], "kind": r["kind"], "state": r["state"],
             "fresh": r["state"] in FRESH_STATES,
             "last_success_at": iso(r["last_success_at"]),
             "newest_reading_at": iso(r["newest_reading_at"]),
             "consecutive_failures": r["consecutive_failures"]}
            for r in feed_health(ctx.engine, ctx.feeds, now=now)]


@router.get("/healthz", tags=["ops"], summary="Store reachable and feeds fresh",
            description="200 when the store answers and every feed is fresh (`ok`); 503 "
                        "otherwise, with the state of each part.")
def healthz(request: Request, ctx: Ctx) -> Response:
    detail: dict[str, Any] = {"store": {"reachable": True}, "feeds": []}
    try:
        check_reachable(ctx.engine)
        now = ctx.now()
        detail["checked_at"] = iso(now)
        detail["feeds"] = _feeds(ctx, now)
    except (StoreUnavailableError, SQLAlchemyError) as exc:
        log.warning("health check: %s", exc)  # the URL and reason stay in the log
        detail["store"] = {"reachable": False, "error": "the store cannot be reached"}
    healthy = detail["store"]["reachable"] and all(f["fresh"] for f in detail["feeds"])
    body = Body.of(json_bytes({"status": "ok" if healthy else "unhealthy", **detail}),
                   "application/json")
    return conditional(request, body, cache_control=NO_STORE, status_code=200 if healthy else 503)
