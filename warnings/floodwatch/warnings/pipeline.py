"""The warnings step after each model run: inputs at one time → conditions → lifecycle step per
ward × hazard → stored states and transitions → CAP documents and their Atom index.

``assess`` runs in ONE transaction: the new states, the transitions (with the reason and the
evidence an official reads, the run that produced them and their CAP identifier), the caller's
``on_transitions`` (e.g. the notification outbox) and the CAP files are all or nothing. The files
are written last, before the commit, so a failed write rolls the assessment back and the next
call repeats it; each file is replaced atomically.

Idempotent: every stepped state records the assessed time (``data.updated_at``), and an ``at``
at or before the newest one is skipped whole, so assessing the same time twice adds nothing.

Inputs (``inputs.py``): the newest usable level of each ruleset gauge at or before ``at``, left
out when older than the policy's ``stale_after`` (its alerts then expire through the lifecycle),
with its rate of rise; the modelled flooding and 24 h rain of the run's ward-level results when
``run_id`` is given. Without a usable run, the model's hazards (heavy rain, ward flooding) are
*no data*, not *gone*: their states are left as they are until their inputs are stale, then
expire, instead of getting a false all clear.

Users' own thresholds (``user_thresholds.py``) go through the same rules and lifecycle, against
the same gauge reading, keyed ``user_threshold:<id>`` under the gauge's ward; they fire at once
(``user_thresholds.policy_for``), their transitions are stored and passed to
``on_transitions`` like the others, but they are personal: no CAP document, not in the index.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from floodwatch.core.db import transaction
from floodwatch.core.errors import ConfigError, InputError, NotFoundError
from floodwatch.core.timeutil import as_utc
from floodwatch.gis_data.models import Region
from floodwatch.warnings import capdocs, capfeed, inputs, user_thresholds
from floodwatch.warnings.cap import CapAlert, cap_xml, validate
from floodwatch.warnings.lifecycle import AlertState, LifecyclePolicy, Phase, Transition, step
from floodwatch.warnings.model import Condition, GaugeReading, Hazard
from floodwatch.warnings.rules import evaluate
from floodwatch.warnings.ruleset import Ruleset, load_ruleset
from floodwatch.warnings.tables import AlertStateRow, AlertTransition

log = logging.getLogger(__name__)

#: floodwatch's own choice, NOT official (to be reviewed with the Huế hydro-meteorological
#: station): two hourly readings before a first alert, six hours before a step down or an all
#: clear (the Nov 2025 series hovers around BĐ I for 5 h at a time), and inputs older than six
#: hours (the public map's staleness) expire an alert.
DEFAULT_POLICY = LifecyclePolicy(fire_after=timedelta(hours=1), hold_for=timedelta(hours=6),
                                 stale_after=timedelta(hours=6))
#: Hazards fed by the model run rather than the gauges.
MODEL_HAZARDS = frozenset({Hazard.HEAVY_RAIN, Hazard.WARD_FLOODING})
IN_FORCE = (Phase.FIRING, Phase.RESOLVING)

OnTransitions = Callable[[Session, Sequence[AlertTransition]], None]
Key = inputs.Key


@dataclass(frozen=True)
class AssessResult:
    """What one assessment did. ``transitions`` are the new rows (ids set; the caller enqueues
    notifications for them); ``documents`` the new CAP documents by identifier; ``published``
    the files written (the index last). ``skipped``: ``at`` was not after ``last_assessed_at``."""

    region: str
    at: datetime
    run_id: int | None
    skipped: bool = False
    last_assessed_at: datetime | None = None
    conditions: tuple[Condition, ...] = ()
    transitions: tuple[AlertTransition, ...] = ()
    documents: Mapping[str, bytes] = field(default_factory=dict)
    published: tuple[Path, ...] = ()
    gauges: Mapping[str, GaugeReading] = field(default_factory=dict)
    stale_gauges: Mapping[str, datetime | None] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def transition_ids(self) -> list[int]:
        return [t.id for t in self.transitions]


def assess(
    engine: Engine, region: str, *, at: datetime, run_id: int | None = None,
    ruleset: Ruleset | None = None, policy: LifecyclePolicy | None = None,
    publish_dir: Path | None = None, cap_options: capdocs.CapOptions | None = None,
    on_transitions: OnTransitions | None = None, ward_level: str = "ward",
) -> AssessResult:
    """Assess ``region`` at ``at`` (see the module docstring); publish CAP files into
    ``<publish_dir>/cap/`` unless ``publish_dir`` is None."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InputError("assess needs a timezone-aware 'at'")
    at = as_utc(at)
    ruleset = ruleset or load_ruleset(region)
    if ruleset.region != region:
        raise ConfigError(f"ruleset {ruleset.label} is for region {ruleset.region!r}, "
                          f"not {region!r}")
    job = _Assessment(region=region, at=at, run_id=run_id, ruleset=ruleset,
                      policy=policy or DEFAULT_POLICY,
                      options=cap_options or capdocs.CapOptions(), ward_level=ward_level)
    with transaction(engine) as session:
        result = job.run(session, on_transitions, publish_dir)
        if publish_dir is not None and job.index is not None:
            written = capfeed.publish(publish_dir, job.to_write, job.index)
            result = replace(result, published=tuple(written))
    return result


