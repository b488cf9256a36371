"""``floodwatch subscribe …``: who gets alerts for which wards, and how; ``subscribe threshold
…``: a subscriber's own levels on a river gauge."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from floodwatch.cli.context import ctx_of
from floodwatch.core.db import check_reachable, transaction

if TYPE_CHECKING:
    from floodwatch.warnings.subscriptions import SubscriptionView, ThresholdView

app = typer.Typer(help="Subscriptions to ward alerts by e-mail, SMS or webhook.",
                  no_args_is_help=True)

Opt = typer.Option


def _describe(view: SubscriptionView) -> str:
    wards = ", ".join(f"{name} ({code})" for code, name in view.areas)
    return (f"subscription {view.id}: {view.channel} {view.address} ({view.language}, from "
            f"level {view.min_level}) for {wards}")


@app.command()
def add(
    ctx: typer.Context,
    region: Annotated[str, Opt(help="the region, e.g. hue")],
    ward: Annotated[list[str], Opt(help="a ward's code or name; repeat for several")],
    channel: Annotated[str, Opt(help="email, sms or webhook")],
    address: Annotated[str, Opt(help="e-mail address, phone number (E.164 or Vietnamese) or "
                                     "https URL")],
    lang: Annotated[str, Opt(help="vi or en")] = "vi",
    min_level: Annotated[int, Opt(help="the lowest risk level to be told about, 1-5")] = 1,
    label: Annotated[str | None, Opt(help="a note, e.g. whose it is")] = None,
    level: Annotated[str, Opt(help="the level of the areas named by --ward")] = "ward",
) -> None:
    """Subscribe an address to alerts for one or more wards."""
    from floodwatch.warnings.settings import WarningsSettings
    from floodwatch.warnings.subscriptions import add_subscription

    c = ctx_of(ctx)
    settings = WarningsSettings()
    check_reachable(c.engine)
    with transaction(c.engine) as session:
        view = add_subscription(session, region=region, wards=ward, channel=channel,
                                address=address, language=lang, min_level=min_level,
                                label=label, level=level,
                                allow_insecure_loopback=settings.allow_loopback_webhooks)
    typer.echo(_describe(view))


@app.command("list")
def list_(
    ctx: typer.Context,
    show_all: Annotated[bool, Opt("--all", help="include removed subscriptions")] = False,
    as_json: Annotated[bool, Opt("--json", help="print JSON")] = False,
) -> None:
    """The subscriptions, with their wards."""
    from floodwatch.warnings.subscriptions import list_subscriptions

    c = ctx_of(ctx)
    check_reachable(c.engine)
    with transaction(c.engine) as session:
        views = list_subscriptions(session, include_inactive=show_all)
    if as_json:
        rows = [{"id": v.id, "channel": v.channel, "address": v.address,
                 "language": v.language, "min_level": v.min_level, "label": v.label,
                 "active": v.active, "created_at": v.created_at.isoformat(),
                 "areas": [{"code": code, "name": name} for code, name in v.areas]}
                for v in views]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if not views:
        typer.echo("no subscriptions")
        return
    table = Table("id", "channel", "address", "lang", "from level", "wards", "label", "active")
    for v in views:
        table.add_row(str(v.id), v.channel, v.address, v.language, str(v.min_level),
                      ", ".join(f"{name} ({code})" for code, name in v.areas), v.label or "",
                      "yes" if v.active else "no")
    Console(highlight=False, markup=False, width=200).print(table)


@app.command()
def remove(
    ctx: typer.Context,
    subscription_id: Annotated[int, typer.Argument(metavar="ID", help="from `subscribe list`")],
    purge: Annotated[bool, Opt(help="also delete its delivery history")] = False,
) -> None:
    """Stop a subscription (its undelivered notifications are dropped)."""
    from floodwatch.warnings.subscriptions import remove_subscription

    c = ctx_of(ctx)
    check_reachable(c.engine)
    with transaction(c.engine) as session:
        view = remove_subscription(session, subscription_id, purge=purge)
    typer.echo(("purged " if purge else "removed ") + _describe(view))


threshold_app = typer.Typer(
    help="A subscriber's own levels on a river gauge: a message when the river reaches one, and "
         "when it is back.", no_args_is_help=True)
app.add_typer(threshold_app, name="threshold")


def _describe_threshold(view: ThresholdView) -> str:
    note = f" ({view.label})" if view.label else ""
    return (f"threshold {view.id}: {view.station_name} ({view.station_code}) {view.direction} "
            f"{view.level_m:.2f} m for subscription {view.subscription_id}{note}")


@threshold_app.command("add")
def threshold_add(
    ctx: typer.Context,
    subscription_id: Annotated[int, typer.Argument(metavar="SUB_ID",
                                                   help="from `subscribe list`")],
    station: Annotated[str, Opt(help="the gauge's code or name, e.g. 71520 or \"Kim Long\"")],
    level: Annotated[float, Opt(help="the level in metres, on the gauge's datum")],
    direction: Annotated[str, Opt(help="above: tell me when the river reaches it; below: when "
                                       "it falls below it")] = "above",
    label: Annotated[str | None, Opt(help="a note, e.g. \"our yard floods\"")] = None,
) -> None:
    """Tell a subscriber when a gauge reaches their own level (and when it is back)."""
    from floodwatch.warnings.subscriptions import add_threshold

    c = ctx_of(ctx)
    check_reachable(c.engine)
    with transaction(c.engine) as session:
        view = add_threshold(session, subscription_id, station=station, level_m=level,
                             direction=direction, label=label)
    typer.echo(_describe_threshold(view))


@threshold_app.command("list")
def threshold_list(
    ctx: typer.Context,
    subscription_id: Annotated[int | None, typer.Argument(
        metavar="[SUB_ID]", help="only this subscription's")] = None,
    show_all: Annotated[bool, Opt("--all", help="include removed thresholds")] = False,
    as_json: Annotated[bool, Opt("--json", help="print JSON")] = False,
) -> None:
    """The thresholds, of one subscription or of all."""
    from floodwatch.warnings.subscriptions import list_thresholds

    c = ctx_of(ctx)
    check_reachable(c.engine)
    with transaction(c.engine) as session:
        views = list_thresholds(session, subscription_id, include_inactive=show_all)
    if as_json:
        rows = [{"id": v.id, "subscription_id": v.subscription_id,
                 "station": {"code": v.station_code, "name": v.station_name},
                 "level_m": v.level_m, "direction": v.direction, "label": v.label,
                 "active": v.active, "created_at": v.created_at.isoformat()} for v in views]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if not views:
        typer.echo("no thresholds")
        return
    table = Table("id", "subscription", "station", "level", "label", "active")
    for v in views:
        table.add_row(str(v.id), str(v.subscription_id), f"{v.station_name} ({v.station_code})",
                      f"{v.direction} {v.level_m:.2f} m", v.label or "",
                      "yes" if v.active else "no")
    Console(highlight=False, width=200).print(table)


@threshold_app.command("remove")
def threshold_remove(
    ctx: typer.Context,
    threshold_id: Annotated[int, typer.Argument(metavar="ID",
                                                help="from `subscribe threshold list`")],
) -> None:
    """Stop a threshold (an alert of it in force ends without a message)."""
    from floodwatch.warnings.subscriptions import remove_threshold

    c = ctx_of(ctx)
    check_reachable(c.engine)
    with transaction(c.engine) as session:
        view = remove_threshold(session, threshold_id)
    typer.echo("removed " + _describe_threshold(view))
