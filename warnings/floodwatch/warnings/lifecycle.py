"""The alert lifecycle of one ward × hazard: one pure state-machine step with injected time.

Modelled on Prometheus Alertmanager (inactive → pending → firing → resolved, with hold times):

    inactive  --condition-->  pending(level, since)
    pending   --held ≥ fire_after-->  firing            ALERT at the highest level seen pending
    pending   --condition gone-->     inactive          nothing sent: a blip never fires
    firing    --higher level-->       firing            UPDATE at once (escalation never waits)
    firing    --lower level / gone--> resolving(level, below_since, candidate_level)
    resolving --back at ≥ level-->    firing            UPDATE only if higher: flapping is silent
    resolving --below for ≥ hold_for, candidate > 0-->  firing at candidate    UPDATE (de-escalate)
    resolving --gone for ≥ hold_for-->                  inactive               CANCEL "all clear"
    firing/resolving --inputs stale-->                  inactive               CANCEL "inputs stale"

``candidate_level`` is the highest level seen since ``below_since`` (0 = the condition has been
gone throughout): a de-escalation never goes below anything seen within ``hold_for``. A
condition is stale when ``now - inputs_newest_at > stale_after``; a stale condition counts as
no data: it never starts or keeps a pending alert, and it expires a firing one. With no condition
at all, "gone" cannot be told from "no data", so the last input seen decides: older than
``stale_after`` → expire, unless the all-clear is due first (hence ``stale_after ≥ hold_for``).
Each transition carries a reason naming the rule and the values, and the condition's evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from floodwatch.core.errors import ConfigError, InputError
from floodwatch.warnings.model import Condition, Hazard


class Phase(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVING = "resolving"


class TransitionKind(StrEnum):
    ALERT = "alert"
    UPDATE = "update"
    CANCEL = "cancel"


@dataclass(frozen=True)
class LifecyclePolicy:
    fire_after: timedelta  # a condition must hold this long before an alert fires (0: at once)
    hold_for: timedelta  # de-escalation and all-clear wait this long
    stale_after: timedelta  # inputs older than this expire the alert

    def __post_init__(self) -> None:
        if min(self.fire_after, self.hold_for) < timedelta(0) or self.stale_after <= timedelta(0):
            raise ConfigError("fire_after and hold_for must be ≥ 0 and stale_after > 0")
        if self.stale_after < self.hold_for:
            raise ConfigError(f"stale_after ({self.stale_after}) must be ≥ hold_for "
                              f"({self.hold_for}), or a quiet ward would expire before its "
                              f"all clear")


@dataclass(frozen=True)
class AlertState:
    """Where one ward × hazard stands; ``level`` is the pending or issued level (0: none)."""

    area_code: str
    hazard: Hazard
    phase: Phase = Phase.INACTIVE
    level: int = 0
    since: datetime | None = None  # pending: first seen; firing/resolving: when the alert fired
    last_level_change: datetime | None = None
    below_since: datetime | None = None  # resolving: first step below the issued level
    candidate_level: int = 0  # resolving: highest level seen since below_since (0: gone)
    sequence: int = 0  # of the last transition issued
    last_input_at: datetime | None = None  # newest inputs_newest_at seen
    updated_at: datetime | None = None  # the `now` of the last step
    stage: int = 0  # the highest stage announced at the current level (see Condition.stage)

    def to_data(self) -> dict[str, Any]:
        """JSON for the store's ``alert_states.data`` (phase and level have their own columns)."""
        times = ("since", "last_level_change", "below_since", "last_input_at", "updated_at")
        data: dict[str, Any] = {k: _t_or_none(getattr(self, k)) for k in times}
        return data | {"candidate_level": self.candidate_level, "sequence": self.sequence,
                       "stage": self.stage}

    @classmethod
    def from_data(cls, area_code: str, hazard: str, phase: str, level: int,
                  data: dict[str, Any]) -> AlertState:
        def when(key: str) -> datetime | None:
            value = data.get(key)
            return None if value is None else datetime.fromisoformat(value)

        return cls(area_code, Hazard(hazard), Phase(phase), level, when("since"),
                   when("last_level_change"), when("below_since"),
                   int(data.get("candidate_level", 0)), int(data.get("sequence", 0)),
                   when("last_input_at"), when("updated_at"), int(data.get("stage", 0)))


