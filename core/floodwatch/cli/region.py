"""``floodwatch region …``: load and inspect regions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from floodwatch.cli.context import ctx_of
from floodwatch.core.errors import InputError
from floodwatch.gis_data import summary
from floodwatch.gis_data.loader import load_region
from floodwatch.gis_data.region import (
    AreaLayer,
    RegionDefinition,
    StationLayer,
    bundled_regions,
    load_definition,
)

app = typer.Typer(help="Load and inspect regions (areas, rivers, stations).",
                  no_args_is_help=True)

Opt = typer.Option


@app.command()
def load(
    ctx: typer.Context,
    region: Annotated[str | None, typer.Argument(
        help="a bundled region (e.g. hue) or a region.toml path; with --areas/--stations: "
             "the name to load them under")] = None,
    areas: Annotated[Path | None, Opt(help="a vector file of areas (generic loader)")] = None,
    stations: Annotated[Path | None, Opt(help="a vector file of stations (generic loader)")] = None,
    level: Annotated[str, Opt(help="the areas' level, e.g. ward, district")] = "ward",
    code_field: Annotated[str, Opt(help="field holding the official code")] = "code",
    name_field: Annotated[str, Opt(help="field holding the name")] = "name",
    parent_field: Annotated[str | None, Opt(help="field holding the parent's code")] = None,
    parent_level: Annotated[str | None, Opt(help="the parent's level")] = None,
    population_field: Annotated[str | None, Opt(help="field holding the population")] = None,
    population_year: Annotated[int | None, Opt(help="year of the population figures")] = None,
    kind_field: Annotated[str | None, Opt(help="stations: field holding the kind")] = None,
    kind: Annotated[str, Opt(help="stations: kind where there is no kind field")] = "river_gauge",
    alarm_fields: Annotated[str | None, Opt(
        help="stations: three fields holding BĐ I,II,III in metres, comma-separated")] = None,
    crs: Annotated[str | None, Opt(help="the file's CRS where it declares none")] = None,
    metric_crs: Annotated[str | None, Opt(help="metric CRS (default: UTM zone of the data)")
                          ] = None,
    title: Annotated[str | None, Opt(help="the region's title")] = None,
) -> None:
    """Load a region idempotently, in one transaction (a second run changes nothing)."""
    c = ctx_of(ctx)
    if areas is None and stations is None:
        if region is None:
            raise InputError(f"name a region (bundled: {', '.join(bundled_regions())}) "
                             "or give --areas/--stations")
        definition = load_definition(region)
    else:
        if region is None:
            raise InputError("name the region to load the files under, e.g. `region load danang "
                             "--areas wards.gpkg …`")
        if parent_field and not parent_level:
            raise InputError("--parent-field needs --parent-level")
        alarms = tuple(alarm_fields.split(",")) if alarm_fields else None
        if alarms is not None and len(alarms) != 3:
            raise InputError("--alarm-fields takes three comma-separated field names")
        definition = RegionDefinition(
            name=region, title=title or region, metric_crs=metric_crs,
            areas=(AreaLayer(file=areas.resolve(), level=level, code_field=code_field,
                             name_field=name_field, parent_field=parent_field,
                             parent_level=parent_level, population_field=population_field,
                             population_year=population_year, crs=crs),) if areas else (),
            stations=StationLayer(file=stations.resolve(), code_field=code_field,
                                  name_field=name_field, kind_field=kind_field, kind=kind,
                                  alarm_fields=alarms, crs=crs)  # type: ignore[arg-type]
            if stations else None,
            origin="command line",
        )
    report = load_region(c.engine, definition)
    typer.echo(f"region {definition.name}: " + ("loaded" if report.changed else "unchanged"))
    for line in report.lines():
        typer.echo(f"  {line}")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List bundled regions and the regions loaded in the store."""
    c = ctx_of(ctx)
    typer.echo("bundled: " + ", ".join(bundled_regions()))
    typer.echo("loaded:  " + (", ".join(summary.region_names(c.engine)) or "none"))


