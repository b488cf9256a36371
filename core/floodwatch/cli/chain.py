"""What follows a model run, composed across components (the CLI is the only place that knows
them all): assess every ward (rules → lifecycle → transitions → CAP files), queue the
notifications of the new transitions in the same transaction, and publish the static snapshot
of the map. Used by the scheduler after each cycle and by ``floodwatch replay run``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from floodwatch.core.settings import StoreSettings
from floodwatch.gis_data.models import Reading, Station
from floodwatch.hydro.cycle import CycleResult, run_cycle
from floodwatch.hydro.settings import CycleSettings
from floodwatch.warnings import outbox
from floodwatch.warnings.capdocs import CapOptions
from floodwatch.warnings.pipeline import AssessResult, assess
from floodwatch.warnings.settings import WarningsSettings
from floodwatch.web_map.snapshot import publish_snapshot as publish

log = logging.getLogger(__name__)


@dataclass
class StepResult:
    cycle: CycleResult
    assessment: AssessResult
    notifications: int


def cap_options(settings: WarningsSettings, *, exercise: bool = False) -> CapOptions:
    return CapOptions(base_url=settings.public_url, web_url=settings.public_url,
                      hotline=settings.hotline, steady_m_per_h=settings.trend_steady_m_per_h,
                      status="Exercise" if exercise else "Actual")


def after_cycle(engine: Engine, store: StoreSettings, warnings: WarningsSettings,
                result: CycleResult, *, exercise: bool = False, snapshot: bool = True
                ) -> tuple[AssessResult, int]:
    """Assess the region at the run's time, queue notifications, publish the snapshot."""
    queued = 0

    def enqueue(session: Session, transitions: Any) -> None:
        nonlocal queued
        queued += outbox.enqueue(session, transitions)

    assessment = assess(engine, result.region, at=result.valid_at, run_id=result.run_id,
                        publish_dir=store.publish_path,
                        cap_options=cap_options(warnings, exercise=exercise),
                        on_transitions=enqueue)
    if snapshot:
        publish_snapshot(engine, store, result)
    return assessment, queued


def publish_snapshot(engine: Engine, store: StoreSettings, result: CycleResult) -> None:
    """The map page and its data, written atomically into the publish directory."""
    publish(engine, result.region, store.publish_path, now=result.valid_at)


def step(engine: Engine, store: StoreSettings, warnings: WarningsSettings,
         cycle: CycleSettings, region: str, at: datetime, *, exercise: bool = False,
         snapshot: bool = True) -> StepResult:
    result = run_cycle(engine, region, at=at, settings=cycle, data_dir=store.data_dir)
    assessment, queued = after_cycle(engine, store, warnings, result, exercise=exercise,
                                     snapshot=snapshot)
    return StepResult(result, assessment, queued)


def series_span(engine: Engine, codes: list[str]) -> tuple[datetime, datetime]:
    """First and last reading time of the given stations (the span of a recorded series)."""
    with engine.connect() as conn:
        first, last = conn.execute(
            sa.select(sa.func.min(Reading.observed_at), sa.func.max(Reading.observed_at))
            .join(Station, Station.id == Reading.station_id)
            .where(Station.code.in_(codes))).one()
    return first, last


def hours(start: datetime, end: datetime, every: timedelta) -> Iterator[datetime]:
    at = start
    while at <= end:
        yield at
        at += every
