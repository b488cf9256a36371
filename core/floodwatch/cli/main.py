"""Entry point of the ``floodwatch`` command. Errors become one line and an exit code here."""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Annotated

import typer
from pydantic import ValidationError

from floodwatch.cli import cycle, db, export, feeds, notify, region, replay, serve, subscribe
from floodwatch.cli.context import CliContext
from floodwatch.core.errors import (
    ConfigError,
    FloodwatchError,
    InputError,
    NotFoundError,
    StoreUnavailableError,
)
from floodwatch.hydro.transport import FeedError

#: The one table from domain errors to exit codes.
EXIT_CODES: dict[type[BaseException], int] = {
    InputError: 2,
    FeedError: 6,
    ConfigError: 3,
    NotFoundError: 4,
    StoreUnavailableError: 5,
    FloodwatchError: 1,
}

app = typer.Typer(
    name="floodwatch",
    help="Flood early warning: gauges and rainfall → ward alerts, a public map and CAP feeds.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

#: Sub-command groups: an explicit registry, not import side effects.
GROUPS: list[tuple[str, typer.Typer]] = [
    ("db", db.app),
    ("region", region.app),
    ("feeds", feeds.app),
    ("replay", feeds.replay_app),
    ("cycle", cycle.app),
    ("subscribe", subscribe.app),
    ("notify", notify.app),
    ("export", export.app),
]
for _name, _group in GROUPS:
    app.add_typer(_group, name=_name)
app.command("schedule")(feeds.schedule)
app.command("serve")(serve.serve)
feeds.replay_app.command("run")(replay.run)


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks and debug logs")] = False,
) -> None:
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not debug:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    ctx.obj = CliContext(debug=debug)


def _exit_code(exc: BaseException) -> int:
    for kind, code in EXIT_CODES.items():
        if isinstance(exc, kind):
            return code
    return 1


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (``floodwatch`` calls sys.exit with it)."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        app(args=args, prog_name="floodwatch", standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except (FloodwatchError, ValidationError) as exc:
        if debug:
            traceback.print_exc()
        message = str(exc).splitlines()[0] if isinstance(exc, ValidationError) else str(exc)
        typer.echo(f"error: {message}", err=True)
        return _exit_code(exc)
    except typer.TyperException as exc:  # usage errors (typer carries its own click)
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", 2)
        if callable(show):
            show()
        else:
            typer.echo(f"error: {exc}", err=True)
        return int(code)
    except Exception as exc:
        if debug:
            raise
        typer.echo(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for the "
                   "traceback)", err=True)
        return 1
    return 0


def main() -> None:
    sys.exit(run())