@dataclass
class _Assessment:
    region: str
    at: datetime
    run_id: int | None
    ruleset: Ruleset
    policy: LifecyclePolicy
    options: capdocs.CapOptions
    ward_level: str
    notes: list[str] = field(default_factory=list)
    to_write: dict[str, bytes] = field(default_factory=dict)  # new and missing CAP files
    personal: dict[str, user_thresholds.ActiveThreshold] = field(default_factory=dict)
    index: bytes | None = None  # the Atom index, when it needs writing

    def run(self, session: Session, on_transitions: OnTransitions | None,
            publish_dir: Path | None) -> AssessResult:
        region = session.get(Region, self.region)
        if region is None:
            raise NotFoundError(f"no region {self.region!r} in the store: load it first")
        rows = {(r.area_id, r.hazard): r for r in inputs.read_states(session, self.region)}
        last = max((w for r in rows.values() if (w := _assessed_at(r)) is not None),
                   default=None)
        if last is not None and self.at <= last:
            log.info("%s: already assessed up to %s, %s skipped", self.region,
                     last.isoformat(), self.at.isoformat())
            return AssessResult(self.region, self.at, self.run_id, skipped=True,
                                last_assessed_at=last)
        tz = ZoneInfo(region.timezone)
        wards = inputs.read_wards(session, self.region, level=self.ward_level,
                                  day=self.at.astimezone(tz).date())
        gauges = inputs.read_gauges(session, self.ruleset, at=self.at,
                                    stale_after=self.policy.stale_after)
        self.personal = user_thresholds.read_active(session, self.region, self.ruleset, wards,
                                                    rows, self.notes)
        for key in user_thresholds.orphans(rows, self.personal):
            session.delete(rows.pop(key))
        areas = {w.id: w for w in wards.values()}
        areas |= inputs.read_areas(session, [a for a, _ in rows if a not in areas])
        run = (None if self.run_id is None else inputs.read_run(
            session, self.run_id, region=self.region, at=self.at, ward_level=self.ward_level))
        if run is not None and not run.usable:
            self.notes.append(f"model run {run.run_id} is {run.status}: no modelled inputs")
        model = run if run is not None and run.usable else None
        conditions = evaluate(
            self.ruleset, now=self.at, gauges=gauges.used,
            ward_flooding=model.flooding if model else None,
            rain_24h_mm=model.rain_24h_mm if model else None,
            rain_as_of=model.valid_at if model and model.rain_24h_mm else None,
            user_thresholds=[t.model for t in self.personal.values()])
        by_key: dict[Key, Condition] = {}
        for c in conditions:
            if c.hazard is Hazard.USER_THRESHOLD:
                if (keyed := user_thresholds.for_area(c, self.personal, areas)) is not None:
                    by_key[keyed[0]] = keyed[1]
                continue
            ward = wards.get(c.area_code)
            if ward is None:
                self.notes.append(f"ruleset ward {c.area_code} is not a valid "
                                  f"{self.ward_level} of {self.region}: {c.hazard} not assessed")
                continue
            by_key[(ward.id, str(c.hazard))] = c
        states, new = self._step_all(session, rows, by_key, areas, gauges, run)
        session.add_all(new)
        session.flush()
        for t in new:
            log.info("%s %s/%s #%d %s level %d: %s", self.region, areas[t.area_id].code,
                     t.hazard, t.sequence, t.kind, t.level, t.reason)
        documents = self._documents(session, new, states, areas, tz, publish_dir,
                                    region.title)
        if new and on_transitions is not None:
            on_transitions(session, new)
        return AssessResult(self.region, self.at, self.run_id, conditions=tuple(conditions),
                            transitions=tuple(new), documents=documents, gauges=gauges.used,
                            stale_gauges=gauges.stale, notes=tuple(self.notes))

    def _step_all(self, session: Session, rows: Mapping[Key, AlertStateRow],
                  by_key: Mapping[Key, Condition], areas: Mapping[int, inputs.WardRow],
                  gauges: inputs.GaugeInputs, run: inputs.RunInputs | None
                  ) -> tuple[dict[Key, AlertState], list[AlertTransition]]:
        """One lifecycle step per ward × hazard with a state or a condition; the states are
        written back, the transitions returned (not yet added to the session)."""
        model_ok = run is not None and run.usable
        # a state never goes below the stored sequence (a lost or hand-made state row must not
        # reuse a sequence, hence a CAP identifier)
        stored = inputs.max_sequences(session, set(rows) | set(by_key))
        states: dict[Key, AlertState] = {}
        new: list[AlertTransition] = []
        for key in sorted(set(rows) | set(by_key)):
            area_id, hazard = key
            try:
                hazard_enum = capdocs.hazard_of(hazard)
            except ValueError:
                self.notes.append(f"state {area_id}/{hazard}: not a hazard this step knows")
                continue
            code = areas[area_id].code
            row = rows.get(key)
            state = (AlertState(code, hazard_enum) if row is None
                     else AlertState.from_data(code, hazard_enum, row.status, row.level,
                                               row.data))
            state = replace(state, sequence=max(state.sequence, stored.get(key, 0)))
            condition = by_key.get(key)
            known = model_ok and (hazard_enum is not Hazard.WARD_FLOODING
                                  or bool(run is not None and run.flooding))
            if (condition is None and hazard_enum in MODEL_HAZARDS and not known
                    and state.last_input_at is not None
                    and self.at - state.last_input_at <= self.policy.stale_after):
                states[key] = state  # no model figures now: no data, not "gone"
                continue
            personal = user_thresholds.is_personal(hazard)
            policy = user_thresholds.policy_for(self.policy) if personal else self.policy
            state, transition = step(state, condition, now=self.at, policy=policy)
            states[key] = state
            if row is None:
                row = AlertStateRow(area_id=area_id, hazard=hazard)
                session.add(row)
            row.status, row.level, row.data = state.phase.value, state.level, state.to_data()
            row.updated_at = self.at  # the assessed time, as in data["updated_at"]
            if transition is not None:
                new.append(self._transition_row(key, transition, condition, gauges, run))
        return states, new

    def _transition_row(self, key: Key, t: Transition, condition: Condition | None,
                        gauges: inputs.GaugeInputs, run: inputs.RunInputs | None
                        ) -> AlertTransition:
        area_id, hazard = key
        if (personal := self.personal.get(hazard)) is not None:
            extra = user_thresholds.evidence(personal, self.ruleset, gauges, at=self.at,
                                             condition=condition)
        else:
            extra = {"inputs": inputs.inputs_evidence(self.ruleset, t.area_code, at=self.at,
                                                      run=run, gauges=gauges,
                                                      condition=condition)}
        return AlertTransition(
            area_id=area_id, hazard=hazard, sequence=t.sequence, kind=str(t.kind),
            level=t.level, previous_level=t.previous_level, at=t.at, reason=t.reason,
            evidence={**t.evidence, **extra}, run_id=self.run_id,
            cap_identifier=capdocs.cap_identifier(self.region, t.area_code, hazard, t.sequence))

    def _documents(self, session: Session, new: list[AlertTransition],
                   states: Mapping[Key, AlertState], areas: Mapping[int, inputs.WardRow],
                   tz: ZoneInfo, publish_dir: Path | None, title: str) -> dict[str, bytes]:
        """Build and validate the CAP documents of the new transitions; when publishing and
        anything changed, also the index of the alerts in force and any of their newest
        documents missing on disk (rebuilt from the store). Users' own thresholds have none."""
        new = [t for t in new if not user_thresholds.is_personal(t.hazard)]
        active = sorted(k for k, s in states.items()
                        if s.phase in IN_FORCE and not user_thresholds.is_personal(k[1]))
        missing: list[Key] = []
        index_due = False
        if publish_dir is not None:
            cap_dir = Path(publish_dir) / capfeed.CAP_DIR
            for key in active:
                s = states[key]
                name = capfeed.cap_filename(
                    capdocs.cap_identifier(self.region, s.area_code, key[1], s.sequence))
                if not (cap_dir / name).exists():
                    missing.append(key)
            index_due = bool(new or missing or not (cap_dir / capfeed.INDEX_NAME).exists())
        keys = {(t.area_id, t.hazard) for t in new} | (set(active) if index_due else set())
        alerts = self._alerts(session, keys, areas)
        documents = {t.cap_identifier: self._xml(alerts[(t.area_id, t.hazard)], tz)
                     for t in new}
        if index_due:
            self.to_write = documents | {alerts[k].identifier: self._xml(alerts[k], tz)
                                         for k in missing if k in alerts}
            self.index = capdocs.index_document(
                [alerts[k] for k in active if k in alerts], options=self.options,
                title=f"floodwatch – {title}", updated=self.at)
        return documents

    def _alerts(self, session: Session, keys: set[Key], areas: Mapping[int, inputs.WardRow]
                ) -> dict[Key, CapAlert]:
        """The CAP document of the newest transition of each ward × hazard."""
        recent = inputs.recent_transitions(session, keys)
        shapes = inputs.read_geometries(session, [a for a, _ in keys])
        out: dict[Key, CapAlert] = {}
        for key in sorted(keys):
            history = recent.get(key)
            if not history:
                self.notes.append(f"alert {key[0]}/{key[1]} is in force without a transition")
                continue
            area = areas[key[0]]
            out[key] = capdocs.cap_alert(
                history[0], area_code=area.code, area_name=area.name, geometry=shapes[key[0]],
                previous=history[1] if len(history) > 1 else None, options=self.options)
        return out

    @staticmethod
    def _xml(alert: CapAlert, tz: ZoneInfo) -> bytes:
        document = cap_xml(alert, tz=tz)
        validate(document)
        return document


def _assessed_at(row: AlertStateRow) -> datetime | None:
    value = (row.data or {}).get("updated_at")
    return None if value is None else as_utc(datetime.fromisoformat(value))
