"""``floodwatch db …``: schema migrations."""

from __future__ import annotations

import typer

from floodwatch.cli.context import ctx_of
from floodwatch.core import migrate
from floodwatch.core.db import check_reachable, masked

app = typer.Typer(help="Create and migrate the store's schema.", no_args_is_help=True)


@app.command()
def upgrade(ctx: typer.Context, revision: str = typer.Argument("head")) -> None:
    """Migrate the store up to REVISION (default: the newest)."""
    c = ctx_of(ctx)
    migrate.upgrade(c.engine, revision)
    typer.echo(f"store {masked(c.store.url)} at revision {migrate.current(c.engine)}")


@app.command()
def downgrade(ctx: typer.Context, revision: str = typer.Argument(
        ..., help="target revision, e.g. -1 or base (base drops every floodwatch table)")) -> None:
    """Migrate the store down to REVISION."""
    c = ctx_of(ctx)
    migrate.downgrade(c.engine, revision)
    typer.echo(f"store {masked(c.store.url)} at revision {migrate.current(c.engine) or 'base'}")


@app.command()
def current(ctx: typer.Context) -> None:
    """Print the store's revision."""
    c = ctx_of(ctx)
    check_reachable(c.engine)
    typer.echo(migrate.current(c.engine) or "base")
