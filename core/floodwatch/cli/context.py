"""What every command needs, built once at the entry point: settings and a lazy engine."""

from __future__ import annotations

from dataclasses import dataclass, field

import typer
from sqlalchemy.engine import Engine

from floodwatch.core.db import make_engine
from floodwatch.core.settings import StoreSettings


@dataclass
class CliContext:
    debug: bool = False
    _store: StoreSettings | None = None
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def store(self) -> StoreSettings:
        if self._store is None:
            self._store = StoreSettings()
        return self._store

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.store.url, echo=self.store.echo_sql)
        return self._engine


def ctx_of(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliContext)
    return obj