@dataclass(frozen=True)
class Transition:
    area_code: str
    hazard: Hazard
    kind: TransitionKind
    level: int  # the level now in force; 0 for a cancel
    previous_level: int  # the level issued before; 0 for a first alert
    at: datetime
    reason: str
    evidence: dict[str, Any] = field(hash=False)
    sequence: int


Step = tuple[AlertState, Transition | None]


def step(
    state: AlertState | None, condition: Condition | None, *, now: datetime,
    policy: LifecyclePolicy,
) -> Step:
    """Advance one ward × hazard to ``now`` given the condition in force (None: none)."""
    if now.tzinfo is None:
        raise InputError("step needs a timezone-aware 'now'")
    if state is None:
        if condition is None:
            raise InputError("step needs a state or a condition to know the ward and hazard")
        state = AlertState(condition.area_code, condition.hazard)
    if condition is not None and (condition.area_code, condition.hazard) != (
            state.area_code, state.hazard):
        raise InputError(f"condition for {condition.area_code}/{condition.hazard} given to the "
                         f"state of {state.area_code}/{state.hazard}")
    if state.updated_at is not None and now < state.updated_at:
        raise InputError(f"time went backwards: {now} is before the last step {state.updated_at}")
    last_input = state.last_input_at
    if condition is not None and (last_input is None or condition.inputs_newest_at > last_input):
        last_input = condition.inputs_newest_at
    state = replace(state, updated_at=now, last_input_at=last_input)

    stale = condition is not None and now - condition.inputs_newest_at > policy.stale_after
    if state.phase in (Phase.INACTIVE, Phase.PENDING):
        if condition is None or stale:
            return _inactive(state), None
        return _pending(state, condition, now, policy)
    if stale:
        assert condition is not None
        return _expire(state, condition.inputs_newest_at, now, policy, dict(condition.evidence))
    if condition is not None and condition.level >= state.level:
        return _firing(state, condition, now)
    return _resolving(state, condition, now, policy)


def _inactive(state: AlertState) -> AlertState:
    return AlertState(state.area_code, state.hazard, sequence=state.sequence,
                      last_input_at=state.last_input_at, updated_at=state.updated_at)


def _pending(state: AlertState, c: Condition, now: datetime, policy: LifecyclePolicy) -> Step:
    if state.phase is Phase.INACTIVE:
        state = replace(state, phase=Phase.PENDING, level=c.level, since=now)
    state = replace(state, level=max(state.level, c.level))
    since = state.since
    assert since is not None
    held = now - since
    if held < policy.fire_after:
        return state, None
    fired = replace(state, phase=Phase.FIRING, since=now, last_level_change=now,
                    sequence=state.sequence + 1, stage=c.stage)
    reason = (f"alert: {c.hazard} level {fired.level} has held since {_t(since)} "
              f"({_d(held)} ≥ fire_after {_d(policy.fire_after)}): {'; '.join(c.reasons)}")
    evidence = _evidence(c, rule="fire_after", since=_t(since),
                         fire_after_s=policy.fire_after.total_seconds())
    return fired, _transition(fired, TransitionKind.ALERT, 0, now, reason, evidence)


def _firing(state: AlertState, c: Condition, now: datetime) -> Step:
    """The condition is at or above the issued level: stay, or escalate at once. At the same
    level a higher stage (a gauge passing the next BĐ level) is announced at once too; a lower
    one is not (the stage only rises within a level, so a gauge hovering at BĐ III does not
    flap)."""
    back = replace(state, phase=Phase.FIRING, below_since=None, candidate_level=0)
    if c.level == state.level:
        if c.stage <= state.stage:
            return back, None
        staged = replace(back, stage=c.stage, sequence=state.sequence + 1)
        reason = (f"update at level {state.level}: stage {state.stage} → {c.stage}, issued at "
                  f"once: {'; '.join(c.reasons)}")
        evidence = _evidence(c, rule="stage", previous_stage=state.stage)
        return staged, _transition(staged, TransitionKind.UPDATE, state.level, now, reason,
                                   evidence)
    up = replace(back, level=c.level, last_level_change=now, sequence=state.sequence + 1,
                 stage=c.stage)
    reason = (f"escalation from level {state.level} to {c.level}, issued at once: "
              f"{'; '.join(c.reasons)}")
    evidence = _evidence(c, rule="escalate")
    return up, _transition(up, TransitionKind.UPDATE, state.level, now, reason, evidence)


