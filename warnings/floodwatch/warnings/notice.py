"""What one notification says, built from its stored transition: the message context (for the
templates) and the webhook payload. Pure: the caller loads the rows.

The message uses what the transition's evidence holds: gauge levels with their BĐ levels (the
station's own, else those in the evidence) and trend, 24 h rain, modelled flooding. The
transition's reason is written in English by the rules, so it is shown in English messages only;
Vietnamese messages say the same through the gauge, rain and flooding lines.

A user's own threshold (hazard ``user_threshold:<id>``) becomes a ``ThresholdNotice`` from the
``threshold`` and ``gauges`` parts of its evidence (``user_thresholds.evidence``): the gauge, its
level and trend now, the threshold, and for an end why it ended (back across, or stale).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from floodwatch.core.errors import InputError
from floodwatch.gis_data.models import Area, Station
from floodwatch.warnings.messages import (
    GaugeReading,
    Message,
    MessageContext,
    ModelledFlooding,
    ThresholdNotice,
    Trend,
)
from floodwatch.warnings.rules import bd_status
from floodwatch.warnings.tables import AlertTransition
from floodwatch.warnings.texts import Language
from floodwatch.warnings.user_thresholds import is_personal

Alarms = tuple[float | None, float | None, float | None]
EvidenceGauge = tuple[str, float, datetime | None, Mapping[str, Any]]


def more_url(public_url: str, area_code: str, language: str) -> str:
    """The public map for one area, in the reader's language."""
    return f"{public_url.rstrip('/')}/?{urlencode({'lang': language, 'area': area_code})}"


def evidence_gauges(evidence: Mapping[str, Any]) -> list[EvidenceGauge]:
    """Each gauge the evidence names with a level: (code, level in m, observed at, the item)."""
    out = []
    for g in evidence.get("gauges") or ():
        level_m = _num(g, "level_m") if isinstance(g, Mapping) else None
        if level_m is None or not g.get("code"):
            continue
        try:
            when = datetime.fromisoformat(g["observed_at"])
        except (KeyError, TypeError, ValueError):
            when = None
        out.append((str(g["code"]), level_m, when, g))
    return out


def message_context(
    t: AlertTransition, area: Area, *, language: Language, public_url: str,
    hotline: str | None, stations: Mapping[str, Station],
    rates_m_per_h: Mapping[str, float | None], steady_m_per_h: float,
) -> MessageContext:
    """The context of ``t`` for one reader. A gauge's rate is the evidence's, else
    ``rates_m_per_h`` (its recent change); without either it is shown as steady, as the
    templates have no "unknown" trend."""
    evidence = t.evidence or {}
    gauges, observed = [], {}
    for code, level_m, when, item in evidence_gauges(evidence):
        station = stations.get(code)
        alarms = _alarms(station, item.get("bd_m"))
        rate = _num(item, "rate_m_per_h")
        if rate is None:
            rate = rates_m_per_h.get(code)
        trend: Trend = ("steady" if rate is None or abs(rate) < steady_m_per_h
                        else "rising" if rate > 0 else "falling")
        name = station.name if station is not None else str(item.get("name") or code)
        gauges.append(GaugeReading(name, level_m, alarms, bd_status(level_m, alarms), trend,
                                   rate))
        observed[name] = when
    if is_personal(t.hazard):
        return MessageContext(
            language=language, kind=t.kind,  # type: ignore[arg-type]
            level=t.level, previous_level=t.previous_level, ward_name=area.name_vi,
            ward_code=area.code, as_of=t.at, more_url=more_url(public_url, area.code, language),
            hotline=hotline, threshold=_threshold(t, gauges, observed))
    return MessageContext(
        language=language, kind=t.kind,  # type: ignore[arg-type]
        level=t.level, previous_level=t.previous_level, ward_name=area.name_vi,
        ward_code=area.code, as_of=t.at, more_url=more_url(public_url, area.code, language),
        gauges=tuple(gauges), flooding=_flooding(evidence), rainfall_24h_mm=_rain(evidence),
        reasons=(t.reason,) if language == "en" and t.reason else (), hotline=hotline)


def webhook_payload(t: AlertTransition, area: Area, message: Message, key: str
                    ) -> dict[str, Any]:
    """What a webhook receives: the transition, its area, the evidence and the texts."""
    return {
        "idempotency_key": key, "cap_identifier": t.cap_identifier, "kind": t.kind,
        "hazard": t.hazard, "level": t.level, "previous_level": t.previous_level, "at": t.at,
        "area": {"region": area.region, "level": area.level, "code": area.code,
                 "name": area.name_vi},
        "reason": t.reason, "evidence": t.evidence, "language": message.language,
        "subject": message.subject, "text": message.text, "more_url": message.more_url,
    }


def _threshold(t: AlertTransition, gauges: Sequence[GaugeReading],
               observed: Mapping[str, datetime | None]) -> ThresholdNotice:
    """The notice of a user's threshold transition (see the module docstring)."""
    evidence = t.evidence or {}
    item = evidence.get("threshold")
    threshold_m = _num(item, "threshold_m") if isinstance(item, Mapping) else None
    if not isinstance(item, Mapping) or threshold_m is None:
        raise InputError(f"transition {t.cap_identifier} is a user threshold's, but its evidence "
                         "does not say the threshold")
    name = str(item.get("station_name") or item.get("station_code") or "?")
    gauge = next((g for g in gauges if g.station_name == name), gauges[0] if gauges else None)
    lifecycle = evidence.get("lifecycle")
    rule = lifecycle.get("rule") if isinstance(lifecycle, Mapping) else None
    since = lifecycle.get("clear_since") if isinstance(lifecycle, Mapping) else None
    return ThresholdNotice(
        station_name=name, threshold_m=threshold_m,
        direction="below" if item.get("direction") == "below" else "above",
        level_m=None if gauge is None else gauge.level_m,
        observed_at=None if gauge is None else observed.get(gauge.station_name),
        trend="steady" if gauge is None else gauge.trend,
        rate_m_per_h=None if gauge is None else gauge.rate_m_per_h,
        label=str(item["label"]) if item.get("label") else None,
        ended="stale" if rule == "stale" else "back",
        since=datetime.fromisoformat(since) if isinstance(since, str) else None)


def _num(item: Mapping[str, Any], key: str) -> float | None:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _alarms(station: Station | None, from_evidence: object) -> Alarms:
    if station is not None and any(v is not None for v in
                                   (station.alarm1_m, station.alarm2_m, station.alarm3_m)):
        return station.alarm1_m, station.alarm2_m, station.alarm3_m
    if isinstance(from_evidence, Sequence) and len(from_evidence) == 3:
        values = [float(v) if isinstance(v, int | float) else None for v in from_evidence]
        return values[0], values[1], values[2]
    return None, None, None


def _rain(evidence: Mapping[str, Any]) -> float | None:
    raised = evidence.get("rain_raise")
    if isinstance(raised, Mapping):
        return _num(raised, "rain_24h_mm")
    return _num(evidence, "rain_24h_mm")


def _flooding(evidence: Mapping[str, Any]) -> ModelledFlooding | None:
    raised = evidence.get("flooding_raise")
    source = raised if isinstance(raised, Mapping) else evidence
    share, depth = _num(source, "flooded_share"), _num(source, "max_depth_m")
    if share is None or depth is None or not 0.0 <= share <= 1.0:
        return None
    people = _num(source, "people_affected")
    return ModelledFlooding(share, depth, None if people is None else int(people))
