"""``floodwatch replay run``: the real November 2025 series through the cycle and the alerts,
over the hours around the crossings (the whole event takes minutes; the README shows it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from floodwatch.cli.main import run as cli
from floodwatch.gis_data.loader import load_region
from floodwatch.gis_data.region import load_definition
from floodwatch.hydro.models import ModelRun
from floodwatch.warnings.cap import validate
from floodwatch.warnings.tables import (
    AlertTransition,
    Notification,
)

QUANG_DIEN = "19867"  # warned by Phú Ốc


def test_replay_run_prints_the_timeline_at_the_hours_of_the_data(
        engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], add_subscription: Callable[..., int]) -> None:
    load_region(engine, load_definition("hue"))
    add_subscription(engine, [QUANG_DIEN], "xa.quangdien@example.vn")
    monkeypatch.setenv("FLOODWATCH_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("FLOODWATCH_DATA_DIR", str(tmp_path))
    args = ["replay", "run", "hue-2025-11", "--since", "2025-11-16T18:00+07:00",
            "--until", "2025-11-17T04:00+07:00"]
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert "11 steps every 1 h from 16/11 18:00 to 17/11 04:00" in out
    # the crossings the data shows (local time) …
    assert "Kim Long   BĐ II  2.00 m  ↑ 17/11 02:00" in out
    assert "Phú Ốc     BĐ III 4.50 m  ↑ 17/11 03:00" in out
    # … and the alerts at those hours: Quảng Điền (Phú Ốc) passes BĐ III at level 2, and the
    # wards of Kim Long alone rise to level 2 when it passes BĐ II
    lines = [line.strip() for line in out.splitlines() if "river_flood" in line]
    [quang_dien] = [line for line in lines if line.startswith("Quảng Điền ")]
    assert "BĐ III 17 03:00" in quang_dien
    [kim_long] = [line for line in lines if line.startswith("Kim Long ")]
    assert "L2 17 02:00" in kim_long
    with engine.connect() as conn:
        runs = conn.scalar(sa.select(sa.func.count()).select_from(ModelRun))
        transitions = conn.scalars(sa.select(AlertTransition.cap_identifier)).all()
        queued = conn.scalar(sa.select(sa.func.count()).select_from(Notification))
    assert runs == 11 and transitions
    cap = tmp_path / "publish" / "cap"
    for identifier in transitions:
        document = (cap / f"{identifier}.xml").read_bytes()
        validate(document)
        assert b"<status>Exercise</status>" in document
    assert queued == sum(1 for t in transitions if t.split("-")[2] == QUANG_DIEN)
    assert f"{len(transitions)} alert transitions → {len(transitions)} CAP documents" in out
    # the static snapshot of the last step, beside the CAP files
    snapshot = tmp_path / "publish"
    assert (snapshot / "index.html").is_file() and (snapshot / "cap" / "index.atom").is_file()
    assert b'"as_of":"2025-11-16T21:00:00+00:00"' in (snapshot / "api" / "areas.geojson"
                                                       ).read_bytes().replace(b" ", b"")
    # again: nothing new (the same runs, no transitions, no notifications)
    assert cli(args) == 0
    assert "(0 new in this run)" in capsys.readouterr().out
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(ModelRun)) == 11


def test_replay_run_refuses_bad_input(engine: Engine, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    load_region(engine, load_definition("hue"))
    monkeypatch.setenv("FLOODWATCH_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("FLOODWATCH_DATA_DIR", str(tmp_path))
    assert cli(["replay", "run", "atlantis-1999"]) == 4
    assert cli(["replay", "run", "hue-2025-11", "--since", "2025-11-18", "--until",
                "2025-11-17"]) == 2
    assert "before the start" in capsys.readouterr().err
    assert cli(["replay", "run", "hue-2025-11", "--every-hours", "0"]) == 2
