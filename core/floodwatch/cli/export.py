"""``floodwatch export …``: a region's history as files for analysis — tables as CSV or
(Geo)Parquet, gauge series and depth rasters as CF NetCDF — each written atomically. The
history modules (pandas, pyarrow, xarray) are imported by the commands, not at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from floodwatch.cli.context import CliContext, ctx_of
from floodwatch.core.db import check_reachable
from floodwatch.core.errors import InputError

app = typer.Typer(help="Export history: readings, gauge events, model results, alerts, "
                       "notifications, depth rasters (CSV, Parquet, NetCDF).",
                  no_args_is_help=True)

Opt = typer.Option
Region = Annotated[str | None, Opt(help="a loaded region, e.g. hue  [required]")]
Out = Annotated[Path | None, Opt(help="the file to write (replaced atomically)  [required]")]
Since = Annotated[str | None, Opt(help="from this time, ISO 8601 (UTC unless an offset is "
                                       "given, e.g. 2025-11-16T12:00Z)")]
Until = Annotated[str | None, Opt(help="to this time, inclusive")]
Format = Annotated[str | None, Opt("--format", help="csv, parquet or netcdf (default: from the "
                                                    "suffix of --out)")]
TABLES = ("csv", "parquet")


def _target(out: Path | None, fmt: str | None, allowed: tuple[str, ...]) -> tuple[Path, str]:
    """The file and its format, checked before any work (required options are checked here,
    not by the parser, so that a missing one is a clear InputError: exit code 2)."""
    from floodwatch.web_map import export

    if out is None:
        raise InputError("--out: name the file to write")
    chosen = export.format_for(out, fmt, allowed)
    if not out.parent.is_dir():
        raise InputError(f"--out: {out.parent} is not a directory")
    return out, chosen


def _region(region: str | None) -> str:
    if not region:
        raise InputError("--region: name a loaded region, e.g. --region hue")
    return region


def _store(ctx: typer.Context) -> CliContext:
    c = ctx_of(ctx)
    check_reachable(c.engine)
    return c


def _wrote(what: str, out: Path) -> None:
    typer.echo(f"wrote {what} to {out}")


@app.command()
def readings(
    ctx: typer.Context, region: Region = None, out: Out = None, since: Since = None,
    until: Until = None, fmt: Format = None,
    station: Annotated[list[str] | None, Opt(
        help="a station code (repeat it; default: every station of the region)")] = None,
    parameter: Annotated[str, Opt(help="water_level, rainfall, discharge, reservoir_level …")
                         ] = "water_level",
    resample: Annotated[str | None, Opt(help="bin the readings, e.g. 1h (rain summed, levels "
                                             "averaged)")] = None,
    exclude_flagged: Annotated[bool, Opt(help="leave out readings QC kept from the alerts")
                               ] = False,
) -> None:
    """Readings of one parameter: a long table, or a CF NetCDF over station × time."""
    from floodwatch.web_map import export, history

    out, chosen = _target(out, fmt, ("csv", "parquet", "netcdf"))
    region, c = _region(region), _store(ctx)
    gauges = history.stations(c.engine, region)
    codes = station or list(gauges["code"])
    if foreign := sorted(set(codes) - set(gauges["code"])):
        raise InputError(f"--station: {', '.join(foreign)} not in region {region}")
    frame = history.readings(c.engine, codes, since, until, parameter=parameter,
                             resample=resample, include_flagged=not exclude_flagged)
    if chosen == "netcdf":
        how = None if not resample else "sum" if parameter in history.SUMMED else "mean"
        dataset = export.readings_dataset(frame, gauges, cell_method=how)
        export.write_netcdf(dataset, out, export.READINGS_ENCODING)
    else:
        export.write_table(frame, out, chosen)
    _wrote(f"{len(frame)} readings", out)


@app.command()
def events(ctx: typer.Context, region: Region = None, out: Out = None, since: Since = None,
           until: Until = None, fmt: Format = None) -> None:
    """Periods above each alarm level (BĐ I–III) at each river gauge."""
    from floodwatch.web_map import export, history_events

    out, chosen = _target(out, fmt, TABLES)
    region, c = _region(region), _store(ctx)
    frame = history_events.events(c.engine, region, since, until)
    export.write_table(frame, out, chosen)
    _wrote(f"{len(frame)} periods above alarm levels", out)


@app.command()
def results(ctx: typer.Context, region: Region = None, out: Out = None, since: Since = None,
            until: Until = None, fmt: Format = None,
            level: Annotated[str, Opt(help="the areas' level")] = "ward") -> None:
    """The model's figures per area and run (Parquet: a GeoParquet layer with the shapes)."""
    from floodwatch.web_map import export, history_runs

    out, chosen = _target(out, fmt, TABLES)
    region, c = _region(region), _store(ctx)
    frame = history_runs.ward_results(c.engine, region, since, until, level,
                                      geometry=chosen == "parquet")
    export.write_table(frame, out, chosen)
    _wrote(f"{len(frame)} area results", out)


