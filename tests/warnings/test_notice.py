"""What a notification says, from the evidence each rule writes (table-driven, no store)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from floodwatch.gis_data.models import Area, Station
from floodwatch.warnings.messages import MessageContext, render_message
from floodwatch.warnings.notice import message_context, more_url, webhook_payload
from floodwatch.warnings.tables import AlertTransition

AT = datetime(2025, 11, 17, 1, 0, tzinfo=UTC)
AREA = Area(region="hue", level="ward", code="19774", name_vi="Kim Long")
KIM_LONG = Station(code="71520", name="Kim Long", alarm1_m=1.0, alarm2_m=2.0, alarm3_m=3.5)
GAUGE = {"code": "71520", "name": "Kim Long", "level_m": 2.71, "bd_m": [1.0, 2.0, 3.5],
         "observed_at": AT.isoformat()}


def context(evidence: dict[str, Any], *, language: str = "vi", kind: str = "alert",
            level: int = 2, previous: int = 0, stations: dict[str, Station] | None = None,
            rates: dict[str, float | None] | None = None) -> MessageContext:
    t = AlertTransition(id=1, kind=kind, hazard="river_flood", level=level,
                        previous_level=previous, at=AT, reason="Kim Long 2.71 m ≥ BĐ II",
                        evidence=evidence, cap_identifier="urn:test:1")
    ctx = message_context(t, AREA, language=language,  # type: ignore[arg-type]
                          public_url="https://canhbao.hue.example/", hotline="1900 1075",
                          stations={"71520": KIM_LONG} if stations is None else stations,
                          rates_m_per_h=rates or {}, steady_m_per_h=0.01)
    render_message(ctx)  # every context renders
    return ctx


@pytest.mark.parametrize(("rates", "evidence_rate", "trend"), [
    ({"71520": 0.05}, None, "rising"),
    ({"71520": -0.2}, None, "falling"),
    ({"71520": 0.005}, None, "steady"),
    ({"71520": None}, None, "steady"),  # unknown: the templates have no other word
    ({"71520": -0.2}, 0.3, "rising"),  # the evidence's own rate wins
])
def test_gauge_trend(rates: dict[str, float | None], evidence_rate: float | None,
                     trend: str) -> None:
    gauge = GAUGE if evidence_rate is None else {**GAUGE, "rate_m_per_h": evidence_rate}
    [g] = context({"gauges": [gauge]}, rates=rates).gauges
    assert (g.station_name, g.level_m, g.alarm_reached, g.trend) == ("Kim Long", 2.71, 2, trend)


def test_the_evidence_of_each_rule() -> None:
    raised = context({"gauges": [GAUGE], "rain_raise": {"rain_24h_mm": 142.0},
                      "flooding_raise": {"flooded_share": 0.3, "max_depth_m": 1.2}})
    assert raised.rainfall_24h_mm == 142.0 and raised.flooding is not None
    assert (raised.flooding.flooded_share, raised.flooding.people_affected) == (0.3, None)
    rain = context({"rain_24h_mm": 120.5, "min_mm_24h": 100})
    assert (rain.rainfall_24h_mm, rain.gauges, rain.flooding) == (120.5, (), None)
    flooding = context({"flooded_share": 0.4, "max_depth_m": 1.6, "people_affected": 5234})
    assert flooding.flooding is not None and flooding.flooding.people_affected == 5234
    cancel = context({"lifecycle": {"rule": "all_clear"}}, kind="cancel", level=0, previous=2)
    assert (cancel.kind, cancel.level, cancel.previous_level, cancel.gauges) == (
        "cancel", 0, 2, ())


def test_without_the_station_the_evidence_names_the_gauge() -> None:
    [g] = context({"gauges": [GAUGE]}, stations={}).gauges
    assert (g.station_name, g.alarm_levels_m) == ("Kim Long", (1.0, 2.0, 3.5))
    [bare] = context({"gauges": [{"code": "X1", "level_m": 0.5}]}, stations={}).gauges
    assert (bare.station_name, bare.alarm_levels_m, bare.alarm_reached) == (
        "X1", (None, None, None), 0)


def test_malformed_evidence_is_left_out() -> None:
    ctx = context({"gauges": ["x", {"code": "71520"}, {"code": "71520", "level_m": "high"},
                             {"level_m": 2.0}, {**GAUGE, "observed_at": "yesterday"}],
                   "rain_24h_mm": "a lot", "flooded_share": 7.0, "max_depth_m": 1.0})
    assert [g.level_m for g in ctx.gauges] == [2.71]
    assert (ctx.rainfall_24h_mm, ctx.flooding) == (None, None)


def test_reason_only_in_english_and_links() -> None:
    assert context({}, language="en").reasons == ("Kim Long 2.71 m ≥ BĐ II",)
    assert context({}, language="vi").reasons == ()
    vi = context({})
    assert vi.more_url == more_url("https://canhbao.hue.example", "19774", "vi") == (
        "https://canhbao.hue.example/?lang=vi&area=19774")


def test_webhook_payload() -> None:
    t = AlertTransition(id=1, kind="alert", hazard="river_flood", level=2, previous_level=0,
                        at=AT, reason="r", evidence={"gauges": [GAUGE]},
                        cap_identifier="urn:test:1")
    message = render_message(context({"gauges": [GAUGE]}, language="en"))
    payload = webhook_payload(t, AREA, message, "k" * 64)
    assert payload["idempotency_key"] == "k" * 64 and payload["at"] == AT
    assert payload["area"] == {"region": "hue", "level": "ward", "code": "19774",
                               "name": "Kim Long"}
    assert payload["text"] == message.text and payload["evidence"] == {"gauges": [GAUGE]}
