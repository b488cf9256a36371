"""``floodwatch feeds …``, ``floodwatch replay …`` and ``floodwatch schedule``."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from floodwatch.cli.context import ctx_of
from floodwatch.cli.progress import progress
from floodwatch.core.db import check_reachable
from floodwatch.core.errors import InputError
from floodwatch.core.timeutil import parse_instant, utcnow

app = typer.Typer(help="Read, pull and watch the health of gauge and rainfall feeds.",
                  no_args_is_help=True)
replay_app = typer.Typer(help="Recorded series: load them, play them as if live, or run them "
                              "through the model cycle and the alerts.",
                         no_args_is_help=True)


@app.command()
def parse(
    file: Annotated[Path, typer.Argument(help="a saved response of the feed")],
    kind: Annotated[str, typer.Option(help="usgs-nwis, waterml2, usgs-waterdata, ea, "
                                           "sensorthings, csv, json")],
    mapping: Annotated[str | None, typer.Option(
        help="csv/json: a column mapping (TOML path or shipped name)")] = None,
    output: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
    station: Annotated[str | None, typer.Option(
        help="sensorthings: the station of a bare Observations page")] = None,
    parameter: Annotated[str | None, typer.Option(
        help="sensorthings: its parameter (water_level, discharge, rainfall …)")] = None,
    unit: Annotated[str | None, typer.Option(help="sensorthings: its unit, e.g. ft, m")] = None,
) -> None:
    """Print the normalised readings of a saved feed response."""
    from floodwatch.hydro.feeds import registry, sensorthings, tabular
    from floodwatch.hydro.feeds.base import Parameter

    if output not in ("csv", "json"):
        raise InputError(f"--format must be csv or json, not {output!r}")
    parser = registry.parser(kind, mapping)
    if station or parameter or unit:
        if kind != "sensorthings":
            raise InputError("--station, --parameter and --unit are for --kind sensorthings")
        if parameter not in (None, *Parameter):
            raise InputError(f"unknown parameter {parameter!r} "
                             f"(parameters: {', '.join(Parameter)})")

        def parser(payload: bytes) -> list:  # type: ignore[misc,type-arg]
            return sensorthings.parse(payload, station=station, unit=unit,
                                      parameter=Parameter(parameter) if parameter else None)
    try:
        payload = file.read_bytes()
    except OSError as exc:
        raise InputError(f"{file}: cannot read it ({exc.strerror})") from exc
    observations = parser(payload)
    if output == "csv":
        sys.stdout.write(tabular.to_csv(observations))
        return
    rows = [{"station": o.station, "parameter": str(o.parameter),
             "observed_at": o.observed_at.isoformat().replace("+00:00", "Z"), "value": o.value,
             "unit": o.unit, "flags": sorted(o.flags), "source": o.source}
            for o in observations]
    typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))


@app.command()
def pull(ctx: typer.Context, name: Annotated[str | None, typer.Argument(
        help="one feed (default: every enabled feed)")] = None) -> None:
    """Pull the configured feeds once."""
    from floodwatch.hydro.pull import pull_all, pull_feed
    from floodwatch.hydro.settings import HydroSettings

    c = ctx_of(ctx)
    settings = HydroSettings()
    check_reachable(c.engine)
    if name:
        results = [pull_feed(c.engine, settings.feed(name))]
    else:
        if not settings.feeds:
            raise InputError("no feeds configured: add [[hydro.feeds]] to the file named by "
                             "FLOODWATCH_CONFIG (see the README)")
        results = pull_all(c.engine, settings.feeds)
    for r in results:
        if r.ok:
            extra = " (not modified)" if r.not_modified else ""
            typer.echo(f"{r.feed}: {r.fetched} readings, {r.added} new or changed, "
                       f"{r.flagged} flagged{extra}")
        else:
            typer.echo(f"{r.feed}: FAILED: {r.error}")
    if not all(r.ok for r in results):
        raise typer.Exit(6)


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Feed health: last attempt and success, newest reading, readings added, last error."""
    from floodwatch.hydro.health import feed_health
    from floodwatch.hydro.settings import HydroSettings

    c = ctx_of(ctx)
    rows = feed_health(c.engine, HydroSettings().feeds, now=utcnow())
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1, default=str))
        return
    if not rows:
        typer.echo("no feeds configured or recorded yet")
        return
    table = Table("feed", "kind", "state", "last attempt", "last success", "newest reading",
                  "added", "total", "last error")
    for r in rows:
        table.add_row(r["name"], r["kind"], r["state"], _t(r["last_attempt_at"]),
                      _t(r["last_success_at"]), _t(r["newest_reading_at"]),
                      str(r["readings_added"]), str(r["readings_total"]),
                      (r["last_error"] or "")[:80])
    Console(highlight=False, markup=False, width=200).print(table)


