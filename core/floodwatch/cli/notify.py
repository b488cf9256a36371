"""``floodwatch notify …``: deliver the outbox and watch it."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from floodwatch.cli.context import ctx_of
from floodwatch.core.db import check_reachable
from floodwatch.core.errors import FloodwatchError, InputError

if TYPE_CHECKING:
    from floodwatch.warnings.dispatch import Dispatcher, DispatchSummary

app = typer.Typer(help="Deliver alert notifications (e-mail, SMS, webhook) and watch the outbox.",
                  no_args_is_help=True)

Opt = typer.Option


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT, so the running pass finishes before the stop."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _line(s: DispatchSummary) -> str:
    text = f"sent {s.sent}, retrying {s.retrying}, dead {s.dead}, in doubt {s.in_doubt}"
    if s.waiting:
        text += f"; {s.waiting} waiting for a channel that is not configured"
    if s.dropped:
        text += f"; {s.dropped} dropped (subscription removed)"
    return text


def _drain(dispatcher: Dispatcher, batch_size: int, quiet: bool) -> None:
    """Passes until less than a full batch was due."""
    while True:
        summary = dispatcher.run_once()
        if summary.handled or summary.waiting or summary.dropped or not quiet:
            typer.echo(_line(summary))
        if summary.handled < batch_size:
            return
        quiet = True


@app.command()
def dispatch(
    ctx: typer.Context,
    once: Annotated[bool, Opt("--once", help="send what is due, then exit")] = False,
    loop_seconds: Annotated[float | None, Opt(
        help="seconds between passes (default: dispatch_interval_s, 30)")] = None,
) -> None:
    """Send due notifications, once or until SIGTERM; one dispatcher per store."""
    from floodwatch.warnings.dispatch import Dispatcher, dispatcher_lock
    from floodwatch.warnings.settings import WarningsSettings

    c = ctx_of(ctx)
    settings = WarningsSettings()
    channels = settings.channels()
    interval = settings.dispatch_interval_s if loop_seconds is None else loop_seconds
    if interval <= 0 and not once:
        raise InputError("--loop-seconds must be positive")
    check_reachable(c.engine)
    if not channels:
        typer.echo("warning: no channel is configured ([warnings.smtp], [warnings.webhook], "
                   "[warnings.sms]); notifications will wait", err=True)
    lock = dispatcher_lock(c.engine)
    with _stop_on_signals() as stop:
        if not lock.try_acquire():
            if once:
                raise FloodwatchError("another dispatcher is running on this store; it sends "
                                      "what is due")
            typer.echo("another dispatcher is running; standing by", err=True)
            while not lock.try_acquire():
                if stop.wait(interval):
                    return
        try:
            dispatcher = Dispatcher(c.engine, settings, channels)
            recovered = dispatcher.recover()
            if recovered:
                typer.echo(f"{recovered} notification(s) in doubt after a stopped dispatcher: "
                           "not sent again (see `floodwatch notify status`)", err=True)
            quiet = not once
            while True:
                _drain(dispatcher, settings.dispatch_batch_size, quiet)
                if once or stop.wait(interval):
                    return
        finally:
            lock.release()


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, Opt("--json", help="print JSON")] = False,
) -> None:
    """Notifications by state, and those to look at: in doubt, dead, or failing."""
    from floodwatch.warnings.dispatch import Dispatcher
    from floodwatch.warnings.settings import WarningsSettings

    c = ctx_of(ctx)
    check_reachable(c.engine)
    dispatcher = Dispatcher(c.engine, WarningsSettings(), channels={})
    counts, problems = dispatcher.status(), dispatcher.problems()
    if as_json:
        typer.echo(json.dumps({"counts": counts, "problems": problems}, ensure_ascii=False,
                              indent=1, default=str))
        return
    typer.echo(", ".join(f"{state.replace('_', ' ')} {n}" for state, n in counts.items()))
    if not problems:
        return
    table = Table("id", "status", "channel", "subscription", "attempts", "next attempt",
                  "last error")
    for p in problems:
        table.add_row(*(_cell(p[k]) for k in ("id", "status", "channel", "subscription_id",
                                              "attempts", "next_attempt_at", "last_error")))
    Console(highlight=False, markup=False, width=200).print(table)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)[:100]
