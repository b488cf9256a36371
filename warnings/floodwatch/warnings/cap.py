"""CAP 1.2 (OASIS Common Alerting Protocol) documents: the input model, the mapping of the
1–5 risk levels, the XML writer and the schema check.

The writer follows the element order of ``schemas/CAP-v1.2.xsd``. Times carry their own offset
(pass ``tz`` to write them in the region's zone, e.g. +07:00); UTC is written ``-00:00``, never
``Z``. The alert's areas are repeated in every ``<info>`` (one per language, vi-VN first).
Polygons are written as "lat,lon" pairs (latitude first, the reverse of GeoJSON), closed,
rounded to 5 decimals (~1 m) and simplified to at most ``max_points`` (default 1000) points.
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

import shapely
from lxml import etree

from floodwatch.core.errors import InputError

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
SCHEMA_PATH = Path(__file__).parent / "schemas" / "CAP-v1.2.xsd"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
MAX_POLYGON_POINTS = 1000
COORD_DECIMALS = 5

# The enumerations of the CAP 1.2 schema (tests check them against the XSD).
STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
SCOPES = ("Public", "Restricted", "Private")
CATEGORIES = ("Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport",
              "Infra", "CBRNE", "Other")
RESPONSE_TYPES = ("Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess",
                  "AllClear", "None")
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
LANGUAGE_ORDER = ("vi-VN", "en-US")

# CAP 1.2 §3.2.1: identifier and sender must not hold spaces, commas or restricted characters.
_TOKEN = re.compile(r"[^\s,<&]+")

Pair = tuple[str, str]


def _one_of(name: str, value: str | None, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise InputError(f"CAP {name} must be one of {', '.join(allowed)}; got {value!r}")


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise InputError(f"CAP {name} must be a timezone-aware datetime, got {value!r}")


def _pairs(name: str, values: Sequence[Sequence[str]]) -> tuple[Pair, ...]:
    out = tuple((str(k), str(v)) for k, v in values)
    if any(not k for k, _ in out):
        raise InputError(f"CAP {name}: every valueName must be non-empty")
    return out


@dataclass(frozen=True)
class CapInfo:
    """One ``<info>`` block: the alert in one language."""

    language: str
    event: str
    headline: str
    description: str
    severity: str
    urgency: str
    certainty: str
    category: str = "Met"
    instruction: str | None = None
    web: str | None = None
    contact: str | None = None
    response_type: str | None = None
    onset: datetime | None = None
    effective: datetime | None = None
    expires: datetime | None = None
    sender_name: str | None = None
    parameters: Sequence[Pair] = ()

    def __post_init__(self) -> None:
        if not self.language or not self.event:
            raise InputError("CAP info needs a language and an event")
        _one_of("severity", self.severity, SEVERITIES)
        _one_of("urgency", self.urgency, URGENCIES)
        _one_of("certainty", self.certainty, CERTAINTIES)
        _one_of("category", self.category, CATEGORIES)
        if self.response_type is not None:
            _one_of("responseType", self.response_type, RESPONSE_TYPES)
        for name in ("onset", "effective", "expires"):
            _aware(name, getattr(self, name))
        start = self.effective or self.onset
        if start is not None and self.expires is not None and self.expires <= start:
            raise InputError(f"CAP expires ({self.expires}) must be after {start}")
        object.__setattr__(self, "parameters", _pairs("parameter", self.parameters))


@dataclass(frozen=True)
class CapArea:
    """An area to warn: ``polygons`` are exterior rings of (lon, lat) points (GeoJSON order)."""

    area_desc: str
    polygons: Sequence[Sequence[tuple[float, float]]] = ()
    geocodes: Sequence[Pair] = ()

    def __post_init__(self) -> None:
        if not self.area_desc:
            raise InputError("CAP area needs an areaDesc")
        rings = tuple(tuple((float(x), float(y)) for x, y in ring) for ring in self.polygons)
        for ring in rings:
            for lon, lat in ring:
                if not (math.isfinite(lon) and math.isfinite(lat)
                        and -180 <= lon <= 180 and -90 <= lat <= 90):
                    raise InputError(f"CAP area {self.area_desc!r}: ({lon}, {lat}) is not a "
                                     "WGS 84 (lon, lat) point")
        object.__setattr__(self, "polygons", rings)
        object.__setattr__(self, "geocodes", _pairs("geocode", self.geocodes))


@dataclass(frozen=True)
class CapAlert:
    """A whole CAP message; ``references`` are (sender, identifier, sent) of earlier messages."""

    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    infos: Sequence[CapInfo] = ()
    areas: Sequence[CapArea] = ()
    references: Sequence[tuple[str, str, datetime]] = ()
    scope: str = "Public"
    note: str | None = None

    def __post_init__(self) -> None:
        for name in ("identifier", "sender"):
            if not _TOKEN.fullmatch(getattr(self, name)):
                raise InputError(f"CAP {name} must be non-empty without spaces, commas, '<' or "
                                 f"'&'; got {getattr(self, name)!r}")
        _aware("sent", self.sent)
        _one_of("status", self.status, STATUSES)
        _one_of("msgType", self.msg_type, MSG_TYPES)
        _one_of("scope", self.scope, SCOPES)
        refs = tuple((s, i, t) for s, i, t in self.references)
        for sender, ident, sent in refs:
            if not (_TOKEN.fullmatch(sender) and _TOKEN.fullmatch(ident)):
                raise InputError(f"CAP reference {sender!r},{ident!r} holds a space or comma")
            _aware("reference sent", sent)
        if self.msg_type in ("Update", "Cancel") and not refs:
            raise InputError(f"a CAP {self.msg_type} must reference the message(s) it replaces")
        infos = tuple(sorted(self.infos, key=_language_rank))
        languages = [info.language for info in infos]
        if len(set(languages)) != len(languages):
            raise InputError(f"CAP infos must have one block per language, got {languages}")
        if self.msg_type in ("Alert", "Update") and not infos:
            raise InputError(f"a CAP {self.msg_type} needs at least one info block")
        if self.areas and not infos:
            raise InputError("CAP areas belong to info blocks: give at least one info")
        object.__setattr__(self, "references", refs)
        object.__setattr__(self, "infos", infos)
        object.__setattr__(self, "areas", tuple(self.areas))


def _language_rank(info: CapInfo) -> int:
    order = {lang.lower(): rank for rank, lang in enumerate(LANGUAGE_ORDER)}
    return order.get(info.language.lower(), len(order))


def level_to_cap(level: int, observed: bool = True) -> tuple[str, str, str]:
    """(severity, urgency, certainty) for a floodwatch risk level (Decision 18/2021/QĐ-TTg).

    ====== ======================== ========== ======================= ===========
    level  Decision 18 colour, risk severity   urgency obs. / fcst.    certainty
    ====== ======================== ========== ======================= ===========
    0      none: all-clear / ended  Minor      Past / Past             Observed
    1      light blue, low          Minor      Immediate / Expected    Observed / Likely
    2      light yellow, moderate   Moderate   Immediate / Expected    Observed / Likely
    3      orange, high             Severe     Immediate / Expected    Observed / Likely
    4      red, very high           Extreme    Immediate / Expected    Observed / Likely
    5      purple, disaster         Extreme    Immediate / Expected    Observed / Likely
    ====== ======================== ========== ======================= ===========

    ``observed`` is False for a forecast (the level is expected, not yet reached). Level 0 is
    for an all-clear Update (responseType ``AllClear``) or a Cancel that carries info blocks:
    CAP 1.2 defines Minor as "minimal to no known threat" and Past as "responsive action is no
    longer required". CAP has five severities for six states, so levels 4 and 5 are both Extreme
    (the colour and level go in the text and in a ``<parameter>``).
    """
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 5:
        raise InputError(f"risk level must be an integer 0–5, got {level!r}")
    if level == 0:
        return "Minor", "Past", "Observed"
    severity = {1: "Minor", 2: "Moderate", 3: "Severe", 4: "Extreme", 5: "Extreme"}[level]
    return (severity, "Immediate", "Observed") if observed else (severity, "Expected", "Likely")


def cap_time(value: datetime, tz: tzinfo | None = None) -> str:
    """``2025-11-17T08:00:00+07:00``: whole seconds, the offset kept; UTC as ``-00:00``."""
    _aware("time", value)
    if tz is not None:
        value = value.astimezone(tz)
    text = value.replace(microsecond=0).isoformat()
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", text):
        raise InputError(f"time {text} cannot be written in CAP form (whole-minute offsets only)")
    return text[:-6] + "-00:00" if text.endswith("+00:00") else text


def polygon_text(ring: Sequence[tuple[float, float]], max_points: int = MAX_POLYGON_POINTS) -> str:
    """A (lon, lat) ring as CAP "lat,lon lat,lon …": closed, 5 decimals, ≤ ``max_points``.

    A ring longer than ``max_points`` is simplified (Douglas–Peucker, topology kept) with a
    tolerance that starts at 1e-5° (~1 m) and doubles until it fits.
    """
    if max_points < 4:
        raise InputError(f"max_points must be at least 4, got {max_points}")
    points = list(ring)
    if len(points) >= 3 and points[0] != points[-1]:
        points.append(points[0])
    tolerance = 1e-5
    while len(points) > max_points:
        simple = shapely.Polygon(ring).simplify(tolerance, preserve_topology=True)
        points = list(simple.exterior.coords) if isinstance(simple, shapely.Polygon) else []
        tolerance *= 2
    rounded: list[tuple[float, float]] = []
    for lon, lat in points:
        point = (round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS))
        if not rounded or rounded[-1] != point:
            rounded.append(point)
    if len(rounded) < 4 or rounded[0] != rounded[-1]:
        raise InputError(f"a CAP polygon needs at least 4 points (first = last) after rounding "
                         f"to {COORD_DECIMALS} decimals; got {len(rounded)}")
    return " ".join(f"{lat:.{COORD_DECIMALS}f},{lon:.{COORD_DECIMALS}f}" for lon, lat in rounded)


def area_from_geometry(area_desc: str, geometry: shapely.Geometry,
                       geocodes: Sequence[Pair] = ()) -> CapArea:
    """A CapArea from a lon/lat shapely Polygon or MultiPolygon (exterior rings only: CAP has
    no holes, so the warned area covers them)."""
    if isinstance(geometry, shapely.Polygon):
        parts = [geometry]
    elif isinstance(geometry, shapely.MultiPolygon):
        parts = list(geometry.geoms)
    else:
        raise InputError(f"a CAP area needs a Polygon or MultiPolygon, got {geometry.geom_type}")
    rings = [[(x, y) for x, y, *_ in part.exterior.coords] for part in parts if not part.is_empty]
    return CapArea(area_desc, rings, geocodes)


def _sub(parent: etree._Element, tag: str, text: str | None) -> None:
    if text is None:
        return
    element = etree.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    try:
        element.text = text
    except ValueError as exc:  # control characters and NUL cannot appear in XML 1.0
        raise InputError(f"CAP {tag} holds characters XML cannot carry: {exc}") from exc


def _pair(parent: etree._Element, tag: str, name: str, value: str) -> None:
    element = etree.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    _sub(element, "valueName", name)
    _sub(element, "value", value)


def _info(root: etree._Element, info: CapInfo, areas: Sequence[CapArea], tz: tzinfo | None,
          max_points: int) -> None:
    block = etree.SubElement(root, f"{{{CAP_NS}}}info")
    for tag, text in (("language", info.language), ("category", info.category),
                      ("event", info.event), ("responseType", info.response_type),
                      ("urgency", info.urgency), ("severity", info.severity),
                      ("certainty", info.certainty)):
        _sub(block, tag, text)
    for tag, when in (("effective", info.effective), ("onset", info.onset),
                      ("expires", info.expires)):
        _sub(block, tag, None if when is None else cap_time(when, tz))
    for tag, text in (("senderName", info.sender_name), ("headline", info.headline),
                      ("description", info.description), ("instruction", info.instruction),
                      ("web", info.web), ("contact", info.contact)):
        _sub(block, tag, text)
    for name, value in info.parameters:
        _pair(block, "parameter", name, value)
    for area in areas:
        element = etree.SubElement(block, f"{{{CAP_NS}}}area")
        _sub(element, "areaDesc", area.area_desc)
        for ring in area.polygons:
            _sub(element, "polygon", polygon_text(ring, max_points))
        for name, value in area.geocodes:
            _pair(element, "geocode", name, value)


def cap_xml(alert: CapAlert, *, tz: tzinfo | None = None,
            max_points: int = MAX_POLYGON_POINTS) -> bytes:
    """The alert as a UTF-8 CAP 1.2 document (``tz``: write every time in this zone)."""
    root = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})
    for tag, text in (("identifier", alert.identifier), ("sender", alert.sender),
                      ("sent", cap_time(alert.sent, tz)), ("status", alert.status),
                      ("msgType", alert.msg_type), ("scope", alert.scope), ("note", alert.note)):
        _sub(root, tag, text)
    if alert.references:
        _sub(root, "references", " ".join(f"{sender},{ident},{cap_time(sent, tz)}"
                                          for sender, ident, sent in alert.references))
    for info in alert.infos:
        _info(root, info, alert.areas, tz, max_points)
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8", pretty_print=True)


def safe_parser() -> etree.XMLParser:
    """An XML parser that fetches nothing and expands no entities."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False)


@functools.cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH), safe_parser()))


_SCHEMA_LOCK = threading.Lock()  # an XMLSchema's error log is shared by its callers


def validate(xml: bytes) -> None:
    """Raise InputError with the schema's message unless ``xml`` is a valid CAP 1.2 document."""
    try:
        document = etree.fromstring(xml, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise InputError(f"CAP document is not well-formed XML: {exc}") from exc
    with _SCHEMA_LOCK:
        schema = _schema()
        if schema.validate(document):
            return
        errors = [f"line {e.line}: {e.message}" for e in schema.error_log]
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    raise InputError("CAP document fails the CAP 1.2 schema: " + "; ".join(errors[:3]) + more)