def _t(value: object) -> str:
    return "" if value is None else str(value)[:16].replace("T", " ")


@app.command()
def backfill(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="a configured feed")],
    since: Annotated[str, typer.Option(help="start, ISO 8601 (UTC unless it has an offset)")],
    until: Annotated[str | None, typer.Option(help="end (default: now)")] = None,
    window_hours: Annotated[float, typer.Option(help="hours per request")] = 24.0,
) -> None:
    """Pull a past period window by window; interrupted, it resumes where it stopped."""
    from floodwatch.hydro.backfill import backfill_feed
    from floodwatch.hydro.settings import HydroSettings

    if window_hours <= 0:
        raise InputError("--window-hours must be positive")
    c = ctx_of(ctx)
    check_reachable(c.engine)
    feed = HydroSettings().feed(name)
    start = parse_instant(since, "--since")
    end = parse_instant(until, "--until") if until else utcnow()
    try:
        with progress(f"backfilling {name}") as report:
            result = backfill_feed(c.engine, feed, since=start, until=end,
                                   step=timedelta(hours=window_hours), progress=report)
    except KeyboardInterrupt:
        typer.echo("interrupted: finished windows are stored; run the same command again to "
                   "resume", err=True)
        raise typer.Exit(130) from None
    typer.echo(f"{name}: {result.parsed} readings, {result.added} new or changed, "
               f"{result.flagged} flagged by QC")


@replay_app.command("load")
def replay_load(ctx: typer.Context, name: Annotated[str, typer.Argument(
        help="a recorded series, e.g. hue-2025-11")]) -> None:
    """Load a recorded series at its real times (idempotent; an interrupted load resumes)."""
    from floodwatch.hydro.backfill import load_series

    c = ctx_of(ctx)
    check_reachable(c.engine)
    try:
        with progress(f"loading {name}") as report:
            result = load_series(c.engine, name, progress=report)
    except KeyboardInterrupt:
        typer.echo(f"interrupted: what was stored stays; run `floodwatch replay load {name}` "
                   "again to resume", err=True)
        raise typer.Exit(130) from None
    typer.echo(f"{name}: {result.parsed} readings, {result.added} new or changed, "
               f"{result.flagged} flagged by QC")


@replay_app.command("play")
def replay_play(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="a recorded series, e.g. hue-2025-11")],
    speed: Annotated[float, typer.Option(help="how many recorded seconds per real second")
                     ] = 60.0,
    tick_s: Annotated[float, typer.Option(help="how often to store what is due")] = 1.0,
) -> None:
    """Play a recorded series as if live, shifted to now (for demos and drills)."""
    from floodwatch.hydro.live_replay import play

    if speed <= 0 or tick_s <= 0:
        raise InputError("--speed and --tick-s must be positive")
    c = ctx_of(ctx)
    check_reachable(c.engine)
    try:
        stored = play(c.engine, name, speed=speed, tick_s=tick_s,
                      report=lambda done, total: typer.echo(f"{done}/{total} readings played"))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    typer.echo(f"{name}: played {stored} readings")


def schedule(ctx: typer.Context) -> None:
    """Run the feeds, then each loaded region's model cycle, alerts, CAP files and published
    map, on their cadence until SIGTERM; one leader across processes."""
    from functools import partial

    import sqlalchemy as sa

    from floodwatch.cli.chain import after_cycle
    from floodwatch.gis_data.models import Region
    from floodwatch.hydro.jobs import scheduler_jobs
    from floodwatch.hydro.scheduler import leader_lock, run
    from floodwatch.hydro.settings import HydroSettings
    from floodwatch.warnings.settings import WarningsSettings

    c = ctx_of(ctx)
    check_reachable(c.engine)
    settings = HydroSettings()
    with c.engine.connect() as conn:
        loaded = set(conn.scalars(sa.select(Region.name)))
    regions = tuple(r for r in settings.cycle.regions if r in loaded)
    for missing in sorted(set(settings.cycle.regions) - loaded):
        typer.echo(f"warning: region {missing} is not loaded: no model cycle for it "
                   f"(floodwatch region load {missing})", err=True)
    settings = settings.model_copy(update={"cycle": settings.cycle.model_copy(
        update={"regions": regions})})
    jobs = scheduler_jobs(c.engine, settings, data_dir=c.store.data_dir,
                          after_cycle=partial(after_cycle, c.engine, c.store, WarningsSettings()))
    if not jobs:
        raise InputError("nothing to schedule: configure [[hydro.feeds]] or load a region "
                         "(see the README)")
    run(jobs, leader_lock(c.engine), misfire_grace_s=settings.misfire_grace_s,
        standby_poll_s=settings.standby_poll_s)