def _resolving(
    state: AlertState, c: Condition | None, now: datetime, policy: LifecyclePolicy
) -> Step:
    """The condition is below the issued level or gone: wait hold_for, then step down."""
    current = 0 if c is None else c.level
    if state.phase is Phase.FIRING:
        state = replace(state, phase=Phase.RESOLVING, below_since=now, candidate_level=current)
    state = replace(state, candidate_level=max(state.candidate_level, current))
    assert state.below_since is not None
    below = now - state.below_since
    if below < policy.hold_for:
        if c is None and state.last_input_at is not None and (
                now - state.last_input_at > policy.stale_after):
            return _expire(state, state.last_input_at, now, policy, {})
        return state, None
    seq = state.sequence + 1
    if state.candidate_level == 0:
        cleared = replace(_inactive(state), sequence=seq)
        reason = (f"all clear: no {state.hazard} condition since {_t(state.below_since)} "
                  f"({_d(below)} ≥ hold_for {_d(policy.hold_for)}); level {state.level} ends")
        evidence = {"lifecycle": {"rule": "all_clear", "clear_since": _t(state.below_since),
                                  "hold_for_s": policy.hold_for.total_seconds()}}
        return cleared, _transition(cleared, TransitionKind.CANCEL, state.level, now, reason,
                                    evidence)
    new = state.candidate_level
    down = replace(state, phase=Phase.FIRING, level=new, last_level_change=now, below_since=None,
                   candidate_level=0, sequence=seq, stage=0 if c is None else c.stage)
    if current < new:  # already lower again: a new wait starts now
        down = replace(down, phase=Phase.RESOLVING, below_since=now, candidate_level=current)
    now_text = f"; now: {'; '.join(c.reasons)}" if c is not None else "; no condition now"
    reason = (f"de-escalation from level {state.level} to {new}: below level {state.level} "
              f"since {_t(state.below_since)} ({_d(below)} ≥ hold_for {_d(policy.hold_for)}), "
              f"highest level since then {new}{now_text}")
    evidence = _evidence(c, rule="de_escalate", below_since=_t(state.below_since),
                         hold_for_s=policy.hold_for.total_seconds())
    return down, _transition(down, TransitionKind.UPDATE, state.level, now, reason, evidence)


def _expire(state: AlertState, newest: datetime, now: datetime, policy: LifecyclePolicy,
            evidence: dict[str, Any]) -> Step:
    expired = replace(_inactive(state), sequence=state.sequence + 1)
    reason = (f"inputs stale since {_t(newest)}: the newest input is {_d(now - newest)} old "
              f"> stale_after {_d(policy.stale_after)}; level {state.level} expires")
    evidence = {**evidence, "lifecycle": {"rule": "stale", "inputs_newest_at": _t(newest),
                                          "stale_after_s": policy.stale_after.total_seconds()}}
    return expired, _transition(expired, TransitionKind.CANCEL, state.level, now, reason,
                                evidence)


def _transition(state: AlertState, kind: TransitionKind, previous: int, now: datetime,
                reason: str, evidence: dict[str, Any]) -> Transition:
    level = 0 if kind is TransitionKind.CANCEL else state.level
    return Transition(state.area_code, state.hazard, kind, level, previous, now, reason,
                      evidence, state.sequence)


def _evidence(c: Condition | None, *, rule: str, **values: Any) -> dict[str, Any]:
    base = dict(c.evidence) if c is not None else {}
    return {**base, "lifecycle": {"rule": rule, **values}}


def _t(when: datetime) -> str:
    return when.isoformat(timespec="minutes")


def _t_or_none(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _d(span: timedelta) -> str:
    """A duration for people: "0 min", "45 min", "3 h", "1 h 30 min", "2 d 1 h"."""
    minutes = int(span.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "",
             f"{mins} min" if mins else ""]
    return " ".join(p for p in parts if p) or "0 min"
