"""The scheduler's jobs, built from settings: each feed on its cadence, and the model cycle of
each region on its own (its first run waits ``first_delay_s`` for the feeds' first pulls; each
run uses the newest readings stored by then). What follows a cycle (alerts, the published map)
is passed in as ``after_cycle`` by the command that composes the components."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from floodwatch.hydro.cycle import CycleResult, run_cycle
from floodwatch.hydro.pull import pull_feed
from floodwatch.hydro.scheduler import JobSpec
from floodwatch.hydro.settings import CycleSettings, HydroSettings


def scheduler_jobs(engine: Engine, settings: HydroSettings, *, data_dir: Path | None = None,
                   after_cycle: Callable[[CycleResult], Any] | None = None) -> list[JobSpec]:
    jobs = [
        JobSpec(id=f"feed:{feed.name}", func=partial(pull_feed, engine, feed),
                interval_s=feed.cadence_s)
        for feed in settings.feeds if feed.enabled
    ]
    has_feeds = bool(jobs)
    for region in settings.cycle.regions:
        jobs.append(JobSpec(
            id=f"cycle:{region}",
            func=partial(cycle_job, engine, region, settings.cycle, data_dir, after_cycle),
            interval_s=settings.cycle.interval_s, first_delay_s=60.0 if has_feeds else 0.0))
    return jobs


def cycle_job(engine: Engine, region: str, settings: CycleSettings, data_dir: Path | None,
              after_cycle: Callable[[CycleResult], Any] | None) -> CycleResult:
    result = run_cycle(engine, region, settings=settings, data_dir=data_dir)
    if after_cycle is not None:
        after_cycle(result)
    return result
