"""Load on the public API: requests per second and latency (p50, p99) of ``/api/areas`` from the
web app (uvicorn, one worker) and of the static snapshot's ``api/areas.geojson`` from a plain
``python -m http.server``, under concurrent httpx clients.

    python benchmarks/bench_web.py [--store URL] [--duration 10] [--concurrency 16]

Without ``--store`` it builds a Huế store (SpatiaLite, in a temporary folder: the real region
and the November 2025 series) and serves it as of 17 Nov 2025 08:00 UTC. Each server runs in
its own process, so that the load generator does not share its interpreter. Cases:

- ``app, snapshot reused``: the default (``cache_s`` 60): the store is read once per minute;
- ``app, store read per request``: ``cache_s`` 0: every request reads the store (13 queries)
  and renders the document: the worst case;
- ``static http.server``: the snapshot's file from the standard library's server.

The clients ask for gzip, as browsers do: the app sends its body gzipped (compressed once per
snapshot), http.server sends the file as it is (``wire_bytes`` shows the difference).

Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

NOW = datetime(2025, 11, 17, 8, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_store(folder: Path) -> str:
    from floodwatch.core import migrate
    from floodwatch.core.db import make_engine
    from floodwatch.gis_data.loader import load_region
    from floodwatch.gis_data.region import load_definition
    from floodwatch.hydro.backfill import load_series

    url = f"sqlite:///{folder / 'bench.sqlite'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    load_region(engine, load_definition("hue"))
    load_series(engine, "hue-2025-11")
    engine.dispose()
    return url


def publish(url: str, folder: Path, now: datetime) -> Path:
    from floodwatch.core.db import make_engine
    from floodwatch.web_map.snapshot import publish_snapshot

    engine = make_engine(url)
    publish_snapshot(engine, "hue", folder, now=now)
    engine.dispose()
    return folder / "api" / "areas.geojson"


def serve_app(url: str, port: int, cache_s: int, now: str) -> None:
    """The server process: the app on 127.0.0.1:port, as of ``now``."""
    import uvicorn

    from floodwatch.core.db import make_engine
    from floodwatch.core.settings import StoreSettings
    from floodwatch.web_map.app import create_app
    from floodwatch.web_map.context import WebAppSettings
    from floodwatch.web_map.settings import WebMapSettings

    moment = datetime.fromisoformat(now)
    app = create_app(StoreSettings(database_url=url), WebMapSettings(region="hue"),
                     WebAppSettings(cache_s=cache_s), engine=make_engine(url),
                     clock=lambda: moment)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start(command: list[str], probe: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(probe, timeout=5).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{command} exited with {proc.returncode}")
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"{command} did not answer {probe}")


async def load(url: str, duration_s: float, concurrency: int) -> dict[str, object]:
    latencies: list[float] = []
    errors = 0
    size = wire = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        for _ in range(concurrency):  # warm up: connections, the app's first snapshot
            await client.get(url)
        stop = time.perf_counter() + duration_s

        async def worker() -> None:
            nonlocal errors, size, wire
            while time.perf_counter() < stop:
                started = time.perf_counter()
                try:
                    r = await client.get(url)
                    ok = r.status_code == 200
                    size, wire = len(r.content), r.num_bytes_downloaded
                except httpx.TransportError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"requests": len(latencies), "errors": errors, "seconds": round(elapsed, 2),
            "requests_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "mean_ms": round(1000 * statistics.fmean(ordered), 2), "body_bytes": size,
            "wire_bytes": wire}


def case(name: str, url: str, args: argparse.Namespace) -> None:
    result = asyncio.run(load(url, args.duration, args.concurrency))
    print(json.dumps({"name": "web", "case": name, "url_path": httpx.URL(url).path,
                      "concurrency": args.concurrency, "cpus": os.cpu_count(), **result}),
          flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", help="a store URL with the hue region (default: build one)")
    parser.add_argument("--now", default=NOW.isoformat(), help="the time served (ISO 8601)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per case")
    parser.add_argument("--concurrency", type=int, default=16, help="parallel clients")
    parser.add_argument("--serve-app", nargs=3, metavar=("URL", "PORT", "CACHE_S"),
                        help=argparse.SUPPRESS)  # internal: the server process
    args = parser.parse_args()
    if args.serve_app:
        serve_app(args.serve_app[0], int(args.serve_app[1]), int(args.serve_app[2]), args.now)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = args.store or build_store(folder)
        areas = publish(url, folder / "publish", datetime.fromisoformat(args.now))
        for name, cache_s in (("app, snapshot reused", 60), ("app, store read per request", 0)):
            port = free_port()
            proc = start([sys.executable, __file__, "--serve-app", url, str(port), str(cache_s),
                          "--now", args.now], f"http://127.0.0.1:{port}/api/areas")
            try:
                case(name, f"http://127.0.0.1:{port}/api/areas", args)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        port = free_port()
        proc = start([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                      "--directory", str(areas.parents[1])],
                     f"http://127.0.0.1:{port}/api/areas.geojson")
        try:
            case("static http.server", f"http://127.0.0.1:{port}/api/areas.geojson", args)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
