"""What the web app's routes share: the app's settings, the store, the clock, and the map's
snapshot computed once per time step and reused (with the bodies rendered from it).

"Now" is the injected clock, floored to ``cache_s`` so that every request in the same step sees
the same snapshot (and the same ETag); with ``serve_as_of = "newest_run"`` it is the valid time
of the region's newest usable run instead (a replay shows what residents saw then).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, ClassVar, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Depends
from pydantic import Field, SecretStr, field_validator
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette.requests import Request

from floodwatch.core.db import session_factory
from floodwatch.core.errors import ConfigError, InputError
from floodwatch.core.settings import ComponentSettings
from floodwatch.hydro.settings import FeedConfig
from floodwatch.warnings.capfeed import CAP_DIR, cap_filename
from floodwatch.web_map.api_queries import newest_run_at
from floodwatch.web_map.httpcache import Body
from floodwatch.web_map.settings import WebMapSettings
from floodwatch.web_map.state import MapState, current_state

#: A bearer token shorter than this is refused: it could be guessed.
MIN_TOKEN_CHARS = 16


class WebAppSettings(ComponentSettings):
    """The web app's own settings (``[web_app]`` or ``FLOODWATCH_…``); the map's are in
    ``WebMapSettings``."""

    toml_section: ClassVar[str] = "web_app"

    admin_token: SecretStr | None = None  # FLOODWATCH_ADMIN_TOKEN; unset: no admin endpoints
    serve_as_of: Literal["now", "newest_run"] = "now"  # newest_run: replays and drills
    cache_s: int = Field(60, ge=0)  # snapshot reuse and Cache-Control max-age; 0: none
    readings_max_days: float = Field(31.0, gt=0)  # the longest period one request may ask
    alerts_recent_h: float = Field(48.0, gt=0)  # /api/alerts: changes in this window

    @field_validator("admin_token", mode="after")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if len(value.get_secret_value()) < MIN_TOKEN_CHARS:
            raise ConfigError(f"admin_token must have at least {MIN_TOKEN_CHARS} characters")
        return value


@dataclass
class Snapshot:
    """The map's state at one ``now``, and the bodies already rendered from it."""

    now: datetime
    state: MapState
    made: float  # time.monotonic() when read
    bodies: dict[Hashable, Body] = field(default_factory=dict)

    def body(self, key: Hashable, make: Callable[[], Body]) -> Body:
        found = self.bodies.get(key)
        if found is None:
            found = self.bodies[key] = make()
        return found

    @property
    def today(self) -> date:
        return self.now.astimezone(ZoneInfo(self.state.region.timezone)).date()


@dataclass
class AppContext:
    engine: Engine
    region: str
    web: WebMapSettings
    settings: WebAppSettings
    publish_dir: Path
    feeds: Sequence[FeedConfig] = ()
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    ward_level: str = "ward"
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _snapshot: Snapshot | None = field(default=None, repr=False)
    _replay: tuple[float, datetime] | None = field(default=None, repr=False)

    @property
    def cap_dir(self) -> Path:
        return self.publish_dir / CAP_DIR

    def session(self) -> Session:
        return session_factory(self.engine)()

    def _clock(self) -> datetime:
        moment = self.clock()
        if moment.tzinfo is None:
            raise ConfigError("the web app's clock must give timezone-aware times")
        return moment.astimezone(UTC)

    def now(self) -> datetime:
        """The instant the app serves (see the module's docstring)."""
        step = self.settings.cache_s
        if self.settings.serve_as_of == "newest_run":
            kept = self._replay
            if kept is not None and time.monotonic() - kept[0] < step:
                return kept[1]
            real = self._clock()
            with self.session() as session:
                moment = newest_run_at(session, self.region, real) or real
            self._replay = (time.monotonic(), moment)
            return moment
        moment = self._clock()
        if step <= 0:
            return moment
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        return moment - (moment - epoch) % timedelta(seconds=step)

    def snapshot(self) -> Snapshot:
        """The map's state now: read once per time step, whoever asks first."""
        now = self.now()
        with self._lock:
            kept = self._snapshot
            if (kept is not None and kept.now == now
                    and time.monotonic() - kept.made < self.settings.cache_s):
                return kept
            state = current_state(self.engine, self.region, now=now,
                                  stale_after=self.web.stale_after, feeds=self.feeds,
                                  ward_level=self.ward_level)
            fresh = Snapshot(now, state, time.monotonic())
            if self.settings.cache_s > 0:
                self._snapshot = fresh
            return fresh

    def cap_url(self, identifier: str) -> str | None:
        """``/cap/<identifier>.xml`` when that CAP file is published, else None."""
        try:
            name = cap_filename(identifier)
        except InputError:
            return None
        return f"/cap/{name}" if (self.cap_dir / name).is_file() else None

    def readings_url(self, code: str) -> str:
        return f"/api/stations/{quote(code, safe='')}/readings"


def get_context(request: Request) -> AppContext:
    """FastAPI dependency: the context ``create_app`` put on the app."""
    ctx = request.app.state.fw
    assert isinstance(ctx, AppContext)
    return ctx


Ctx = Annotated[AppContext, Depends(get_context)]