@app.command()
def alerts(ctx: typer.Context, region: Region = None, out: Out = None, since: Since = None,
           until: Until = None, fmt: Format = None,
           hazard: Annotated[str | None, Opt(help="one hazard, e.g. river_flood")] = None,
           periods: Annotated[bool, Opt("--periods", help="the time at each level per area "
                                                          "instead of the transitions")] = False,
           ) -> None:
    """Alert transitions per area with their reasons, or the periods at each level."""
    from floodwatch.web_map import export, history_events

    out, chosen = _target(out, fmt, TABLES)
    region, c = _region(region), _store(ctx)
    read = history_events.alert_periods if periods else history_events.alerts
    frame = read(c.engine, region, since, until, hazard=hazard)
    export.write_table(frame, out, chosen)
    _wrote(f"{len(frame)} alert {'periods' if periods else 'transitions'}", out)


@app.command()
def notifications(ctx: typer.Context, out: Out = None, since: Since = None,
                  until: Until = None, fmt: Format = None,
                  region: Annotated[str | None, Opt(help="only this region's areas")] = None,
                  status: Annotated[str | None, Opt(help="pending, sending, sent, dead or "
                                                         "in_doubt")] = None) -> None:
    """The notifications of the alert changes in the window, addresses masked."""
    from floodwatch.web_map import export, history_events

    out, chosen = _target(out, fmt, TABLES)
    c = _store(ctx)
    frame = history_events.notifications(c.engine, since, until, status=status)
    if region is not None:
        frame = frame[frame["region"] == region]
    export.write_table(frame, out, chosen)
    _wrote(f"{len(frame)} notifications", out)


@app.command()
def depth(ctx: typer.Context, region: Region = None, out: Out = None, since: Since = None,
          until: Until = None, fmt: Format = None) -> None:
    """The flood depth rasters of the window's runs as one CF NetCDF (time × y × x)."""
    from floodwatch.web_map import export, history_runs

    out, _ = _target(out, fmt, ("netcdf",))
    region, c = _region(region), _store(ctx)
    dataset = export.depth_dataset(history_runs.depth_stack(c.engine, region, since, until))
    export.write_netcdf(dataset, out, export.depth_encoding(dataset))
    _wrote(f"{dataset.sizes['time']} depth rasters", out)


@app.command()
def areas(ctx: typer.Context, region: Region = None, out: Out = None, fmt: Format = None,
          level: Annotated[str, Opt(help="the areas' level")] = "ward") -> None:
    """The region's areas of one level (Parquet: GeoParquet; CSV: geometry as WKT)."""
    from floodwatch.web_map import export, history

    out, chosen = _target(out, fmt, TABLES)
    region, c = _region(region), _store(ctx)
    frame = history.areas(c.engine, region, level)
    export.write_table(frame, out, chosen)
    _wrote(f"{len(frame)} areas", out)
