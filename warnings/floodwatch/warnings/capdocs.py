"""CAP 1.2 documents for stored alert transitions, and the Atom index of the alerts in force.

A document is built only from what the store keeps: the ``alert_transitions`` row (kind, level,
time, reason and evidence, whose ``inputs`` part ``pipeline.assess`` writes) and the ward's name,
code and polygon. So the same row always gives the same document, and a document missing from
the publish directory can be rebuilt later, byte for byte.

Per transition: ``alert`` → msgType Alert; ``update`` → Update, ``cancel`` (all clear or inputs
stale) → Cancel, both with ``references`` to the previous document of the same ward × hazard.
One ``<info>`` per language (vi-VN, en-US) with the headline and text of ``messages.py``'s
templates; the ward as ``<area>`` with its polygon and its official code as ``<geocode>`` GSO.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import shapely

from floodwatch.core.errors import InputError
from floodwatch.warnings import texts
from floodwatch.warnings.cap import CapAlert, CapInfo, area_from_geometry, level_to_cap
from floodwatch.warnings.capfeed import (
    CAP_DIR,
    INDEX_NAME,
    atom_index,
    cap_filename,
    entry_for_alert,
)
from floodwatch.warnings.messages import GaugeReading as MessageGauge
from floodwatch.warnings.messages import MessageContext, ModelledFlooding, render_message
from floodwatch.warnings.model import RISK_COLOURS, Hazard
from floodwatch.warnings.rules import bd_status
from floodwatch.warnings.tables import AlertTransition

CAP_LANGUAGES: Mapping[texts.Language, str] = {"vi": "vi-VN", "en": "en-US"}
MSG_TYPES = {"alert": "Alert", "update": "Update", "cancel": "Cancel"}
#: The CAP <event> per hazard, in Vietnamese and English.
EVENTS: Mapping[Hazard, tuple[str, str]] = {
    Hazard.RIVER_FLOOD: ("Lũ sông", "River flood"),
    Hazard.HEAVY_RAIN: ("Mưa lớn", "Heavy rain"),
    Hazard.WARD_FLOODING: ("Ngập lụt", "Flooding"),
    Hazard.RAPID_RISE: ("Nước sông lên nhanh", "Fast-rising river"),
    Hazard.USER_THRESHOLD: ("Ngưỡng mực nước riêng", "Your own river-level threshold"),
}
#: CAP responseType per level, following texts.INSTRUCTION (0: after a cancel).
RESPONSES = {0: "AllClear", 1: "Monitor", 2: "Prepare", 3: "Prepare", 4: "Prepare",
             5: "Evacuate"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class CapOptions:
    """Who signs the documents, where they are served and what the texts link to.

    ``base_url`` is where the publish directory is served (CAP files at
    ``<base_url>/cap/<identifier>.xml``); ``web_url`` is the public map a ward's "more" link
    opens (default ``base_url``; the caller passes ``WarningsSettings.public_url``, and its
    ``hotline`` and ``trend_steady_m_per_h``, so CAP texts match the notifications)."""

    sender: str = "floodwatch@localhost"
    sender_name: str = "floodwatch"
    base_url: str = "http://localhost:8000"
    web_url: str | None = None
    status: str = "Actual"  # "Test" for end-to-end tests, "Exercise" for drills and replays
    hotline: str | None = "1900 1075"
    steady_m_per_h: float = 0.01  # a slower change (either way) is "steady" in the texts

    def cap_url(self, identifier: str) -> str:
        return f"{self.base_url.rstrip('/')}/{CAP_DIR}/{cap_filename(identifier)}"

    def ward_url(self, code: str, language: str) -> str:
        """The public map for one ward, as the notifications link it."""
        base = (self.web_url or self.base_url).rstrip("/")
        return f"{base}/?{urlencode({'lang': language, 'area': code})}"


def cap_identifier(region: str, area_code: str, hazard: str, sequence: int) -> str:
    """``floodwatch-hue-19774-river_flood-3``: stable (the n-th transition of a ward × hazard)
    and a safe file name."""
    parts = [_UNSAFE.sub("_", p) for p in (region, area_code, hazard)]
    return "-".join(["floodwatch", *parts, str(sequence)])


def hazard_of(key: str) -> Hazard:
    """The hazard of a state or transition key (a user threshold's key adds ``:<id>``)."""
    return Hazard(key.split(":", 1)[0])


def cap_alert(t: AlertTransition, *, area_code: str, area_name: str,
              geometry: shapely.Geometry, previous: AlertTransition | None,
              options: CapOptions) -> CapAlert:
    """The CAP document of transition ``t`` of one ward; ``previous`` is the transition before
    it of the same ward × hazard (needed for an Update or a Cancel)."""
    references: tuple[tuple[str, str, datetime], ...] = ()
    if t.kind != "alert":
        if previous is None:
            raise InputError(f"transition {t.cap_identifier} ({t.kind}) has no earlier "
                             "transition to reference")
        references = ((options.sender, previous.cap_identifier, previous.at),)
    hazard = hazard_of(t.hazard)
    level = 0 if t.kind == "cancel" else t.level
    infos = [_info(t, hazard, level, lang, area_code, area_name, options)
             for lang in CAP_LANGUAGES]
    area = area_from_geometry(f"{area_name} ({area_code})", geometry, [("GSO", area_code)])
    return CapAlert(identifier=t.cap_identifier, sender=options.sender, sent=t.at,
                    status=options.status, msg_type=MSG_TYPES[t.kind], infos=infos,
                    areas=[area], references=references, note=" ".join(t.reason.split()))


def _info(t: AlertTransition, hazard: Hazard, level: int, lang: texts.Language,
          area_code: str, area_name: str, options: CapOptions) -> CapInfo:
    inputs: Mapping[str, Any] = (t.evidence or {}).get("inputs") or {}
    more_url = options.ward_url(area_code, lang)
    ctx = MessageContext(
        language=lang, kind=t.kind, level=level, ward_name=area_name,  # type: ignore[arg-type]
        ward_code=area_code, as_of=t.at, more_url=more_url,
        previous_level=None if t.kind == "alert" else t.previous_level,
        gauges=tuple(_gauge(g, options.steady_m_per_h) for g in inputs.get("gauges") or ()),
        flooding=_flooding(inputs.get("flooding")),
        rainfall_24h_mm=inputs.get("rain_24h_mm"),
        # the rules' reasons are English sentences: the Vietnamese text shows the figures only
        reasons=tuple(inputs.get("reasons") or ()) if lang == "en" else (),
        hotline=options.hotline,
    )
    message = render_message(ctx)
    severity, urgency, certainty = level_to_cap(level)
    parameters = [("floodwatch:hazard", t.hazard), ("floodwatch:risk_level", str(level))]
    if level in RISK_COLOURS:
        parameters.append(("floodwatch:risk_colour", RISK_COLOURS[level].hex))
    ruleset = (t.evidence or {}).get("ruleset")
    if ruleset:
        parameters.append(("floodwatch:ruleset", str(ruleset)))
    return CapInfo(
        language=CAP_LANGUAGES[lang], event=EVENTS[hazard][0 if lang == "vi" else 1],
        headline=message.subject, description=message.text,
        instruction=texts.INSTRUCTION[lang][level], severity=severity, urgency=urgency,
        certainty=certainty, category="Met", response_type=RESPONSES[level], effective=t.at,
        web=more_url, sender_name=options.sender_name, parameters=parameters)


def _gauge(g: Mapping[str, Any], steady_m_per_h: float) -> MessageGauge:
    bd = tuple(g.get("bd_m") or (None, None, None))
    alarms: tuple[float | None, float | None, float | None] = (bd[0], bd[1], bd[2])
    rate = g.get("rate_m_per_h")
    trend = "steady"
    if rate is not None and math.isfinite(rate) and abs(rate) >= steady_m_per_h:
        trend = "rising" if rate > 0 else "falling"
    return MessageGauge(station_name=str(g.get("name") or g.get("code")),
                        level_m=float(g["level_m"]), alarm_levels_m=alarms,
                        alarm_reached=bd_status(float(g["level_m"]), alarms),
                        trend=trend, rate_m_per_h=rate)  # type: ignore[arg-type]


def _flooding(f: Mapping[str, Any] | None) -> ModelledFlooding | None:
    if not f:
        return None
    return ModelledFlooding(float(f["flooded_share"]), float(f["max_depth_m"]),
                            f.get("people_affected"))


def index_document(alerts: Sequence[CapAlert], *, options: CapOptions, title: str,
                   updated: datetime) -> bytes:
    """The Atom index of the alerts in force (their newest documents)."""
    entries = [entry_for_alert(a, options.cap_url(a.identifier)) for a in alerts]
    url = f"{options.base_url.rstrip('/')}/{CAP_DIR}/{INDEX_NAME}"
    return atom_index(entries, feed_id=url, title=title, updated=updated, self_url=url,
                      author=options.sender_name)
