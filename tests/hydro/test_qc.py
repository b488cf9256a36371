"""Quality control: each flag with a case that triggers it and one that must not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from floodwatch.core.errors import ConfigError, InputError
from floodwatch.hydro.feeds.base import Flag, Observation, Parameter
from floodwatch.hydro.qc import (
    DEFAULT_RULES,
    QcRules,
    RuleBook,
    SeriesKey,
    StoredReading,
    apply_qc,
    stale_series,
    usable_for_alerts,
)

T0 = datetime(2024, 9, 1, tzinfo=UTC)
WL = Parameter.WATER_LEVEL
RAIN = Parameter.RAINFALL
F = Flag


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def obs(
    minutes: float,
    value: float | None,
    *,
    station: str = "S1",
    parameter: Parameter = WL,
    flags: Sequence[Flag] = (),
) -> Observation:
    return Observation(station, parameter, at(minutes), value, "m", "test", frozenset(flags))


@dataclass
class Case:
    id: str
    batch: list[Observation]
    expected: list[set[Flag]]
    previous: dict[SeriesKey, StoredReading | None] = field(default_factory=dict)
    rules: RuleBook | None = None


COUNT4 = RuleBook(by_parameter={WL: QcRules(flat_line_count=4)})
COUNT3 = RuleBook(by_parameter={WL: QcRules(flat_line_count=3)})

CASES = [
    # OUT_OF_RANGE
    Case("range: above max", [obs(0, 100.5)], [{F.OUT_OF_RANGE}]),
    Case("range: below min", [obs(0, -10.5)], [{F.OUT_OF_RANGE}]),
    Case("range: not finite", [obs(0, float("nan"))], [{F.OUT_OF_RANGE}]),
    Case("range: edges are fine", [obs(0, -10.0), obs(15, 0.0, station="S2")], [set(), set()]),
    Case("range: rain 600 mm", [obs(0, 600.0, parameter=RAIN)], [{F.OUT_OF_RANGE}]),
    Case("range: rain 500 mm", [obs(0, 500.0, parameter=RAIN)], [set()]),
    Case("range: negative rain", [obs(0, -0.2, parameter=RAIN)], [{F.OUT_OF_RANGE}]),
    # source flags are kept; a missing value gets nothing else
    Case("source: missing kept", [obs(0, None, flags=[F.MISSING])], [{F.MISSING}]),
    Case("source: provisional kept", [obs(0, 1.0, flags=[F.PROVISIONAL])], [{F.PROVISIONAL}]),
    # DUPLICATE
    Case("duplicate: same time twice", [obs(0, 1.0), obs(0, 1.1)], [set(), {F.DUPLICATE}]),
    Case(
        "duplicate: three times, first kept",
        [obs(0, 1.0), obs(15, 1.0), obs(0, 1.0)],
        [set(), set(), {F.DUPLICATE, F.OUT_OF_ORDER}],
    ),
    Case("duplicate: other station", [obs(0, 1.0), obs(0, 1.0, station="S2")], [set(), set()]),
    Case(
        "duplicate: other parameter",
        [obs(0, 1.0), obs(0, 1.0, parameter=RAIN)],
        [set(), set()],
    ),
    # OUT_OF_ORDER
    Case("order: later then earlier", [obs(15, 1.0), obs(0, 1.0)], [set(), {F.OUT_OF_ORDER}]),
    Case(
        "order: newest is remembered",
        [obs(30, 1.0), obs(0, 1.0), obs(15, 1.0)],
        [set(), {F.OUT_OF_ORDER}, {F.OUT_OF_ORDER}],
    ),
    Case("order: ascending is fine", [obs(0, 1.0), obs(15, 1.0)], [set(), set()]),
    Case(
        "order: backfill older than stored is fine",
        [obs(0, 1.0), obs(15, 1.05)],
        [set(), set()],
        previous={("S1", WL): (at(600), 1.0)},
    ),
    Case(
        "order: series are independent",
        [obs(15, 1.0), obs(0, 1.0, station="S2")],
        [set(), set()],
    ),
    # SPIKE (default water level: 2 m/h, minimum window 15 min)
    Case("spike: 2 m in 15 min", [obs(0, 1.0), obs(15, 3.0)], [set(), {F.SPIKE}]),
    Case("spike: 1.9 m in 1 h", [obs(0, 1.0), obs(60, 2.9)], [set(), set()]),
    Case("spike: fall counts too", [obs(0, 5.0), obs(15, 1.0)], [set(), {F.SPIKE}]),
    Case(
        "spike: against the stored reading",
        [obs(60, 4.0)],
        [{F.SPIKE}],
        previous={("S1", WL): (at(0), 1.0)},
    ),
    Case(
        "spike: stored reading, slow rise",
        [obs(60, 2.5)],
        [set()],
        previous={("S1", WL): (at(0), 1.0)},
    ),
    Case(
        "spike: long gap allows more change",
        [obs(180, 6.0)],
        [set()],
        previous={("S1", WL): (at(0), 1.0)},
    ),
    Case(
        "spike: stored reading later than a backfill is no reference",
        [obs(0, 1.0), obs(15, 1.1)],
        [set(), set()],
        previous={("S1", WL): (at(120), 9.0)},
    ),
    Case(
        "spike: recovery is judged against the last valid value",
        [obs(0, 1.0), obs(15, 5.0), obs(30, 1.1)],
        [set(), {F.SPIKE}, set()],
    ),
    Case(
        "spike: minimum window damps close readings",
        [obs(0, 1.0), obs(1, 1.3)],
        [set(), set()],
    ),
    Case(
        "spike: out-of-range readings are no reference",
        [obs(0, 1.0), obs(15, 150.0), obs(30, 1.2)],
        [set(), {F.OUT_OF_RANGE}, set()],
    ),
    Case(
        "spike: judged in time order, not input order",
        [obs(30, 1.2), obs(0, 1.0), obs(15, 1.1)],
        [set(), {F.OUT_OF_ORDER}, {F.OUT_OF_ORDER}],
    ),
    Case(
        "spike: missing values are skipped",
        [obs(0, 1.0), obs(15, None, flags=[F.MISSING]), obs(30, 1.1)],
        [set(), {F.MISSING}, set()],
    ),
    Case(
        "spike: no check for rain",
        [obs(0, 0.0, parameter=RAIN), obs(60, 90.0, parameter=RAIN)],
        [set(), set()],
    ),
    Case(
        "spike: a re-delivered stored reading is superseded",
        [obs(0, 1.5), obs(15, 1.6)],
        [set(), set()],
        previous={("S1", WL): (at(0), 9.0)},
    ),
    # FLAT_LINE
    Case(
        "flat: count reached",
        [obs(0, 1.0), obs(15, 1.0), obs(30, 1.0), obs(45, 1.0), obs(60, 1.0)],
        [set(), set(), set(), {F.FLAT_LINE}, {F.FLAT_LINE}],
        rules=COUNT4,
    ),
    Case(
        "flat: count not reached",
        [obs(0, 1.0), obs(15, 1.0), obs(30, 1.0), obs(45, 1.01)],
        [set(), set(), set(), set()],
        rules=COUNT4,
    ),
    Case(
        "flat: the stored reading starts the run",
        [obs(15, 1.0), obs(30, 1.0)],
        [set(), {F.FLAT_LINE}],
        previous={("S1", WL): (at(0), 1.0)},
        rules=COUNT3,
    ),
    Case(
        "flat: duration reached (default 24 h)",
        [obs(0, 2.0), obs(12 * 60, 2.0), obs(24 * 60, 2.0)],
        [set(), set(), {F.FLAT_LINE}],
    ),
    Case(
        "flat: duration not reached",
        [obs(0, 2.0), obs(12 * 60, 2.0), obs(23 * 60, 2.0)],
        [set(), set(), set()],
    ),
    Case(
        "flat: a change breaks the run",
        [obs(0, 2.0), obs(12 * 60, 2.1), obs(24 * 60, 2.1)],
        [set(), set(), set()],
    ),
    Case(
        "flat: dry-weather zeros are exempt",
        [obs(h * 60, 0.0, parameter=RAIN) for h in range(8)],
        [set()] * 8,
    ),
    Case(
        "flat: stuck non-zero rain",
        [obs(h * 60, 2.0, parameter=RAIN) for h in range(8)],
        [set()] * 6 + [{F.FLAT_LINE}] * 2,
    ),
    Case(
        "flat: duplicates do not extend the run",
        [obs(0, 1.0), obs(15, 1.0), obs(15, 1.0), obs(30, 1.5)],
        [set(), set(), {F.DUPLICATE}, set()],
        rules=COUNT3,
    ),
    # per-series overrides
    Case(
        "rules: a per-series range override",
        [obs(0, 250.0), obs(0, 250.0, station="S2")],
        [set(), {F.OUT_OF_RANGE}],
        rules=RuleBook(by_series={("S1", WL): QcRules(min_value=200.0, max_value=300.0)}),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_apply_qc(case: Case) -> None:
    result = apply_qc(case.batch, case.rules, previous=case.previous)
    assert [set(o.flags) for o in result] == case.expected
    assert [(o.station, o.observed_at, o.value) for o in result] == [
        (o.station, o.observed_at, o.value) for o in case.batch
    ], "QC must keep every reading, in input order"


def test_unflagged_readings_are_returned_unchanged() -> None:
    batch = [obs(0, 1.0), obs(15, 1.1)]
    result = apply_qc(batch)
    assert all(a is b for a, b in zip(result, batch, strict=True))


def test_rules_may_be_a_plain_mapping_per_parameter() -> None:
    rules = {WL: QcRules(min_value=0.0, max_value=5.0)}
    assert apply_qc([obs(0, 6.0)], rules)[0].flags == {F.OUT_OF_RANGE}
    # a parameter the mapping does not cover falls back to the defaults
    assert apply_qc([obs(0, 600.0, parameter=RAIN)], rules)[0].flags == {F.OUT_OF_RANGE}


def test_naive_time_is_an_input_error() -> None:
    naive = Observation("S1", WL, datetime(2024, 9, 1), 1.0, "m", "test")
    with pytest.raises(InputError):
        apply_qc([naive])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_value": 5.0, "max_value": 1.0},
        {"max_change_per_h": 0.0},
        {"cadence_s": -1.0},
        {"flat_line_count": 1},
        {"stale_tolerance": 0.0},
    ],
)
def test_invalid_rules_are_a_config_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        QcRules(**kwargs)  # type: ignore[arg-type]


def test_every_parameter_has_defaults() -> None:
    assert set(DEFAULT_RULES) == set(Parameter)


NOW = at(600)

STALE_CASES = [
    # (id, newest, cadence_s, parameter, tolerance, stale?)
    ("fresh", at(570), 900.0, WL, None, False),
    ("older than 15 min x 4", at(539), 900.0, WL, None, True),
    ("exactly at the limit", at(540), 900.0, WL, None, False),
    ("never reported", None, 900.0, WL, None, True),
    ("rule cadence: rain 1 h x 4, 3 h old", at(420), None, RAIN, None, False),
    ("rule cadence: rain 1 h x 4, 5 h old", at(300), None, RAIN, None, True),
    ("tighter tolerance", at(560), 900.0, WL, 2.0, True),
]


@pytest.mark.parametrize(
    ("newest", "cadence_s", "parameter", "tolerance", "is_stale"),
    [c[1:] for c in STALE_CASES],
    ids=[c[0] for c in STALE_CASES],
)
def test_stale_series(
    newest: datetime | None,
    cadence_s: float | None,
    parameter: Parameter,
    tolerance: float | None,
    is_stale: bool,
) -> None:
    found = stale_series({("S1", parameter): newest}, NOW, cadence_s, tolerance=tolerance)
    assert bool(found) is is_stale
    if found:
        assert found[0].station == "S1"
        assert found[0].parameter == parameter
        assert found[0].newest_at == newest


def test_stale_series_reports_age_and_sorts() -> None:
    found = stale_series({("S2", WL): at(0), ("S1", WL): at(300)}, NOW, 900.0)
    assert [s.station for s in found] == ["S1", "S2"]
    assert found[1].age_s == 600 * 60
    assert found[1].allowed_s == 3600


def test_stale_series_needs_an_aware_now() -> None:
    with pytest.raises(InputError):
        stale_series({("S1", WL): at(0)}, datetime(2024, 9, 1), 900.0)


ALERT_CASES = [
    ("clean", 1.0, [], frozenset(), True),
    ("provisional", 1.0, [F.PROVISIONAL], frozenset(), True),
    ("provisional and estimated", 1.0, [F.PROVISIONAL, F.ESTIMATED], frozenset(), True),
    ("spike", 1.0, [F.SPIKE], frozenset(), False),
    ("spike allowed", 1.0, [F.SPIKE], frozenset({F.SPIKE}), True),
    ("spike and flat, one allowed", 1.0, [F.SPIKE, F.FLAT_LINE], frozenset({F.SPIKE}), False),
    ("out of order", 1.0, [F.OUT_OF_ORDER], frozenset(), False),
    ("stale", 1.0, [F.STALE], frozenset(), False),
    ("suspect", 1.0, [F.SUSPECT, F.PROVISIONAL], frozenset(), False),
    ("no value", None, [F.MISSING], frozenset({F.MISSING}), False),
]


@pytest.mark.parametrize(
    ("value", "flags", "allow", "usable"),
    [c[1:] for c in ALERT_CASES],
    ids=[c[0] for c in ALERT_CASES],
)
def test_usable_for_alerts(
    value: float | None, flags: list[Flag], allow: frozenset[Flag], usable: bool
) -> None:
    assert usable_for_alerts(obs(0, value, flags=flags), allow_flags=allow) is usable