@app.command()
def show(
    ctx: typer.Context,
    region: Annotated[str, typer.Argument(help="a loaded region, e.g. hue")],
    as_json: Annotated[bool, Opt("--json", help="print JSON for scripts")] = False,
    level: Annotated[str | None, Opt(help="list the areas of this level")] = None,
    areas: Annotated[bool, Opt("--areas", help="list every area")] = False,
) -> None:
    """Areas per level, stations, bounding box and when the region was loaded."""
    c = ctx_of(ctx)
    info = summary.region_summary(c.engine, region)
    rows = summary.area_table(c.engine, region, level) if (areas or level) else []
    if as_json:
        if rows:
            info["area_table"] = rows
        typer.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    console = Console(highlight=False, markup=False)  # names come from files: print as text
    console.print(f"{info['title']} ({info['region']}), metric CRS "
                  f"{info['metric_crs']}")
    console.print(f"loaded {info['loaded_at']} from {info['definition']}")
    console.print("areas: " + ", ".join(f"{n} {lvl}" for lvl, n in info["areas"].items()))
    console.print("stations: " + ", ".join(f"{n} {k}" for k, n in info["stations"].items())
                  + f"; rivers: {info['rivers']}")
    console.print(f"bbox (lon/lat): {info['bbox']}")
    terrain = info["terrain"]
    if terrain is None:
        console.print("terrain: none (rainfall and figures per area; no flood depth)")
    else:
        warning = f" — {terrain['note'] or 'approximate'}" if terrain["approximate"] else ""
        console.print(f"terrain: {terrain['file']}{warning}; gauged rivers: "
                      f"{', '.join(terrain['rivers']) or 'none'}")
    if rows:
        table = Table("level", "code", "name", "parent", "population", "year", "km²")
        for r in rows:
            table.add_row(r["level"], r["code"], r["name_vi"], r["parent"] or "",
                          f"{r['population']:,}" if r["population"] is not None else "",
                          str(r["population_year"] or ""), f"{r['area_km2']:.1f}")
        console.print(table)


@app.command("fetch-dem")
def fetch_dem_command(
    ctx: typer.Context,
    region: Annotated[str, typer.Argument(help="a bundled region or a region.toml path")],
    out: Annotated[Path | None, Opt(help="output GeoTIFF (default: <data dir>/terrain/"
                                          "<region>_copdem_glo30.tif)")] = None,
    resolution_m: Annotated[float, Opt(help="output resolution in the metric CRS")] = 30.0,
    base_url: Annotated[str | None, Opt(help="the Copernicus DEM bucket (or a mirror)")] = None,
) -> None:
    """Download the Copernicus GLO-30 tiles covering a region, mosaic, clip and reproject them."""
    from floodwatch.gis_data import dem
    from floodwatch.gis_data.vectors import read_layer

    c = ctx_of(ctx)
    definition = load_definition(region)
    if not definition.areas:
        raise InputError(f"region {definition.name} has no areas to take the extent from")
    frames = [read_layer(definition.path(a.file), crs=a.crs) for a in definition.areas]
    margin = 0.02
    bounds = (min(f.total_bounds[0] for f in frames) - margin,
              min(f.total_bounds[1] for f in frames) - margin,
              max(f.total_bounds[2] for f in frames) + margin,
              max(f.total_bounds[3] for f in frames) + margin)
    target = out or c.store.data_dir / "terrain" / f"{definition.name}_copdem_glo30.tif"
    target.parent.mkdir(parents=True, exist_ok=True)
    info = dem.fetch_dem(bounds, target, base_url=base_url or dem.COPERNICUS_BASE_URL,
                         target_crs=definition.metric_crs, resolution_m=resolution_m)
    typer.echo(f"{target}: {len(info.tiles_used)} tiles ({len(info.tiles_missing)} sea tiles "
               f"missing), {info.crs}, {info.resolution} m")
    typer.echo(f"attribution: {info.attribution}")
