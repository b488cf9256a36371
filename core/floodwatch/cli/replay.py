"""``floodwatch replay run SERIES``: a recorded event through the whole chain, hour by hour —
model cycle, alerts, CAP documents, queued notifications — and the alert timeline it gave."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import typer

from floodwatch.cli.context import ctx_of
from floodwatch.cli.progress import progress
from floodwatch.core.db import check_reachable
from floodwatch.core.errors import InputError
from floodwatch.core.timeutil import parse_instant
from floodwatch.gis_data.models import Area, Reading, Station
from floodwatch.gis_data.region import find_series
from floodwatch.hydro.settings import HydroSettings
from floodwatch.warnings import rules
from floodwatch.warnings.ruleset import load_ruleset
from floodwatch.warnings.settings import WarningsSettings
from floodwatch.warnings.tables import AlertTransition, Notification
from floodwatch.warnings.user_thresholds import public_only


def run(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="a recorded series, e.g. hue-2025-11")],
    every_hours: Annotated[float, typer.Option(help="hours between steps")] = 1.0,
    since: Annotated[str | None, typer.Option(help="first step (default: series start)")] = None,
    until: Annotated[str | None, typer.Option(help="last step (default: series end)")] = None,
) -> None:
    """Replay a recorded event through the cycle and the alerts, and print the timeline.

    CAP documents of a replay carry status "Exercise". Notifications are queued for the
    store's subscribers like live ones (the dispatcher sends them): replay into a demo store.
    """
    from floodwatch.cli.chain import hours, publish_snapshot, series_span, step  # the model
    from floodwatch.hydro.backfill import load_series

    c = ctx_of(ctx)
    check_reachable(c.engine)
    if every_hours <= 0:
        raise InputError("--every-hours must be positive")
    definition, _ = find_series(name)
    region, tz = definition.name, ZoneInfo(definition.timezone)
    load_series(c.engine, name)
    codes = _river_gauges(c.engine, region)
    first, last = series_span(c.engine, codes)
    if first is None:
        raise InputError(f"{name} has no river-gauge readings")
    start = parse_instant(since, "--since") if since else first
    end = parse_instant(until, "--until") if until else last
    if end < start:
        raise InputError(f"--until {end:%Y-%m-%d %H:%M} is before the start "
                         f"{start:%Y-%m-%d %H:%M} UTC")
    settings, warnings = HydroSettings(), WarningsSettings()
    if not c.debug:  # one progress line every few seconds, not one log line per cycle
        logging.getLogger("floodwatch.hydro.cycle").setLevel(logging.WARNING)
    steps = list(hours(start, end, timedelta(hours=every_hours)))
    began, queued, cycle_s = time.perf_counter(), 0, 0.0
    last_result = None
    with progress(f"replaying {name}") as tick:
        for done, at in enumerate(steps, 1):
            result = step(c.engine, c.store, warnings, settings.cycle, region, at, exercise=True,
                          snapshot=False)
            queued += result.notifications
            cycle_s += result.cycle.timing_s.get("total", 0.0)
            last_result = result.cycle
            tick(done, len(steps))
    if last_result is not None:
        publish_snapshot(c.engine, c.store, last_result)
    elapsed = time.perf_counter() - began
    typer.echo(f"replay {name}: {len(steps)} steps every {every_hours:g} h from "
               f"{_local(start, tz)} to {_local(end, tz)} ({definition.timezone}); "
               f"{elapsed:.0f} s ({cycle_s / max(len(steps), 1):.2f} s per model cycle)")
    _print_crossings(c.engine, region, codes, start, end, tz)
    transitions = _print_timeline(c.engine, region, start, end, tz)
    with c.engine.connect() as conn:
        notes = conn.scalar(sa.select(sa.func.count()).select_from(Notification)
                            .join(AlertTransition,
                                  AlertTransition.id == Notification.transition_id)
                            .where(AlertTransition.at >= start, AlertTransition.at <= end))
    typer.echo(f"{transitions} alert transitions → {transitions} CAP documents in "
               f"{c.store.publish_path / 'cap'}; {notes} notifications queued "
               f"({queued} new in this run)")


def _river_gauges(engine: sa.Engine, region: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(sa.select(Station.code).where(
            Station.region == region, Station.kind == "river_gauge").order_by(Station.code)))


def _local(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%d/%m %H:%M")


def _print_crossings(engine: sa.Engine, region: str, codes: list[str], start: datetime,
                     end: datetime, tz: ZoneInfo) -> None:
    """Each gauge's BĐ crossings in the series (the first hour at or above / below)."""
    ruleset = load_ruleset(region)
    typer.echo("\nBĐ crossings in the series (local time):")
    for code in codes:
        gauge = ruleset.gauges.get(code)
        if gauge is None:
            continue
        with engine.connect() as conn:
            series = [(t, v) for t, v in conn.execute(
                sa.select(Reading.observed_at, Reading.value)
                .join(Station, Station.id == Reading.station_id)
                .where(Station.code == code, Reading.parameter == "water_level",
                       Reading.observed_at >= start, Reading.observed_at <= end,
                       Reading.value.is_not(None))
                .order_by(Reading.observed_at)) if v is not None]
        peak = max(series, key=lambda x: x[1], default=None)
        for k, bd in enumerate(gauge.alarms_m):
            if bd is None:
                continue
            found = rules.crossings(series, bd)
            text = ", ".join(f"{'↑' if x.direction == 'up' else '↓'} {_local(x.at, tz)}"
                             for x in found) or "not crossed"
            typer.echo(f"  {gauge.name:<10} {rules.BD_NAMES[k]:<6} {bd:4.2f} m  {text}")
        if peak is not None:
            typer.echo(f"  {gauge.name:<10} peak   {peak[1]:4.2f} m  at {_local(peak[0], tz)}")


