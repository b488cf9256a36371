"""The scheduler: APScheduler 3.11 jobs, one leader at a time, a clean stop on SIGTERM.

Jobs run with ``max_instances=1``, coalescing and a misfire grace time. Two scheduler processes
never run the same job: a process must hold the *leader lock* before it starts its jobs, and a
second process stands by until the first stops or dies. The lock is a PostgreSQL advisory lock
(released by the server when the holder's connection drops) or, on the embedded store, an
exclusive ``flock`` on a file beside the SQLite database (released by the kernel when the
holder dies).
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

LEADER_LOCK = "floodwatch-scheduler"


class LeaderLock(Protocol):
    def try_acquire(self) -> bool: ...
    def release(self) -> None: ...


class AdvisoryLock:
    """A PostgreSQL session-level advisory lock held on a dedicated connection."""

    def __init__(self, engine: Engine, name: str = LEADER_LOCK) -> None:
        self._engine = engine
        self._key = zlib.crc32(name.encode())  # a stable 32-bit key
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        conn = self._engine.connect()
        got = bool(conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({self._key})").scalar())
        conn.commit()
        if got:
            self._conn = conn
        else:
            conn.close()
        return got

    def release(self) -> None:
        if self._conn is not None:
            self._conn.exec_driver_sql(f"SELECT pg_advisory_unlock({self._key})")
            self._conn.commit()
            self._conn.close()
            self._conn = None


class FileLock:
    """An exclusive, non-blocking flock on a file."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def leader_lock(engine: Engine) -> LeaderLock:
    """The right lock for the store's backend."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    database = engine.url.database or ":memory:"
    return FileLock(Path(database).with_suffix(".scheduler.lock"))


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable[[], Any]
    interval_s: float
    run_at_start: bool = True
    first_delay_s: float = 0.0  # e.g. the model cycle waits for the feeds' first pulls


def build_scheduler(jobs: list[JobSpec], *, misfire_grace_s: float) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        job_defaults={"max_instances": 1, "coalesce": True,
                      "misfire_grace_time": int(misfire_grace_s)},
        timezone="UTC",
    )
    for job in jobs:
        from datetime import UTC, datetime, timedelta

        first = datetime.now(UTC) + timedelta(seconds=job.first_delay_s)
        scheduler.add_job(
            job.func, IntervalTrigger(seconds=job.interval_s), id=job.id, name=job.id,
            next_run_time=first if job.run_at_start else None,
        )

    def _on_error(event: JobExecutionEvent) -> None:
        log.error("job %s failed: %s", event.job_id, event.exception)

    scheduler.add_listener(_on_error, EVENT_JOB_ERROR)
    return scheduler


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    previous = {}

    def _handler(signum: int, frame: Any) -> None:
        log.info("received %s: stopping after the running jobs finish",
                 signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, _handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(
    jobs: list[JobSpec], lock: LeaderLock, *, misfire_grace_s: float = 120.0,
    standby_poll_s: float = 10.0, stop: threading.Event | None = None,
) -> None:
    """Run the jobs until SIGTERM/SIGINT (or ``stop``), as leader only."""
    stop = stop or threading.Event()
    with _stop_on_signals(stop):
        announced = False
        while not lock.try_acquire():
            if not announced:
                log.info("another scheduler holds the leader lock: standing by")
                announced = True
            if stop.wait(standby_poll_s):
                return
        log.info("leader lock taken: running %d job(s): %s", len(jobs),
                 ", ".join(f"{j.id} every {j.interval_s:g} s" for j in jobs))
        scheduler = build_scheduler(jobs, misfire_grace_s=misfire_grace_s)
        try:
            scheduler.start()
            stop.wait()
        finally:
            scheduler.shutdown(wait=True)
            lock.release()
            log.info("scheduler stopped")
