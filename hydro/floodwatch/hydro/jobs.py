"""The scheduler's jobs, built from settings: each feed on its cadence. Later components add
the model cycle and notification dispatch here."""

from __future__ import annotations

from functools import partial

from sqlalchemy.engine import Engine

from floodwatch.hydro.pull import pull_feed
from floodwatch.hydro.scheduler import JobSpec
from floodwatch.hydro.settings import HydroSettings


def scheduler_jobs(engine: Engine, settings: HydroSettings) -> list[JobSpec]:
    return [
        JobSpec(id=f"feed:{feed.name}", func=partial(pull_feed, engine, feed),
                interval_s=feed.cadence_s)
        for feed in settings.feeds if feed.enabled
    ]
