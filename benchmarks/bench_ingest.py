"""Readings per second into the store: the bulk upsert path against a plain row-by-row insert,
on SpatiaLite and on PostGIS, on the same data in one run.

    python benchmarks/bench_ingest.py [--quick] [--postgres ADMIN_URL]

ADMIN_URL (default: FLOODWATCH_TEST_DATABASE_URL, as scripts/test.sh sets it) must let its user
create databases; a scratch database is created from FLOODWATCH_TEST_TEMPLATE (or with the
postgis extension) and dropped afterwards. Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from floodwatch.core import migrate
from floodwatch.core.db import make_engine
from floodwatch.hydro import store
from floodwatch.hydro.feeds.base import Observation, Parameter


def observations(n: int, offset: int = 0) -> list[Observation]:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    return [Observation(f"G{i % 50:03d}", Parameter.WATER_LEVEL,
                        t0 + timedelta(minutes=15 * ((i + offset) // 50)), (i % 977) / 100,
                        "m", "bench") for i in range(n)]


def measure(url: str, backend: str, n_bulk: int, n_rows: int) -> list[dict[str, object]]:
    engine = make_engine(url)
    migrate.upgrade(engine)
    results = []
    data = observations(n_bulk)
    started = time.perf_counter()
    added = store.upsert_readings(engine, data)
    bulk_s = time.perf_counter() - started
    assert added == n_bulk, added
    started = time.perf_counter()
    again = store.upsert_readings(engine, data)
    replay_s = time.perf_counter() - started
    rows = observations(n_rows, offset=n_bulk)
    started = time.perf_counter()
    store.insert_row_by_row(engine, rows)
    row_s = time.perf_counter() - started
    bulk_rate, row_rate = n_bulk / bulk_s, n_rows / row_s
    results.append({"name": "ingest", "backend": backend, "method": "bulk upsert",
                    "readings": n_bulk, "seconds": round(bulk_s, 3),
                    "readings_per_s": round(bulk_rate), "ratio_vs_row_by_row":
                    round(bulk_rate / row_rate, 1)})
    results.append({"name": "ingest", "backend": backend, "method": "replay (all present)",
                    "readings": n_bulk, "added": again, "seconds": round(replay_s, 3),
                    "readings_per_s": round(n_bulk / replay_s)})
    results.append({"name": "ingest", "backend": backend, "method": "row by row",
                    "readings": n_rows, "seconds": round(row_s, 3),
                    "readings_per_s": round(row_rate)})
    engine.dispose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer readings")
    parser.add_argument("--postgres", default=os.environ.get("FLOODWATCH_TEST_DATABASE_URL"))
    args = parser.parse_args()
    n_bulk, n_rows = (50_000, 5_000) if args.quick else (500_000, 20_000)
    with tempfile.TemporaryDirectory() as tmp:
        for line in measure(f"sqlite:///{Path(tmp) / 'bench.sqlite'}", "spatialite", n_bulk,
                            n_rows):
            print(json.dumps(line), flush=True)
    if not args.postgres:
        print("no --postgres URL: PostGIS skipped", file=sys.stderr)
        return 0
    admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    name = f"fwbench_{uuid.uuid4().hex[:8]}"
    template = os.environ.get("FLOODWATCH_TEST_TEMPLATE")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"'
                             + (f' TEMPLATE "{template}"' if template else ""))
    url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
    try:
        if not template:
            with sa.create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        for line in measure(url, "postgis", n_bulk, n_rows):
            print(json.dumps(line), flush=True)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
