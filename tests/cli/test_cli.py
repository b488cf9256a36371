"""The command line as users call it: subcommands, JSON output, generic loader, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from floodwatch.cli.main import run


@pytest.fixture
def store(cli_store: str) -> str:
    return cli_store


def test_load_and_show_json(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["region", "load", "hue"]) == 0
    assert "region hue: loaded" in capsys.readouterr().out
    assert run(["region", "load", "hue"]) == 0
    assert "region hue: unchanged" in capsys.readouterr().out
    assert run(["region", "show", "hue", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["region"] == "hue"
    assert info["areas"] == {"city": 1, "district": 9, "ward": 40}
    assert info["stations"] == {"reservoir": 3, "river_gauge": 2}
    west, south, east, north = info["bbox"]
    assert 106.9 < west < east < 108.3 and 15.9 < south < north < 16.8


def test_show_area_table(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(["region", "load", "hue"])
    capsys.readouterr()
    assert run(["region", "show", "hue", "--level", "ward"]) == 0
    out = capsys.readouterr().out
    assert "Phú Xuân" in out and "130,247" in out and "40 ward" in out


def test_generic_loader(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    square = [[108.1, 16.0], [108.2, 16.0], [108.2, 16.1], [108.1, 16.1], [108.1, 16.0]]
    districts = tmp_path / "districts.geojson"
    districts.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ma": "D1", "ten": "Hải Châu"},
         "geometry": {"type": "Polygon", "coordinates": [square]}}]}), encoding="utf-8")
    wards = tmp_path / "wards.geojson"
    wards.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ma": "W1", "ten": "Thạch Thang", "cha": "D1",
                                           "dan_so": 12000},
         "geometry": {"type": "Polygon", "coordinates": [square]}}]}), encoding="utf-8")
    stations = tmp_path / "stations.geojson"
    stations.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ma": "S1", "ten": "Cẩm Lệ", "bd1": 1.0, "bd2": 2.0,
                                           "bd3": 3.0},
         "geometry": {"type": "Point", "coordinates": [108.15, 16.05]}}]}), encoding="utf-8")
    common = ["--code-field", "ma", "--name-field", "ten"]
    assert run(["region", "load", "danang", "--areas", str(districts), "--level", "district",
                *common]) == 0
    assert run(["region", "load", "danang", "--areas", str(wards), "--level", "ward",
                "--parent-field", "cha", "--parent-level", "district",
                "--population-field", "dan_so", *common]) == 0
    assert run(["region", "load", "danang", "--stations", str(stations),
                "--alarm-fields", "bd1,bd2,bd3", *common]) == 0
    capsys.readouterr()
    assert run(["region", "show", "danang", "--json", "--areas"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["areas"] == {"district": 1, "ward": 1}
    assert info["stations"] == {"river_gauge": 1}
    assert info["metric_crs"] == "EPSG:32649"  # the UTM zone of the data
    ward = next(r for r in info["area_table"] if r["level"] == "ward")
    assert (ward["parent"], ward["population"]) == ("D1", 12000)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["region", "load", "atlantis"], 4, "unknown region 'atlantis'"),
        (["region", "show", "atlantis"], 4, "region 'atlantis' is not loaded"),
        (["region", "load", "x", "--areas", "/nonexistent.geojson"], 2, "no such file"),
    ],
)
def test_errors_are_one_line(store: str, capsys: pytest.CaptureFixture[str], args: list[str],
                             code: int, message: str) -> None:
    assert run(args) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_field_name(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "w.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "1", "name": "A"},
         "geometry": {"type": "Point", "coordinates": [108, 16]}}]}), encoding="utf-8")
    assert run(["region", "load", "x", "--areas", str(path), "--code-field", "ma"]) == 2
    assert "no field 'ma'" in capsys.readouterr().err


def test_unreachable_database_via_the_real_command(tmp_path: Path) -> None:
    """The installed `floodwatch` command: one line, exit 5, no traceback; --debug shows it."""
    env = {**os.environ, "FLOODWATCH_DATABASE_URL":
           "postgresql+psycopg://nobody@127.0.0.1:9/x?connect_timeout=2"}
    exe = Path(sys.executable).with_name("floodwatch")
    proc = subprocess.run([exe, "region", "show", "hue"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 5
    assert proc.stderr.startswith("error: cannot reach the database at postgresql+psycopg://")
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([exe, "--debug", "region", "show", "hue"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 5 and "Traceback" in proc.stderr


def test_default_store_is_a_spatialite_file_under_the_data_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOODWATCH_DATABASE_URL", raising=False)
    monkeypatch.setenv("FLOODWATCH_DATA_DIR", str(tmp_path / "fw"))
    assert run(["db", "upgrade"]) == 0
    assert (tmp_path / "fw" / "floodwatch.sqlite").is_file()


def test_toml_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from floodwatch.core.settings import StoreSettings

    config = tmp_path / "floodwatch.toml"
    config.write_text(f'[store]\ndata_dir = "{tmp_path / "from-toml"}"\n', encoding="utf-8")
    monkeypatch.setenv("FLOODWATCH_CONFIG", str(config))
    monkeypatch.delenv("FLOODWATCH_DATA_DIR", raising=False)
    monkeypatch.delenv("FLOODWATCH_DATABASE_URL", raising=False)
    assert StoreSettings().data_dir == tmp_path / "from-toml"
    monkeypatch.setenv("FLOODWATCH_DATA_DIR", str(tmp_path / "from-env"))
    assert StoreSettings().data_dir == tmp_path / "from-env"  # the environment wins


@pytest.mark.parametrize("args, says", [
    (["region", "show"], "Missing argument 'region'"),
    (["cycle", "run", "--bogus"], "No such option: --bogus"),
    (["no-such-command"], "No such command"),
])
def test_usage_errors_exit_2_with_the_usage(args: list[str], says: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert run(args) == 2
    assert says in capsys.readouterr().err
