"""Lifecycle: table-driven sequences of (time, condition) → the transitions they must produce."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from floodwatch.core.errors import ConfigError, InputError
from floodwatch.warnings import rules
from floodwatch.warnings.lifecycle import (
    AlertState,
    LifecyclePolicy,
    Phase,
    Transition,
    TransitionKind,
    step,
)
from floodwatch.warnings.model import Condition, GaugeReading, Hazard
from floodwatch.warnings.ruleset import load_ruleset

T0 = datetime(2025, 11, 17, 0, 0, tzinfo=UTC)
WARD = "19858"
H = timedelta(hours=1)
POLICY = LifecyclePolicy(fire_after=1 * H, hold_for=3 * H, stale_after=6 * H)
ALERT, UPDATE, CANCEL = TransitionKind.ALERT, TransitionKind.UPDATE, TransitionKind.CANCEL


@dataclass(frozen=True)
class Ev:
    """At ``minute`` the condition has ``level`` (None: none), its inputs ``lag`` minutes old
    or, with ``inputs_at``, frozen at that minute (a feed that stopped)."""

    minute: int
    level: int | None
    lag: int = 0
    inputs_at: int | None = None


def cond(level: int, now: datetime, inputs_at: datetime) -> Condition:
    return Condition(WARD, Hazard.RIVER_FLOOD, level, now, (f"level {level} in force",),
                     {"level": level}, inputs_at)


def run(events: list[Ev], policy: LifecyclePolicy = POLICY,
        state: AlertState | None = None) -> tuple[AlertState | None, list[Transition]]:
    out = []
    for ev in events:
        now = T0 + timedelta(minutes=ev.minute)
        inputs = T0 + timedelta(minutes=ev.inputs_at) if ev.inputs_at is not None else (
            now - timedelta(minutes=ev.lag))
        c = None if ev.level is None else cond(ev.level, now, inputs)
        if state is None and c is None:
            continue  # nothing known about this ward yet
        state, t = step(state, c, now=now, policy=policy)
        if t is not None:
            out.append(t)
    return state, out


def brief(ts: list[Transition]) -> list[tuple[int, str, int, int]]:
    return [(int((t.at - T0) / timedelta(minutes=1)), str(t.kind), t.level, t.previous_level)
            for t in ts]


def hourly(levels: list[int | None], start: int = 0) -> list[Ev]:
    return [Ev(start + 60 * i, lvl) for i, lvl in enumerate(levels)]


ZERO_WAIT = LifecyclePolicy(fire_after=timedelta(0), hold_for=timedelta(0), stale_after=6 * H)
SHORT_STALE = LifecyclePolicy(fire_after=1 * H, hold_for=3 * H, stale_after=3 * H)

CASES = [
    ("fires after the wait", POLICY, [Ev(0, 1), Ev(30, 1), Ev(60, 1)],
     [(60, "alert", 1, 0)]),
    ("fires at the highest level seen while pending", POLICY, [Ev(0, 1), Ev(30, 2), Ev(60, 1)],
     [(60, "alert", 2, 0)]),
    ("fire_after 0 fires at once", ZERO_WAIT, [Ev(0, 2)], [(0, "alert", 2, 0)]),
    ("a short blip never fires", POLICY, [Ev(0, 3), Ev(30, None), Ev(60, None), Ev(90, 3),
                                          Ev(120, None)], []),
    ("escalation is immediate", POLICY, [Ev(0, 1), Ev(60, 1), Ev(70, 3), Ev(80, 4)],
     [(60, "alert", 1, 0), (70, "update", 3, 1), (80, "update", 4, 3)]),
    ("de-escalation waits hold_for at the lower level", POLICY,
     hourly([3, 3, 2, 2, 2, 2, 2]),
     [(60, "alert", 3, 0), (300, "update", 2, 3)]),
    ("de-escalation steps to the highest level seen while waiting", POLICY,
     hourly([3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1]),
     [(60, "alert", 3, 0), (300, "update", 2, 3), (480, "update", 1, 2)]),
    ("a return to the issued level restarts the wait", POLICY,
     hourly([3, 3, 2, 2, 3, 2, 2, 2, 2]),
     [(60, "alert", 3, 0), (480, "update", 2, 3)]),
    ("all clear after hold_for without a condition", POLICY,
     hourly([2, 2, None, None, None, None]),
     [(60, "alert", 2, 0), (300, "cancel", 0, 2)]),
    ("no all clear while the condition keeps coming back", POLICY,
     hourly([2, 2, None, None, 2, None, None, 2, None, None]),
     [(60, "alert", 2, 0)]),
    ("zero hold clears at once", ZERO_WAIT, [Ev(0, 2), Ev(10, 1), Ev(20, None)],
     [(0, "alert", 2, 0), (10, "update", 1, 2), (20, "cancel", 0, 1)]),
    ("a stale condition expires the alert", POLICY,
     [Ev(0, 2), Ev(60, 2), *[Ev(m, 2, inputs_at=60) for m in (120, 240, 420, 421)]],
     [(60, "alert", 2, 0), (421, "cancel", 0, 2)]),
    ("no condition and the last input too old: expires before the all clear", SHORT_STALE,
     [Ev(0, 2, lag=50), Ev(60, 2, lag=50), Ev(120, None), Ev(180, None), Ev(240, None)],
     [(60, "alert", 2, 0), (240, "cancel", 0, 2)]),
    ("a stale condition never starts an alert", POLICY,
     [Ev(m, 3, lag=400) for m in (0, 60, 120, 180)], []),
    ("a new alert after a cancel", ZERO_WAIT, [Ev(0, 1), Ev(10, None), Ev(20, 2)],
     [(0, "alert", 1, 0), (10, "cancel", 0, 1), (20, "alert", 2, 0)]),
]


@pytest.mark.parametrize(("name", "policy", "events", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_sequences(name: str, policy: LifecyclePolicy, events: list[Ev],
                   expected: list[tuple[int, str, int, int]]) -> None:
    _, got = run(events, policy)
    assert brief(got) == expected
    assert [t.sequence for t in got] == list(range(1, len(got) + 1))


def test_no_flapping_on_a_noisy_gauge_around_bd2() -> None:
    """Kim Long oscillating ±0.08 m around BĐ II (2.00 m) every 15 min for 12 h: the rules give
    levels 1 and 2 in turn; the lifecycle sends one alert and nothing else."""
    ruleset = load_ruleset("hue")
    state, sent = None, []
    for i in range(48):
        now = T0 + timedelta(minutes=15 * i)
        level_m = 2.0 + 0.08 * math.sin(i * 2.1)
        reading = GaugeReading("71520", round(level_m, 2), now)
        c = rules.river_flood_condition(ruleset, "19753", [reading], as_of=now)
        assert c is not None
        state, t = step(state, c, now=now, policy=POLICY)
        sent += [t] if t else []
    assert brief(sent) == [(60, "alert", 2, 0)]
    assert state is not None and state.phase in (Phase.FIRING, Phase.RESOLVING)


def test_transitions_say_why() -> None:
    events = [*hourly([2, 2, 3, None, None, None, None]), Ev(600, 2), Ev(660, 2),
              Ev(1200, 2, inputs_at=660)]
    _, got = run(events)
    alert, up, clear, alert2, stale = got
    assert alert.reason.startswith("alert: river_flood level 2 has held since "
                                   "2025-11-17T00:00+00:00 (1 h ≥ fire_after 1 h): level 2 in")
    assert up.kind is UPDATE
    assert up.reason == "escalation from level 2 to 3, issued at once: level 3 in force"
    assert clear.level == 0 and clear.previous_level == 3
    assert clear.kind is CANCEL and clear.reason.startswith("all clear: no river_flood condition "
                                                            "since 2025-11-17T03:00+00:00 (3 h")
    assert stale.reason.startswith("inputs stale since 2025-11-17T11:00+00:00: the newest input "
                                   "is 9 h old > stale_after 6 h")
    assert alert.evidence["level"] == 2 and alert.evidence["lifecycle"]["rule"] == "fire_after"
    assert clear.evidence["lifecycle"]["rule"] == "all_clear"
    assert stale.evidence["lifecycle"]["rule"] == "stale" and stale.evidence["level"] == 2
    assert alert2.kind is ALERT


def test_de_escalation_reason() -> None:
    _, got = run(hourly([3, 3, 2, 2, 2, 2]))
    assert got[-1].reason.startswith("de-escalation from level 3 to 2: below level 3 since "
                                     "2025-11-17T02:00+00:00 (3 h ≥ hold_for 3 h)")


def test_pending_blip_goes_back_to_inactive() -> None:
    state, got = run([Ev(0, 2), Ev(30, None)])
    assert got == [] and state is not None and state.phase is Phase.INACTIVE


def test_state_round_trips_through_the_store_format() -> None:
    state, _ = run(hourly([3, 3, 2]))
    assert state is not None and state.phase is Phase.RESOLVING
    again = AlertState.from_data(state.area_code, str(state.hazard), str(state.phase),
                                 state.level, state.to_data())
    assert again == state


@pytest.mark.parametrize(("fire_after", "hold_for", "stale_after"), [
    (-H, H, 6 * H), (H, -H, 6 * H), (H, H, timedelta(0)), (H, 6 * H, 3 * H),
])
def test_policy_is_checked(fire_after: timedelta, hold_for: timedelta,
                           stale_after: timedelta) -> None:
    with pytest.raises(ConfigError):
        LifecyclePolicy(fire_after, hold_for, stale_after)


def test_bad_calls_are_refused() -> None:
    c = cond(2, T0, T0)
    state, _ = step(None, c, now=T0, policy=POLICY)
    with pytest.raises(InputError, match="backwards"):
        step(state, c, now=T0 - H, policy=POLICY)
    with pytest.raises(InputError, match="state or a condition"):
        step(None, None, now=T0, policy=POLICY)
    other = Condition("19753", Hazard.RIVER_FLOOD, 2, T0, ("x",), {}, T0)
    with pytest.raises(InputError, match="19753"):
        step(state, other, now=T0, policy=POLICY)
    with pytest.raises(InputError, match="timezone"):
        step(state, c, now=datetime(2025, 11, 17), policy=POLICY)


def test_a_higher_stage_at_the_same_level_is_announced_once() -> None:
    """Level 2 spans BĐ II to BĐ III + 1 m: a gauge passing BĐ III (stage 2 → 3) is an update
    at once; hovering around BĐ III afterwards (3, 2, 3) announces nothing more; a new level
    resets the stage."""
    state: AlertState | None = None
    out = []
    for hour, (level, stage) in enumerate([(2, 2), (2, 2), (2, 3), (2, 2), (2, 3), (3, 3)]):
        now = T0 + hour * H
        c = replace(cond(level, now, now), stage=stage)
        state, t = step(state, c, now=now, policy=POLICY)
        out += [t] if t is not None else []
    assert brief(out) == [(60, "alert", 2, 0), (120, "update", 2, 2), (300, "update", 3, 2)]
    assert "stage 2 → 3" in out[1].reason and out[1].evidence["lifecycle"]["rule"] == "stage"
    assert state is not None and state.stage == 3
    assert AlertState.from_data(WARD, "river_flood", "firing", 3, state.to_data()).stage == 3
