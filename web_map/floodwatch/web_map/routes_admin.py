"""Administration: subscriptions, behind ``Authorization: Bearer <admin_token>``, over the
warnings component's subscription rules (``floodwatch.warnings.subscriptions``, the same as
``floodwatch subscribe``).

No token configured: the endpoints answer 404, as if they did not exist. No or malformed
credentials: 401; a wrong token: 403. Tokens are compared in constant time."""

from __future__ import annotations

import hmac
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from floodwatch.core.db import transaction
from floodwatch.core.errors import InputError, NotFoundError
from floodwatch.warnings.subscriptions import (
    SubscriptionView,
    add_subscription,
    list_subscriptions,
    remove_subscription,
)
from floodwatch.web_map.context import Ctx
from floodwatch.web_map.httpcache import NO_STORE, Body, conditional
from floodwatch.web_map.payloads import iso, json_bytes

#: How many wards one subscription may name.
MAX_AREAS = 200

_bearer = HTTPBearer(auto_error=False, description="the server's admin token "
                                                   "(FLOODWATCH_ADMIN_TOKEN)")


def require_admin(ctx: Ctx, credentials: Annotated[HTTPAuthorizationCredentials | None,
                                                   Depends(_bearer)]) -> None:
    token = ctx.settings.admin_token
    if token is None:
        raise HTTPException(404, "Not Found")
    if credentials is None:
        raise HTTPException(401, "admin endpoints need Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": 'Bearer realm="floodwatch admin"'})
    given = credentials.credentials.encode("utf-8")
    if not hmac.compare_digest(given, token.get_secret_value().encode("utf-8")):
        raise HTTPException(403, "wrong admin token")


router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(require_admin)])
SubscriptionId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


class SubscriptionIn(BaseModel):
    """A new subscription: who, how, in which language, from which level, for which wards."""

    model_config = ConfigDict(extra="forbid")

    channel: Literal["email", "sms", "webhook"]
    address: str = Field(min_length=1, max_length=500,
                         description="e-mail address, phone number (E.164 or Vietnamese) "
                                     "or https URL")
    language: Literal["vi", "en"] = "vi"
    min_level: int = Field(1, ge=1, le=5, description="alerts from this risk level")
    areas: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=MAX_AREAS, description="wards, by code or name")
    label: str | None = Field(None, max_length=200)


def document(view: SubscriptionView) -> dict[str, Any]:
    return {"id": view.id, "channel": view.channel, "address": view.address,
            "language": view.language, "min_level": view.min_level, "label": view.label,
            "active": view.active, "created_at": iso(view.created_at),
            "areas": [{"code": code, "name": name} for code, name in view.areas]}


def _json(request: Request, body: Any, status_code: int = 200,
          headers: dict[str, str] | None = None) -> Response:
    return conditional(request, Body.of(json_bytes(body), "application/json"),
                       cache_control=NO_STORE, status_code=status_code, headers=headers)


@router.get("/subscriptions", summary="The subscriptions, with their wards")
def subscriptions(request: Request, ctx: Ctx, include_inactive: Annotated[bool, Query(
        description="also the removed ones")] = False) -> Response:
    with transaction(ctx.engine) as session:
        views = list_subscriptions(session, include_inactive=include_inactive)
    return _json(request, {"subscriptions": [document(v) for v in views]})


@router.get("/subscriptions/{subscription_id}", summary="One subscription")
def subscription(request: Request, ctx: Ctx, subscription_id: SubscriptionId) -> Response:
    with transaction(ctx.engine) as session:
        found = [v for v in list_subscriptions(session, include_inactive=True)
                 if v.id == subscription_id]
    if not found:
        raise NotFoundError(f"no subscription {subscription_id}")
    return _json(request, document(found[0]))


@router.post("/subscriptions", status_code=201, summary="Subscribe an address to wards",
             responses={400: {"description": "bad address, unknown ward, or that address "
                                             "is subscribed already"}})
def subscribe(request: Request, ctx: Ctx, body: SubscriptionIn) -> Response:
    try:
        with transaction(ctx.engine) as session:
            view = add_subscription(session, region=ctx.region, wards=body.areas,
                                    channel=body.channel, address=body.address,
                                    language=body.language, min_level=body.min_level,
                                    label=body.label, level=ctx.ward_level)
    except NotFoundError as exc:  # a ward the body names does not exist: the body is wrong
        raise InputError(str(exc)) from None
    return _json(request, document(view), 201,
                 {"Location": f"/api/admin/subscriptions/{view.id}"})


@router.delete("/subscriptions/{subscription_id}", status_code=204,
               summary="Stop a subscription (its undelivered notifications are dropped)",
               description="Kept, inactive, with its delivery history; `purge=true` deletes "
                           "both.")
def unsubscribe(ctx: Ctx, subscription_id: SubscriptionId, purge: Annotated[bool, Query(
        description="also delete its delivery history")] = False) -> Response:
    with transaction(ctx.engine) as session:
        remove_subscription(session, subscription_id, purge=purge)
    return Response(status_code=204, headers={"Cache-Control": NO_STORE})
