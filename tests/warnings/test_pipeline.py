"""The warnings step on the real Huế region and the real November 2025 gauge series, on both
backends: the alert timeline follows the BĐ crossings in the data, every CAP document validates
and chains to the one before, assessing twice adds nothing, a stale gauge expires its alerts,
and the store, the callback and the published files are all or nothing."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from lxml import etree
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from floodwatch.core.db import transaction
from floodwatch.core.errors import InputError
from floodwatch.gis_data.loader import load_region
from floodwatch.gis_data.models import Area, Reading, Station
from floodwatch.gis_data.region import BUNDLED_DIR, load_definition
from floodwatch.hydro.backfill import load_series
from floodwatch.hydro.models import AreaResult, ModelRun
from floodwatch.warnings import capfeed, rules
from floodwatch.warnings.cap import CAP_NS, cap_time, validate
from floodwatch.warnings.capdocs import CapOptions
from floodwatch.warnings.pipeline import DEFAULT_POLICY, AssessResult, assess
from floodwatch.warnings.ruleset import load_ruleset
from floodwatch.warnings.tables import AlertStateRow, AlertTransition

HUE = load_ruleset("hue")
CSV = BUNDLED_DIR / "hue" / "timeseries" / "hue_river_water_levels_2025-11.csv"
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
KIM_LONG, PHU_OC = "71520", "71518"
H = timedelta(hours=1)
FIRE, HOLD, STALE = DEFAULT_POLICY.fire_after, DEFAULT_POLICY.hold_for, DEFAULT_POLICY.stale_after
OPTIONS = CapOptions(sender="canhbao@floodwatch.hue.example", status="Test",
                     base_url="https://floodwatch.hue.example")
NS = {"cap": CAP_NS, "atom": capfeed.ATOM_NS}

# The BĐ crossings of the real series in UTC (the CSV is local time, UTC+7); test_crossings
# checks them against the file, so the timeline below is tied to the data.
START = datetime(2025, 11, 15, 0, tzinfo=UTC)  # both gauges already above BĐ I
KL_BD2_UP = datetime(2025, 11, 16, 19, tzinfo=UTC)  # 17 Nov 02:00 local, 1.81 → 2.12 m
KL_BD2_DOWN = datetime(2025, 11, 18, 5, tzinfo=UTC)  # 2.06 → 1.91 m
KL_BD1_DOWN = datetime(2025, 11, 23, 11, tzinfo=UTC)  # 1.00 → 0.97 m, for good
PO_BD2_UP = datetime(2025, 11, 16, 14, tzinfo=UTC)  # 2.85 → 3.06 m
PO_BD3_UP = datetime(2025, 11, 16, 20, tzinfo=UTC)  # 17 Nov 03:00 local, 4.43 → 4.57 m
PO_BD3_DOWN = datetime(2025, 11, 17, 20, tzinfo=UTC)
PO_BD2_DOWN = datetime(2025, 11, 18, 7, tzinfo=UTC)
PO_BD2_UP2 = datetime(2025, 11, 19, 4, tzinfo=UTC)
PO_BD2_DOWN2 = datetime(2025, 11, 19, 15, tzinfo=UTC)
PO_BD1_DOWN = datetime(2025, 11, 23, 20, tzinfo=UTC)  # 24 Nov 03:00 local
# Kim Long dips below BĐ I for 5 h at a time (shorter than hold_for): no all clear then.
KL_BD1 = [(datetime(2025, 11, 15, 8, tzinfo=UTC), "down"), (datetime(2025, 11, 15, 13,
          tzinfo=UTC), "up"), (datetime(2025, 11, 15, 20, tzinfo=UTC), "down"),
          (datetime(2025, 11, 16, 1, tzinfo=UTC), "up"), (datetime(2025, 11, 22, 1, tzinfo=UTC),
          "down"), (datetime(2025, 11, 22, 6, tzinfo=UTC), "up"), (KL_BD1_DOWN, "down")]
END = datetime(2025, 11, 24, 3, tzinfo=UTC)  # after Phú Ốc's all clear

KL_WARDS = set(HUE.wards_of(KIM_LONG))
PO_WARDS = set(HUE.wards_of(PHU_OC))
KL_ONLY, PO_ONLY, BOTH = KL_WARDS - PO_WARDS, PO_WARDS - KL_WARDS, KL_WARDS & PO_WARDS

Row = tuple[datetime, str, int, int]  # (at, kind, level, previous level)
EXPECTED: dict[frozenset[str], list[Row]] = {
    frozenset(KL_ONLY): [
        (START + FIRE, "alert", 1, 0),
        (KL_BD2_UP, "update", 2, 1),  # escalation is immediate
        (KL_BD2_DOWN + HOLD, "update", 1, 2),
        (KL_BD1_DOWN + HOLD, "cancel", 0, 1),
    ],
    frozenset(PO_ONLY): [
        (START + FIRE, "alert", 1, 0),
        (PO_BD2_UP, "update", 2, 1),
        # BĐ III at Phú Ốc keeps risk level 2 (BĐ II ≤ h < BĐ III + 1 m) but is announced
        (PO_BD3_UP, "update", 2, 2),
        (PO_BD2_DOWN + HOLD, "update", 1, 2),
        (PO_BD2_UP2, "update", 2, 1),
        (PO_BD2_DOWN2 + HOLD, "update", 1, 2),
        (PO_BD1_DOWN + HOLD, "cancel", 0, 1),
    ],
    frozenset(BOTH): [  # the higher of the two gauges
        (START + FIRE, "alert", 1, 0),
        (PO_BD2_UP, "update", 2, 1),
        (PO_BD3_UP, "update", 2, 2),
        (max(KL_BD2_DOWN, PO_BD2_DOWN) + HOLD, "update", 1, 2),
        (PO_BD2_UP2, "update", 2, 1),
        (PO_BD2_DOWN2 + HOLD, "update", 1, 2),
        (max(KL_BD1_DOWN, PO_BD1_DOWN) + HOLD, "cancel", 0, 1),
    ],
}


def series(code: str) -> list[tuple[datetime, float]]:
    with CSV.open(encoding="utf-8") as fh:
        return [(datetime.fromisoformat(r["time_local_utc7"]).replace(tzinfo=LOCAL)
                 .astimezone(UTC), float(r["water_level_m"]))
                for r in csv.DictReader(fh) if r["station_code"] == code and r["water_level_m"]]


def test_crossings_in_the_real_series() -> None:
    def cross(code: str, level: float) -> list[tuple[datetime, str]]:
        return [(c.at, c.direction) for c in rules.crossings(series(code), level)
                if START <= c.at <= END]

    assert (KIM_LONG, HUE.gauges[KIM_LONG].alarms_m) == (KIM_LONG, (1.0, 2.0, 3.5))
    assert HUE.gauges[PHU_OC].alarms_m == (1.5, 3.0, 4.5)
    assert cross(KIM_LONG, 1.0) == KL_BD1
    assert cross(KIM_LONG, 2.0) == [(KL_BD2_UP, "up"), (KL_BD2_DOWN, "down")]
    assert cross(PHU_OC, 1.5) == [(PO_BD1_DOWN, "down")]
    assert cross(PHU_OC, 3.0) == [(PO_BD2_UP, "up"), (PO_BD2_DOWN, "down"),
                                  (PO_BD2_UP2, "up"), (PO_BD2_DOWN2, "down")]
    assert cross(PHU_OC, 4.5) == [(PO_BD3_UP, "up"), (PO_BD3_DOWN, "down")]
    assert "19774" in KL_ONLY and KL_ONLY and PO_ONLY and BOTH  # Kim Long ward itself


# ------------------------------------------------------------------------------- helpers

def hue_store(engine: Engine) -> None:
    load_region(engine, load_definition("hue"))
    load_series(engine, "hue-2025-11")


def hours(start: datetime, end: datetime) -> Iterator[datetime]:
    at = start
    while at <= end:
        yield at
        at += H


def replay(engine: Engine, start: datetime, end: datetime, publish: Path | None = None,
           **kw: object) -> dict[datetime, AssessResult]:
    return {at: assess(engine, "hue", at=at, publish_dir=publish, cap_options=OPTIONS,
                       **kw)  # type: ignore[arg-type]
            for at in hours(start, end)}


def stored(engine: Engine) -> list[tuple[str, AlertTransition]]:
    with transaction(engine) as s:
        return [(code, t) for t, code in s.execute(
            sa.select(AlertTransition, Area.code).join(Area, Area.id == AlertTransition.area_id)
            .order_by(AlertTransition.at, Area.code, AlertTransition.hazard))]


def timeline(rows: list[tuple[str, AlertTransition]], hazard: str = "river_flood"
             ) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = defaultdict(list)
    for code, t in rows:
        if t.hazard == hazard:
            out[code].append((t.at, t.kind, t.level, t.previous_level))
    return out


def counts(engine: Engine) -> tuple[int, int]:
    with transaction(engine) as s:
        return (s.scalar(sa.select(sa.func.count()).select_from(AlertTransition)) or 0,
                s.scalar(sa.select(sa.func.count()).select_from(AlertStateRow)) or 0)


def parse(path: Path) -> etree._Element:
    return etree.fromstring(path.read_bytes())


# ------------------------------------------------------------------------------- the replay

def test_replay_of_november_2025(engine: Engine, tmp_path: Path) -> None:
    hue_store(engine)
    results: dict[datetime, AssessResult] = {}
    index_mid = b""
    for at in hours(START, END):
        results[at] = assess(engine, "hue", at=at, publish_dir=tmp_path, cap_options=OPTIONS)
        if at == KL_BD2_UP:
            index_mid = (tmp_path / "cap" / "index.atom").read_bytes()
    rows = stored(engine)
    got = timeline(rows)

    # the alerts, escalations, de-escalations and all clears follow the BĐ crossings
    assert set(got) == KL_WARDS | PO_WARDS
    for wards, expected in EXPECTED.items():
        for ward in sorted(wards):
            assert got[ward] == expected, ward
    # gauge inputs only: river floods; Phú Ốc's 3-h rise reaches 0.3 m/h for one hour only
    # (16 Nov 19:00 UTC), so the rapid-rise condition is a blip that never fires
    assert {t.hazard for _, t in rows} == {"river_flood"}
    assert any(c.hazard == "rapid_rise" for c in results[PO_BD3_UP - H].conditions)
    # the BĐ III crossing at Phú Ốc keeps risk level 2 and is announced as an update, once
    po_only = sorted(PO_ONLY)[0]
    at_bd3 = [c for c in results[PO_BD3_UP].conditions
              if c.area_code == po_only and c.hazard == "river_flood"]
    assert at_bd3[0].level == 2 and "Phú Ốc 4.57 m ≥ BĐ III 4.50 m" in at_bd3[0].reasons[0]
    assert at_bd3[0].stage == 3
    staged = results[PO_BD3_UP].transitions
    assert len(staged) == len(PO_WARDS)
    assert all("stage 2 → 3" in t.reason and "BĐ III" in t.reason for t in staged)

    # what the caller gets back is what was stored
    returned = [t for r in results.values() for t in r.transitions]
    assert sorted(t.id for t in returned) == sorted(t.id for _, t in rows)
    assert all(t.run_id is None for _, t in rows)

    # sequences count up per ward × hazard; identifiers are unique and stable
    per_key: dict[tuple[int, str], list[int]] = defaultdict(list)
    for code, t in rows:
        per_key[(t.area_id, t.hazard)].append(t.sequence)
        assert t.cap_identifier == f"floodwatch-hue-{code}-{t.hazard}-{t.sequence}"
        assert t.reason and t.evidence["lifecycle"]["rule"]
    assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in per_key.values())
    first = next(t for code, t in rows if code == "19774" and t.kind == "alert")
    assert "Kim Long" in first.reason and "BĐ I 1.00 m" in first.reason
    assert first.evidence["ruleset"] == HUE.label
    assert [g["code"] for g in first.evidence["inputs"]["gauges"]] == [KIM_LONG]

    # every CAP document is on disk, valid, and chains to the one before
    cap_dir = tmp_path / "cap"
    files = {p.stem: p for p in cap_dir.glob("*.xml")}
    assert set(files) == {t.cap_identifier for _, t in rows}
    previous: dict[tuple[int, str], AlertTransition] = {}
    for code, t in rows:
        document = files[t.cap_identifier].read_bytes()
        validate(document)
        root = etree.fromstring(document)
        msg_type = {"alert": "Alert", "update": "Update", "cancel": "Cancel"}[t.kind]
        assert root.findtext("cap:msgType", namespaces=NS) == msg_type
        assert root.findtext("cap:status", namespaces=NS) == "Test"
        assert root.findtext("cap:sent", namespaces=NS) == cap_time(t.at, LOCAL)
        assert root.findtext("cap:sent", namespaces=NS).endswith("+07:00")
        before = previous.get((t.area_id, t.hazard))
        if t.kind == "alert":
            assert root.find("cap:references", namespaces=NS) is None
        else:
            assert before is not None
            assert root.findtext("cap:references", namespaces=NS) == (
                f"{OPTIONS.sender},{before.cap_identifier},{cap_time(before.at, LOCAL)}")
        previous[(t.area_id, t.hazard)] = t
        infos = root.findall("cap:info", namespaces=NS)
        assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["vi-VN", "en-US"]
        severity = {0: "Minor", 1: "Minor", 2: "Moderate"}[t.level]
        for info in infos:
            assert info.findtext("cap:severity", namespaces=NS) == severity
            assert info.findtext("cap:area/cap:geocode/cap:value", namespaces=NS) == code
            assert info.findtext("cap:area/cap:polygon", namespaces=NS).count(",") > 3
        vi, en = (i.findtext("cap:headline", namespaces=NS) for i in infos)
        if t.kind == "cancel":
            assert infos[1].findtext("cap:responseType", namespaces=NS) == "AllClear"
            assert vi.startswith("Hủy cảnh báo lũ") and en.startswith("Flood warning cancelled")
        else:
            assert f"Cấp {t.level}" in vi and f"level {t.level}" in en

    # the index lists the alerts in force with their newest documents (all wards escalated to
    # level 2 by then, their second document); none at the end
    mid = etree.fromstring(index_mid)
    links = [e.get("href") for e in mid.findall("atom:entry/atom:link", namespaces=NS)]
    assert sorted(links) == sorted(f"{OPTIONS.base_url}/cap/floodwatch-hue-{w}-river_flood-2.xml"
                                   for w in KL_WARDS | PO_WARDS)
    final = parse(cap_dir / "index.atom")
    assert final.findall("atom:entry", namespaces=NS) == []
    with transaction(engine) as s:
        assert set(s.scalars(sa.select(AlertStateRow.status))) <= {"inactive", "pending"}


# ------------------------------------------------------------------------------- idempotency

def test_assessing_the_same_time_twice_adds_nothing(engine: Engine, tmp_path: Path) -> None:
    hue_store(engine)
    first = replay(engine, START, START + FIRE, tmp_path)
    fired = first[START + FIRE]
    assert len(fired.transitions) == len(KL_WARDS | PO_WARDS)
    before = counts(engine)
    files = {p.name: p.read_bytes() for p in (tmp_path / "cap").iterdir()}
    for at in (START + FIRE, START):  # the same time, and an earlier one
        again = assess(engine, "hue", at=at, publish_dir=tmp_path, cap_options=OPTIONS)
        assert again.skipped and again.last_assessed_at == START + FIRE
        assert again.transitions == () and again.published == ()
    assert counts(engine) == before
    assert {p.name: p.read_bytes() for p in (tmp_path / "cap").iterdir()} == files
    later = assess(engine, "hue", at=START + FIRE + H, publish_dir=tmp_path, cap_options=OPTIONS)
    assert not later.skipped and later.transitions == () and later.published == ()


def test_a_missing_document_is_rebuilt_byte_for_byte(engine: Engine, tmp_path: Path) -> None:
    hue_store(engine)
    replay(engine, START, START + FIRE, tmp_path)
    cap_dir = tmp_path / "cap"
    gone = cap_dir / "floodwatch-hue-19774-river_flood-1.xml"
    original = gone.read_bytes()
    gone.unlink()
    result = assess(engine, "hue", at=START + FIRE + H, publish_dir=tmp_path,
                    cap_options=OPTIONS)
    assert result.transitions == ()
    assert gone.read_bytes() == original
    assert result.published == (gone, cap_dir / "index.atom")


# ------------------------------------------------------------------------------- staleness

def test_a_stale_gauge_expires_its_alerts(engine: Engine, tmp_path: Path) -> None:
    """Phú Ốc stops reporting after 16 Nov 22:00 UTC: 7 h later (> stale_after) its wards'
    alerts are cancelled as stale; wards that Kim Long also speaks for keep theirs."""
    hue_store(engine)
    last = datetime(2025, 11, 16, 22, tzinfo=UTC)
    with transaction(engine) as s:
        station = s.scalar(sa.select(Station.id).where(Station.code == PHU_OC))
        s.execute(sa.delete(Reading).where(Reading.station_id == station,
                                           Reading.observed_at > last))
    start, end = datetime(2025, 11, 16, 12, tzinfo=UTC), datetime(2025, 11, 17, 8, tzinfo=UTC)
    results = replay(engine, start, end, tmp_path)
    expired_at = last + STALE + H
    assert PHU_OC not in results[expired_at - H].stale_gauges
    assert results[expired_at].stale_gauges == {PHU_OC: last}
    got = timeline(stored(engine))
    for ward in PO_ONLY:
        assert got[ward] == [(start + FIRE, "alert", 1, 0), (PO_BD2_UP, "update", 2, 1),
                             (PO_BD3_UP, "update", 2, 2), (expired_at, "cancel", 0, 2)], ward
    for ward in BOTH:  # Kim Long above BĐ II from 19:00 UTC holds them at level 2
        assert [k for _, k, _, _ in got[ward]] == ["alert", "update", "update"], ward
    cancels = results[expired_at].transitions
    assert {t.cap_identifier.split("-")[2] for t in cancels} == PO_ONLY
    cancel = cancels[0]
    assert cancel.reason.startswith("inputs stale since 2025-11-16T22:00")
    assert cancel.evidence["lifecycle"]["rule"] == "stale"
    assert cancel.evidence["inputs"]["stale_gauges"] == {PHU_OC: last.isoformat()}
    root = parse(tmp_path / "cap" / f"{cancel.cap_identifier}.xml")
    assert root.findtext("cap:msgType", namespaces=NS) == "Cancel"
    assert "inputs stale" in root.findtext("cap:note", namespaces=NS)


# ------------------------------------------------------------------------------- model inputs

def add_run(engine: Engine, valid_at: datetime, status: str = "ok",
            results: dict[str, dict[str, float]] | None = None) -> int:
    with transaction(engine) as s:
        run = ModelRun(region="hue", valid_at=valid_at, started_at=valid_at, status=status,
                       inputs=[], stale_inputs=[], parameters={}, timing_s={},
                       inputs_hash="x" * 64)
        s.add(run)
        s.flush()
        ids = dict(s.execute(sa.select(Area.code, Area.id).where(Area.level == "ward")).all())
        for code, values in (results or {}).items():
            s.add(AreaResult(run_id=run.id, area_id=ids[code],
                             **{"flooded_km2": 1.0, "mean_depth_m": None, **values}))
        return run.id


def test_model_run_inputs_and_a_failed_run(engine: Engine, tmp_path: Path) -> None:
    """Modelled flooding and rain in Kim Long ward raise its river-flood level and start their
    own alerts; a failed run is *no data* for them: no all clear, they expire when stale."""
    hue_store(engine)
    t0 = datetime(2025, 11, 17, 0, tzinfo=UTC)  # Kim Long 2.5 m: level 2
    flooded = {"19774": {"flooded_share": 0.3, "max_depth_m": 1.2, "people_affected": 500,
                         "rain_24h_mm": 120.0}}
    runs = [add_run(engine, t0 + i * H, results=flooded) for i in range(2)]
    for i, run_id in enumerate(runs):
        result = assess(engine, "hue", at=t0 + i * H, run_id=run_id, publish_dir=tmp_path,
                        cap_options=OPTIONS)
    mine = {t.hazard: t for t in result.transitions if t.cap_identifier.split("-")[2] == "19774"}
    assert {h: t.level for h, t in mine.items()} == {
        "river_flood": 4, "heavy_rain": 2, "ward_flooding": 3}  # 2 + 1 rain + 1 flooding
    assert all(t.run_id == runs[1] for t in result.transitions)
    assert mine["ward_flooding"].evidence["inputs"]["flooding"]["max_depth_m"] == 1.2
    root = parse(tmp_path / "cap" / f"{mine['ward_flooding'].cap_identifier}.xml")
    en = root.findall("cap:info", namespaces=NS)[1]
    assert en.findtext("cap:event", namespaces=NS) == "Flooding"
    assert "30% of the area flooded" in en.findtext("cap:description", namespaces=NS)

    failed = [add_run(engine, t0 + i * H, "failed") for i in range(2, 10)]
    later = {t0 + i * H: assess(engine, "hue", at=t0 + i * H, run_id=run_id,
                                cap_options=OPTIONS) for i, run_id in enumerate(failed, 2)}
    model = [t for r in later.values() for t in r.transitions
             if t.hazard in ("heavy_rain", "ward_flooding")]
    expiry = t0 + H + STALE + H  # the last usable run's figures are then > stale_after old
    assert sorted((t.at, t.hazard, t.kind) for t in model) == [
        (expiry, "heavy_rain", "cancel"), (expiry, "ward_flooding", "cancel")]
    assert all(t.reason.startswith("inputs stale") for t in model)
    assert later[t0 + 2 * H].notes == (f"model run {failed[0]} is failed: no modelled inputs",)
    with pytest.raises(InputError, match="after the assessed time"):
        assess(engine, "hue", at=t0 + 11 * H, run_id=add_run(engine, t0 + 12 * H))


# ------------------------------------------------------------------------------- atomicity

def test_the_callback_runs_in_the_same_transaction(engine: Engine, tmp_path: Path) -> None:
    hue_store(engine)
    seen: list[int] = []

    def enqueue(session: Session, transitions: Sequence[AlertTransition]) -> None:
        ids = [t.id for t in transitions]
        assert all(ids)
        stored_now = session.scalar(sa.select(sa.func.count()).select_from(AlertTransition))
        assert stored_now == len(ids)  # flushed, visible in the caller's session
        seen.extend(ids)

    replay(engine, START, START + FIRE, tmp_path, on_transitions=enqueue)
    assert sorted(seen) == sorted(t.id for _, t in stored(engine))

    def broken(session: Session, transitions: Sequence[AlertTransition]) -> None:
        raise RuntimeError("outbox down")

    at = PO_BD2_UP  # wards escalate: the callback is called, and fails
    replay(engine, START + FIRE + H, at - H, tmp_path)
    before, files = counts(engine), sorted((tmp_path / "cap").iterdir())
    index = (tmp_path / "cap" / "index.atom").read_bytes()
    with transaction(engine) as s:
        states = {(r.area_id, r.hazard): dict(r.data)
                  for r in s.scalars(sa.select(AlertStateRow))}
    with pytest.raises(RuntimeError, match="outbox down"):
        assess(engine, "hue", at=at, publish_dir=tmp_path, cap_options=OPTIONS,
               on_transitions=broken)
    assert counts(engine) == before
    assert sorted((tmp_path / "cap").iterdir()) == files
    assert (tmp_path / "cap" / "index.atom").read_bytes() == index
    with transaction(engine) as s:
        assert {(r.area_id, r.hazard): dict(r.data)
                for r in s.scalars(sa.select(AlertStateRow))} == states
    retried = assess(engine, "hue", at=at, publish_dir=tmp_path, cap_options=OPTIONS)
    assert retried.transitions and not retried.skipped


def test_a_run_that_could_not_model_flooding_is_no_data_for_ward_flooding(
        engine: Engine, tmp_path: Path) -> None:
    """Runs whose flood figures are unknown (NULL: no fresh river gauge) while their rain is
    known: the ward-flooding alert is neither cleared nor kept forever; it expires as stale."""
    hue_store(engine)
    t0 = datetime(2025, 11, 17, 0, tzinfo=UTC)
    flooded = {"19774": {"flooded_share": 0.3, "max_depth_m": 1.2, "people_affected": 500}}
    unknown = {"19774": {"flooded_share": None, "flooded_km2": None, "max_depth_m": None,
                         "people_affected": None, "rain_24h_mm": 5.0}}
    for i in range(2):
        assess(engine, "hue", at=t0 + i * H, run_id=add_run(engine, t0 + i * H, results=flooded),
               cap_options=OPTIONS)
    later = [assess(engine, "hue", at=t0 + i * H, cap_options=OPTIONS,
                    run_id=add_run(engine, t0 + i * H, results=unknown)) for i in range(2, 10)]
    flooding = [t for r in later for t in r.transitions if t.hazard == "ward_flooding"]
    assert [(t.at, t.kind) for t in flooding] == [(t0 + H + STALE + H, "cancel")]
    assert flooding[0].reason.startswith("inputs stale")
