"""``floodwatch cycle …``: run the model cycle (readings → flood depth → figures per area)."""

from __future__ import annotations

from typing import Annotated

import typer

from floodwatch.cli.context import ctx_of
from floodwatch.core.db import check_reachable
from floodwatch.core.timeutil import parse_instant

app = typer.Typer(help="Run the model cycle: rainfall, flood depth, figures per area.",
                  no_args_is_help=True)


@app.command()
def run(
    ctx: typer.Context,
    region: Annotated[str, typer.Option(help="the region to run")] = "hue",
    at: Annotated[str | None, typer.Option(
        help="the valid time, ISO 8601, UTC unless it has an offset (default: now)")] = None,
) -> None:
    """Run the model for one time and store it (the same time again changes nothing)."""
    from floodwatch.hydro.cycle import run_cycle
    from floodwatch.hydro.settings import HydroSettings

    c = ctx_of(ctx)
    when = parse_instant(at, "--at") if at else None
    check_reachable(c.engine)
    result = run_cycle(c.engine, region, at=when, settings=HydroSettings().cycle,
                       data_dir=c.store.data_dir)
    what = "unchanged (same inputs)" if result.reused else result.status
    typer.echo(f"run {result.run_id} for {region} at {result.valid_at:%Y-%m-%d %H:%M} UTC: "
               f"{what} in {result.timing_s.get('total', 0.0):.2f} s")
    for stale in result.stale_inputs:
        typer.echo(f"  left out: {stale.get('kind')} {stale.get('station')} "
                   f"{stale.get('name') or ''} — {stale.get('reason')}")
    for note in result.notes:
        typer.echo(f"  note: {note}")
    if result.output is None:
        return
    for level, frame in sorted(result.output.stats.items()):
        flooded = frame[frame["flooded_km2"] > 0].sort_values("flooded_km2", ascending=False)
        typer.echo(f"  {level}: {len(flooded)} of {len(frame)} flooded, "
                   f"{frame['flooded_km2'].sum():.1f} km², "
                   f"{int(frame['people_affected'].fillna(0).sum())} people affected")
