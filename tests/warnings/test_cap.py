"""CAP 1.2 documents, the Atom index and publishing: schema-valid output, real CAP files, the
Huế ward polygons, escaping and atomic writes."""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import shapely
from lxml import etree

from floodwatch.core.errors import InputError
from floodwatch.warnings import capfeed
from floodwatch.warnings.cap import (
    CAP_NS,
    CATEGORIES,
    CERTAINTIES,
    MSG_TYPES,
    RESPONSE_TYPES,
    SCHEMA_PATH,
    SCOPES,
    SEVERITIES,
    STATUSES,
    URGENCIES,
    CapAlert,
    CapArea,
    CapInfo,
    area_from_geometry,
    cap_time,
    cap_xml,
    level_to_cap,
    polygon_text,
    validate,
)
from floodwatch.warnings.capfeed import (
    AtomEntry,
    atom_index,
    cap_filename,
    entry_for_alert,
    publish,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cap"
WARDS = (Path(__file__).parents[2] / "gis_data" / "floodwatch" / "gis_data" / "regions" / "hue"
         / "admin" / "hue_wards_2025.geojson")
ICT = timezone(timedelta(hours=7))
SENT = datetime(2025, 11, 17, 8, 0, tzinfo=ICT)
SENDER = "canhbao@floodwatch.hue.example"
NS = {"cap": CAP_NS, "atom": capfeed.ATOM_NS}
HOSTILE = "<img src=x onerror=alert(1)> & \"quoted\" 'single' ]]>"
SQUARE = [(107.50, 16.40), (107.60, 16.40), (107.60, 16.50), (107.50, 16.50), (107.50, 16.40)]


# ---------------------------------------------------------------------------- factories

def make_info(language: str = "vi-VN", level: int = 3, observed: bool = True,
              **changes: Any) -> CapInfo:
    severity, urgency, certainty = level_to_cap(level, observed)
    texts = {
        "vi-VN": ("Lũ sông Hương", f"Cảnh báo lũ cấp {level} tại phường Kim Long",
                  "Mực nước sông Hương tại trạm Kim Long vượt báo động III.",
                  "Di chuyển người và tài sản lên chỗ cao; không đi qua đường ngập."),
        "en-US": ("River flood", f"Flood warning, risk level {level}, Kim Long ward",
                  "The Huong River at Kim Long is above alarm level III.",
                  "Move people and belongings to higher ground; do not cross flooded roads."),
    }[language]
    info = CapInfo(language=language, event=texts[0], headline=texts[1], description=texts[2],
                   instruction=texts[3], severity=severity, urgency=urgency,
                   certainty=certainty, category="Met", response_type="Prepare",
                   onset=SENT, effective=SENT, expires=SENT + timedelta(hours=12),
                   sender_name="floodwatch Huế", web="https://floodwatch.hue.example/w/19774",
                   contact="Ban Chỉ huy PCTT Huế 0234 3822 000",
                   parameters=[("floodwatch:risk_level", str(level))])
    return replace(info, **changes) if changes else info


def make_alert(**changes: object) -> CapAlert:
    fields: dict[str, object] = dict(
        identifier="floodwatch-hue-19774-river_flood-1", sender=SENDER, sent=SENT,
        status="Actual", msg_type="Alert", infos=[make_info("en-US"), make_info("vi-VN")],
        areas=[CapArea("Phường Kim Long", [SQUARE], [("GSO", "19774")])])
    fields.update(changes)
    return CapAlert(**fields)  # type: ignore[arg-type]


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def ring_of(polygon: str) -> list[tuple[float, float]]:
    """A CAP polygon back to (lon, lat) points."""
    pairs = [pair.split(",") for pair in polygon.split()]
    return [(float(lon), float(lat)) for lat, lon in pairs]


@pytest.fixture(scope="module")
def kim_long() -> shapely.Geometry:
    features = json.loads(WARDS.read_text(encoding="utf-8"))["features"]
    (ward,) = [f for f in features if f["properties"]["gso_code_2025"] == "19774"]
    assert ward["properties"]["name_vi"] == "Kim Long"
    return shapely.geometry.shape(ward["geometry"])


def xsd_enums(element: str) -> set[str]:
    xsd = etree.parse(str(SCHEMA_PATH))
    path = f"//xs:element[@name='{element}']//xs:enumeration/@value"
    return set(xsd.xpath(path, namespaces={"xs": "http://www.w3.org/2001/XMLSchema"}))


# ---------------------------------------------------------------------------- documents

def test_alert_is_schema_valid_with_elements_in_order() -> None:
    xml = cap_xml(make_alert())
    validate(xml)
    root = parse(xml)
    assert [etree.QName(c).localname for c in root][:6] == [
        "identifier", "sender", "sent", "status", "msgType", "scope"]
    info = root.find("cap:info", NS)
    assert [etree.QName(c).localname for c in info] == [
        "language", "category", "event", "responseType", "urgency", "severity", "certainty",
        "effective", "onset", "expires", "senderName", "headline", "description",
        "instruction", "web", "contact", "parameter", "area"]
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')


def test_update_carries_references_and_validates() -> None:
    first_sent = SENT - timedelta(hours=3)
    refs = [(SENDER, "floodwatch-hue-19774-river_flood-1", first_sent),
            (SENDER, "floodwatch-hue-19774-river_flood-2", SENT.astimezone(UTC))]
    xml = cap_xml(make_alert(identifier="floodwatch-hue-19774-river_flood-3",
                             msg_type="Update", references=refs))
    validate(xml)
    assert parse(xml).findtext("cap:references", namespaces=NS) == (
        f"{SENDER},floodwatch-hue-19774-river_flood-1,2025-11-17T05:00:00+07:00 "
        f"{SENDER},floodwatch-hue-19774-river_flood-2,2025-11-17T01:00:00-00:00")


@pytest.mark.parametrize("with_info", [False, True])
def test_cancel_validates_with_or_without_all_clear_info(with_info: bool) -> None:
    infos = [make_info(lang, level=0, response_type="AllClear") for lang in ("vi-VN", "en-US")]
    alert = make_alert(identifier="floodwatch-hue-19774-river_flood-4", msg_type="Cancel",
                       references=[(SENDER, "floodwatch-hue-19774-river_flood-1", SENT)],
                       infos=infos if with_info else [],
                       areas=make_alert().areas if with_info else [])
    xml = cap_xml(alert)
    validate(xml)
    root = parse(xml)
    assert root.findtext("cap:msgType", namespaces=NS) == "Cancel"
    assert len(root.findall("cap:info", NS)) == (2 if with_info else 0)
    if with_info:
        assert root.findtext("cap:info/cap:urgency", namespaces=NS) == "Past"
        assert root.findtext("cap:info/cap:responseType", namespaces=NS) == "AllClear"


def test_both_languages_vi_first_with_diacritics_intact() -> None:
    xml = cap_xml(make_alert(infos=[make_info("en-US"), make_info("vi-VN")]))
    root = parse(xml)
    assert [i.findtext("cap:language", namespaces=NS) for i in root.findall("cap:info", NS)] == [
        "vi-VN", "en-US"]
    assert root.findtext("cap:info/cap:event", namespaces=NS) == "Lũ sông Hương"
    assert "Lũ sông Hương".encode() in xml  # raw UTF-8, not character references
    assert b"&#" not in xml


def test_polygon_is_lat_lon_closed_and_rounded() -> None:
    open_ring = [(107.5000004, 16.4), (107.6, 16.4), (107.6, 16.5), (107.5, 16.5)]
    text = polygon_text(open_ring)
    pairs = text.split()
    assert pairs[0] == "16.40000,107.50000"  # latitude first
    assert pairs[0] == pairs[-1] and len(pairs) == 5
    with pytest.raises(InputError, match="at least 4 points"):
        polygon_text([(107.5, 16.4), (107.500001, 16.400001), (107.5, 16.4)])


def test_kim_long_ward_round_trips(kim_long: shapely.Geometry) -> None:
    area = area_from_geometry("Phường Kim Long, TP Huế", kim_long, [("GSO", "19774")])
    xml = cap_xml(make_alert(areas=[area]))
    validate(xml)
    cap_area = parse(xml).find("cap:info/cap:area", NS)
    assert cap_area.findtext("cap:geocode/cap:value", namespaces=NS) == "19774"
    (polygon,) = cap_area.findall("cap:polygon", NS)
    ring = ring_of(polygon.text)
    assert ring[0] == ring[-1] and len(ring) >= 4
    back = shapely.Polygon(ring)
    original = shapely.Polygon(kim_long.exterior)
    assert back.is_valid
    assert shapely.hausdorff_distance(back, original) < 1e-5
    assert abs(back.area - original.area) / original.area < 1e-4
    assert 16.0 < back.centroid.y < 17.0 and 107.0 < back.centroid.x < 108.0  # not swapped


def test_large_polygon_is_simplified_to_the_point_limit() -> None:
    circle = shapely.Point(107.58, 16.46).buffer(0.05, quad_segs=1500)  # 6001 points
    assert len(circle.exterior.coords) > 6000
    xml = cap_xml(make_alert(areas=[area_from_geometry("big", circle)]))
    validate(xml)
    ring = ring_of(parse(xml).findtext("cap:info/cap:area/cap:polygon", namespaces=NS))
    assert 4 <= len(ring) <= 1000 and ring[0] == ring[-1]
    assert shapely.hausdorff_distance(shapely.Polygon(ring), circle) < 1e-3


def test_multipolygon_gives_one_polygon_per_part() -> None:
    parts = shapely.MultiPolygon([shapely.Polygon(SQUARE),
                                  shapely.Polygon([(x + 0.2, y) for x, y in SQUARE])])
    area = area_from_geometry("two parts", parts)
    assert len(area.polygons) == 2
    with pytest.raises(InputError, match="Polygon or MultiPolygon"):
        area_from_geometry("a point", shapely.Point(107.5, 16.4))


@pytest.mark.parametrize(("when", "tz", "expected"), [
    (datetime(2025, 11, 17, 1, 0, tzinfo=UTC), None, "2025-11-17T01:00:00-00:00"),
    (datetime(2025, 11, 17, 8, 0, 30, 999, tzinfo=ICT), None, "2025-11-17T08:00:30+07:00"),
    (datetime(2025, 11, 17, 1, 0, tzinfo=UTC), ZoneInfo("Asia/Ho_Chi_Minh"),
     "2025-11-17T08:00:00+07:00"),
    (datetime(2025, 11, 17, 8, 0, tzinfo=ICT), UTC, "2025-11-17T01:00:00-00:00"),
])
def test_cap_time(when: datetime, tz: timezone | None, expected: str) -> None:
    assert cap_time(when, tz) == expected


def test_utc_is_written_minus_zero_never_z() -> None:
    xml = cap_xml(make_alert(sent=SENT.astimezone(UTC)))
    validate(xml)
    assert parse(xml).findtext("cap:sent", namespaces=NS) == "2025-11-17T01:00:00-00:00"
    assert not re.search(rb"\d\dZ<", xml)
    xml_local = cap_xml(make_alert(sent=SENT.astimezone(UTC)), tz=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert parse(xml_local).findtext("cap:sent", namespaces=NS) == "2025-11-17T08:00:00+07:00"
    with pytest.raises(InputError, match="timezone-aware"):
        cap_time(datetime(2025, 11, 17, 8, 0))


def test_hostile_text_is_escaped() -> None:
    alert = make_alert(areas=[CapArea(HOSTILE, [SQUARE], [("GSO", HOSTILE)])],
                       infos=[make_info(headline=HOSTILE, description=HOSTILE)],
                       note=HOSTILE)
    xml = cap_xml(alert)
    validate(xml)
    assert b"<img" not in xml and b"&lt;img src=x onerror=alert(1)&gt; &amp;" in xml
    root = parse(xml)
    assert root.findtext("cap:note", namespaces=NS) == HOSTILE
    assert root.findtext("cap:info/cap:area/cap:areaDesc", namespaces=NS) == HOSTILE
    assert root.findtext("cap:info/cap:headline", namespaces=NS) == HOSTILE
    with pytest.raises(InputError, match="characters XML cannot carry"):
        cap_xml(make_alert(note="bell\x07"))


@pytest.mark.parametrize(("changes", "message"), [
    ({"msg_type": "Update"}, "must reference"),
    ({"msg_type": "Cancel", "infos": [], "areas": []}, "must reference"),
    ({"identifier": "has space"}, "identifier"),
    ({"sender": "a,b"}, "sender"),
    ({"sent": datetime(2025, 11, 17, 8, 0)}, "timezone-aware"),
    ({"status": "Real"}, "status"),
    ({"infos": [make_info("vi-VN"), make_info("vi-VN")]}, "one block per language"),
    ({"infos": []}, "at least one info"),
])
def test_alert_model_refuses_bad_input(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        make_alert(**changes)


@pytest.mark.parametrize(("changes", "message"), [
    ({"severity": "Catastrophic"}, "severity"),
    ({"category": "Flood"}, "category"),
    ({"response_type": "Run"}, "responseType"),
    ({"expires": SENT - timedelta(hours=1)}, "expires"),
])
def test_info_model_refuses_bad_input(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        make_info(**changes)


def test_area_refuses_points_outside_lon_lat() -> None:
    with pytest.raises(InputError, match="WGS 84"):
        CapArea("projected", [[(560000.0, 1820000.0), (560100.0, 1820000.0),
                               (560100.0, 1820100.0), (560000.0, 1820000.0)]])


# ---------------------------------------------------------------------------- level mapping

@pytest.mark.parametrize(("level", "observed", "expected"), [
    (0, True, ("Minor", "Past", "Observed")),
    (1, True, ("Minor", "Immediate", "Observed")),
    (2, True, ("Moderate", "Immediate", "Observed")),
    (3, True, ("Severe", "Immediate", "Observed")),
    (4, True, ("Extreme", "Immediate", "Observed")),
    (5, True, ("Extreme", "Immediate", "Observed")),
    (1, False, ("Minor", "Expected", "Likely")),
    (3, False, ("Severe", "Expected", "Likely")),
    (5, False, ("Extreme", "Expected", "Likely")),
])
def test_level_to_cap(level: int, observed: bool, expected: tuple[str, str, str]) -> None:
    assert level_to_cap(level, observed) == expected
    severity, urgency, certainty = expected
    assert severity in xsd_enums("severity") and urgency in xsd_enums("urgency")
    assert certainty in xsd_enums("certainty")


@pytest.mark.parametrize("level", [-1, 6, True, 2.0])
def test_level_to_cap_refuses_unknown_levels(level: object) -> None:
    with pytest.raises(InputError, match="risk level"):
        level_to_cap(level)  # type: ignore[arg-type]


@pytest.mark.parametrize(("element", "values"), [
    ("status", STATUSES), ("msgType", MSG_TYPES), ("scope", SCOPES), ("category", CATEGORIES),
    ("responseType", RESPONSE_TYPES), ("urgency", URGENCIES), ("severity", SEVERITIES),
    ("certainty", CERTAINTIES),
])
def test_enumerations_match_the_schema(element: str, values: tuple[str, ...]) -> None:
    assert set(values) == xsd_enums(element)


# ---------------------------------------------------------------------------- validation

@pytest.mark.parametrize("name", ["oasis_cap12_spec_example_amber.xml", "taiwan.cap",
                                  "canada.cap", "australia_bom.cap"])
def test_real_cap_documents_validate(name: str) -> None:
    validate((FIXTURES / name).read_bytes())


def test_real_invalid_document_fails_with_the_schema_message() -> None:
    with pytest.raises(InputError, match=r"fails the CAP 1.2 schema: line 9: .*info.*scope"):
        validate((FIXTURES / "invalid.cap").read_bytes())


def test_validator_rejects_our_document_when_broken() -> None:
    xml = cap_xml(make_alert())
    with pytest.raises(InputError, match="sent"):
        validate(xml.replace(b"2025-11-17T08:00:00+07:00</sent>", b"2025-11-17T01:00:00Z</sent>"))
    with pytest.raises(InputError, match="severity"):
        validate(xml.replace(b"<severity>Severe<", b"<severity>Huge<"))
    with pytest.raises(InputError, match="not well-formed"):
        validate(xml[:-20])
    with pytest.raises(InputError, match="schema"):  # CAP 1.1 is not CAP 1.2
        validate(xml.replace(b"emergency:cap:1.2", b"emergency:cap:1.1"))


def test_schema_is_the_oasis_file_and_loads_offline() -> None:
    text = SCHEMA_PATH.read_text(encoding="utf-8")
    assert "Copyright OASIS Open 2010" in text
    assert 'targetNamespace = "urn:oasis:names:tc:emergency:cap:1.2"' in text
    assert "import" not in text and "include" not in text  # nothing to fetch
    assert (SCHEMA_PATH.parent / "SOURCES.md").is_file()


# ---------------------------------------------------------------------------- Atom index

@pytest.fixture(scope="module")
def atom_schema() -> etree.XMLSchema:
    # atom.xsd imports three schemas that are not shipped; libxml2 skips them (offline).
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(FIXTURES / "atom.xsd"), parser))


def make_index(entries: list[AtomEntry]) -> bytes:
    return atom_index(entries, feed_id="https://floodwatch.hue.example/cap/index.atom",
                      title="floodwatch Huế: cảnh báo lũ hiện hành", updated=SENT,
                      self_url="https://floodwatch.hue.example/cap/index.atom")


def test_atom_index_is_valid_atom(atom_schema: etree.XMLSchema) -> None:
    base = "https://floodwatch.hue.example/cap/"
    alerts = [make_alert(), make_alert(identifier="floodwatch-hue-19753-river_flood-1",
                                       sent=SENT + timedelta(minutes=5))]
    entries = [entry_for_alert(a, base + cap_filename(a.identifier)) for a in alerts]
    entries.append(replace(entries[0], id="urn:x", title=HOSTILE))
    xml = make_index(entries)
    assert atom_schema.validate(parse(xml)), atom_schema.error_log
    feed = parse(xml)
    found = feed.findall("atom:entry", NS)
    assert len(found) == 3
    newest = found[0]
    assert newest.findtext("atom:title", namespaces=NS) == "Cảnh báo lũ cấp 3 tại phường Kim Long"
    link = newest.find("atom:link", NS)
    assert link.attrib == {"rel": "alternate", "type": "application/cap+xml",
                           "href": base + "floodwatch-hue-19753-river_flood-1.xml"}
    assert newest.findtext("atom:updated", namespaces=NS) == "2025-11-17T08:05:00+07:00"
    assert newest.findtext("atom:author/atom:name", namespaces=NS) == "floodwatch Huế"
    assert found[2].findtext("atom:title", namespaces=NS) == HOSTILE


def test_empty_atom_index_is_valid_and_schema_check_bites(atom_schema: etree.XMLSchema) -> None:
    xml = make_index([])
    assert atom_schema.validate(parse(xml)), atom_schema.error_log
    bad_time = parse(xml.replace(b"2025-11-17T08:00:00+07:00", b"17/11/2025 08:00"))
    assert not atom_schema.validate(bad_time)
    no_href = parse(xml)
    del no_href.find("atom:link", NS).attrib["href"]
    assert not atom_schema.validate(no_href)


# ---------------------------------------------------------------------------- publishing

def docs(*alerts: CapAlert) -> dict[str, bytes]:
    return {a.identifier: cap_xml(a) for a in alerts}


def test_publish_writes_complete_files_only(tmp_path: Path) -> None:
    alerts = [make_alert(), make_alert(identifier="2.49.0.1.704.0.2025.19753")]
    written = publish(tmp_path, docs(*alerts), make_index([]))
    cap_dir = tmp_path / "cap"
    assert sorted(p.name for p in cap_dir.iterdir()) == [
        "2.49.0.1.704.0.2025.19753.xml", "floodwatch-hue-19774-river_flood-1.xml", "index.atom"]
    assert written[-1] == cap_dir / "index.atom"
    for path in cap_dir.glob("*.xml"):
        validate(path.read_bytes())
        assert path.stat().st_mode & 0o777 == 0o644
    assert (cap_dir / "index.atom").read_bytes() == make_index([])


def test_publish_failure_leaves_old_files_and_no_temporaries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = make_alert(), make_alert(note="second issue")
    publish(tmp_path, docs(old), make_index([]))
    real_replace = os.replace

    def failing_replace(src: str, dst: str) -> None:
        if str(dst).endswith(".xml"):
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(capfeed.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        publish(tmp_path, docs(new), b"<feed xmlns='http://www.w3.org/2005/Atom'/>")
    cap_dir = tmp_path / "cap"
    assert sorted(p.name for p in cap_dir.iterdir()) == [
        "floodwatch-hue-19774-river_flood-1.xml", "index.atom"]
    assert (cap_dir / "floodwatch-hue-19774-river_flood-1.xml").read_bytes() == cap_xml(old)
    assert (cap_dir / "index.atom").read_bytes() == make_index([])


def test_readers_never_see_a_partial_file(tmp_path: Path) -> None:
    big = "Mưa lớn kéo dài. " * 40_000  # ~0.7 MB, written in several chunks by a naive writer
    versions = [cap_xml(make_alert(infos=[make_info(description=big + str(n))])) for n in (1, 2)]
    path = tmp_path / "cap" / "floodwatch-hue-19774-river_flood-1.xml"
    publish(tmp_path, {"floodwatch-hue-19774-river_flood-1": versions[0]}, make_index([]))
    done, seen = threading.Event(), set()

    def read_loop() -> None:
        while not done.is_set():
            seen.add(path.read_bytes())

    reader = threading.Thread(target=read_loop)
    reader.start()
    try:
        for n in range(20):
            publish(tmp_path, {"floodwatch-hue-19774-river_flood-1": versions[n % 2]},
                    make_index([]))
    finally:
        done.set()
        reader.join()
    assert seen <= set(versions)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("identifier", [
    "../evil", "a/b", "..", ".hidden", "a\\b", "", "x..y", "a b", "a\x00b", "é", "x" * 201])
def test_publish_refuses_hostile_identifiers(tmp_path: Path, identifier: str) -> None:
    with pytest.raises(InputError, match="cannot be a file name"):
        publish(tmp_path, {identifier: cap_xml(make_alert())}, make_index([]))
    assert not (tmp_path / "cap").exists()
    assert not (tmp_path.parent / "evil.xml").exists()


def test_publish_refuses_mismatched_or_invalid_documents(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="has identifier"):
        publish(tmp_path, {"other-id": cap_xml(make_alert())}, make_index([]))
    with pytest.raises(InputError, match="schema"):
        publish(tmp_path, {"12345": (FIXTURES / "invalid.cap").read_bytes()}, make_index([]))
    with pytest.raises(InputError, match="Atom"):
        publish(tmp_path, docs(make_alert()), b"<feed>")
    assert not (tmp_path / "cap").exists()
