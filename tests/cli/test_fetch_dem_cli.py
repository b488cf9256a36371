"""`floodwatch region fetch-dem hue` against a real HTTP server on loopback serving small COGs
named as the Copernicus bucket names them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from floodwatch.cli.main import run
from floodwatch.gis_data.dem import tile_name


def _tile(lat: int, lon: int, folder: Path) -> bytes:
    cells, deg = 60, 1 / 60
    path = folder / f"{tile_name(lat, lon)}.tif"
    with rasterio.open(path, "w", driver="COG", width=cells, height=cells, count=1,
                       dtype="float32", crs="EPSG:4326",  # pixel-is-point, as the bucket
                       transform=Affine(deg, 0, lon - deg / 2, 0, -deg, lat + 1 + deg / 2),
                       ) as dst:
        dst.write(np.full((cells, cells), 10.0 * (lat - 14) + (lon - 106), np.float32), 1)
    return path.read_bytes()


def test_fetch_dem_for_hue(http_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FLOODWATCH_DATA_DIR", str(tmp_path / "data"))
    for lat in (15, 16):
        for lon in (107, 108):
            name = tile_name(lat, lon)
            http_server.route(f"/{name}/{name}.tif", http_server.Reply(body=_tile(lat, lon,
                                                                                  tmp_path)))
    out = tmp_path / "hue_dem.tif"
    assert run(["region", "fetch-dem", "hue", "--out", str(out), "--resolution-m", "500",
                "--base-url", http_server.url("")]) == 0
    assert "4 tiles" in capsys.readouterr().out
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 32648 and src.res == (500.0, 500.0)
        values = src.read(1, masked=True)
        # bilinear resampling blends tile values along the seams; cells outside every tile
        # are 0 m (sea), as the provider advises
        inside = values.compressed()
        assert np.percentile(inside, 5) >= 11.0 and inside.max() <= 22.0 and np.ptp(inside) > 5
    sidecar = json.loads(next(tmp_path.glob("hue_dem*.json")).read_text())
    assert "Copernicus" in json.dumps(sidecar)