def _print_timeline(engine: sa.Engine, region: str, start: datetime, end: datetime,
                    tz: ZoneInfo) -> int:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(Area.name_vi, AlertTransition.hazard, AlertTransition.kind,
                      AlertTransition.level, AlertTransition.at, AlertTransition.evidence)
            .join(Area, Area.id == AlertTransition.area_id)
            .where(Area.region == region, AlertTransition.at >= start,
                   AlertTransition.at <= end, public_only(AlertTransition.hazard))
            .order_by(Area.name_vi, AlertTransition.hazard, AlertTransition.at)).all()
    by_ward: dict[tuple[str, str], list[sa.Row]] = defaultdict(list)
    for r in rows:
        by_ward[(r.name_vi, r.hazard)].append(r)
    typer.echo("\nAlert timeline per ward (local time; L = risk level, BĐ III = update at the "
               "same level):")
    typer.echo(f"  {'ward':<16} {'hazard':<13} {'start':<11} {'peak':<4} {'end':<11} changes")
    for (ward, hazard), items in sorted(by_ward.items()):
        peak = max(r.level for r in items)
        starts = [r.at for r in items if r.kind == "alert"]
        ends = [r.at for r in items if r.kind == "cancel"]
        end_text = _local(ends[-1], tz) if ends and items[-1].kind == "cancel" else "in force"
        changes = " · ".join(_change(r, tz) for r in items)
        typer.echo(f"  {ward:<16} {hazard:<13} {_local(starts[0], tz) if starts else '—':<11} "
                   f"L{peak:<3} {end_text:<11} {changes}")
    return len(rows)


def _change(r: sa.Row, tz: ZoneInfo) -> str:
    when = r.at.astimezone(tz).strftime("%d %H:%M")
    if r.kind == "cancel":
        return f"end {when}"
    lifecycle = (r.evidence or {}).get("lifecycle", {})
    if lifecycle.get("rule") == "stage":  # a gauge passed the next BĐ level, same risk level
        stage = max((g.get("bd_status", 0) for g in (r.evidence or {}).get("gauges", [])),
                    default=0)
        return f"{rules.BD_NAMES[stage - 1] if stage else 'stage'} {when}"
    return f"L{r.level} {when}"

