"""Alert message texts: both languages, all kinds and levels, escaping, SMS limits."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from floodwatch.core.errors import InputError
from floodwatch.warnings.messages import (
    GaugeReading,
    Message,
    MessageContext,
    ModelledFlooding,
    render_message,
)
from floodwatch.warnings.sms_text import fit_sms, sms_encoding, sms_segments, to_gsm7

URL = "https://canhbao.hue.example/w/19765"
WARD = "Phường Phú Hội"
HOSTILE = "<img src=x onerror=alert(1)>"


def make_ctx(**overrides: Any) -> MessageContext:
    values: dict[str, Any] = {
        "language": "vi",
        "kind": "alert",
        "level": 3,
        "previous_level": None,
        "ward_name": WARD,
        "ward_code": "19765",
        "as_of": datetime(2025, 11, 17, 1, 0, tzinfo=UTC),
        "more_url": URL,
        "gauges": (
            GaugeReading("Bồ @ Phú Ốc", 4.96, (1.5, 3.0, 4.5), 3, "rising", 0.12),
            GaugeReading("Hương @ Kim Long", 3.01, (1.0, 2.0, 3.5), 2, "falling", 0.05),
            GaugeReading("Tả Trạch @ Thượng Nhật", 58.2, (59.0, 61.0, None), 0, "steady"),
        ),
        "flooding": ModelledFlooding(flooded_share=0.35, max_depth_m=1.24, people_affected=4500),
        "rainfall_24h_mm": 182.4,
        "reasons": ("Phú Ốc trên BĐ III",),
    }
    values.update(overrides)
    return MessageContext(**values)


LEVEL_WORDS = {
    "vi": {1: "xanh dương nhạt", 2: "vàng nhạt", 3: "da cam", 4: "đỏ", 5: "tím"},
    "en": {1: "light blue", 2: "light yellow", 3: "orange", 4: "red", 5: "purple"},
}


@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("kind", ["alert", "update", "cancel"])
@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_renders_every_language_kind_and_level(language: str, kind: str, level: int) -> None:
    ctx_level = 0 if kind == "cancel" else level
    previous = level if kind == "cancel" else max(level - 1, 1)
    msg = render_message(make_ctx(language=language, kind=kind, level=ctx_level,
                                  previous_level=previous))
    assert isinstance(msg, Message) and msg.language == language
    assert "\n" not in msg.subject and WARD in msg.subject
    for part in (msg.text, msg.html):
        assert WARD in part and "Phú Ốc" in part
    level_name = f"Cấp {level}" if language == "vi" else f"level {level}"
    assert level_name in msg.subject or kind == "cancel"
    assert level_name.upper() in msg.text.upper()
    if kind != "cancel":
        assert LEVEL_WORDS[language][level] in msg.subject
    cancel_word = {"vi": "Hủy cảnh báo lũ", "en": "cancelled"}[language]
    assert (cancel_word in msg.subject) == (kind == "cancel")
    assert f'lang="{language}"' in msg.html
    assert msg.sms.endswith(" " + URL)
    assert sms_segments(msg.sms)[1] <= 2
    assert URL in msg.text and f'href="{URL}"' in msg.html


@pytest.mark.parametrize(("language", "level", "words"), [
    ("vi", 1, "Kê cao đồ đạc"),
    ("vi", 4, "Sơ tán ngay khi chính quyền yêu cầu"),
    ("vi", 5, "gọi cứu hộ"),
    ("en", 2, "Do not cross flooded roads"),
    ("en", 3, "Follow the local authority's orders"),
    ("en", 4, "Evacuate as soon as the authorities tell you"),
])
def test_instruction_follows_the_level(language: str, level: int, words: str) -> None:
    msg = render_message(make_ctx(language=language, level=level))
    assert words in msg.text


def test_vietnamese_text_keeps_diacritics_numbers_and_local_time() -> None:
    msg = render_message(make_ctx())
    assert msg.subject == "Cảnh báo lũ Cấp 3 (da cam) – Phường Phú Hội"
    assert "Cập nhật lúc 17/11/2025 08:00 (giờ Việt Nam)" in msg.text
    assert "Bồ @ Phú Ốc: 4,96 m, trên BĐ III (4,50 m) 0,46 m, đang lên 0,12 m/giờ." in msg.text
    assert "dưới BĐ I (59,00 m) 0,80 m, ít biến đổi." in msg.text
    assert "khoảng 35% diện tích bị ngập, sâu nhất khoảng 1,2 m, khoảng 4.500 người" in msg.text
    assert "Lượng mưa 24 giờ qua: 182 mm." in msg.text
    assert "Đường dây nóng: 1900 1075" in msg.text
    for part in (msg.subject, msg.text, msg.sms, msg.html):
        assert unicodedata.is_normalized("NFC", part)


def test_english_text_numbers_and_time_from_another_offset() -> None:
    as_of = datetime(2025, 11, 17, 3, 0, tzinfo=timezone(timedelta(hours=2)))  # 08:00 in Huế
    msg = render_message(make_ctx(language="en", as_of=as_of, hotline=None))
    assert "As of 17/11/2025 08:00 (Vietnam time)" in msg.text
    assert "4.96 m, 0.46 m above alarm level III (BĐ III, 4.50 m), rising 0.12 m/h." in msg.text
    assert "about 4,500 people affected" in msg.text
    assert "Hotline" not in msg.text


def test_update_says_which_way_the_level_moved() -> None:
    up = render_message(make_ctx(kind="update", level=4, previous_level=3))
    assert up.subject.endswith("(tăng từ Cấp 3)")
    assert "Cấp độ rủi ro tăng từ Cấp 3 lên Cấp 4." in up.text
    down = render_message(make_ctx(language="en", kind="update", level=2, previous_level=4))
    assert down.subject.endswith("(down from level 4)")
    assert "The risk has fallen from level 4 to level 2." in down.text


def test_optional_parts_are_left_out() -> None:
    msg = render_message(make_ctx(gauges=(), flooding=None, rainfall_24h_mm=None, reasons=()))
    assert "Mực nước sông" not in msg.text and "Mô hình" not in msg.text
    assert "Lượng mưa" not in msg.text and "Lý do" not in msg.text
    assert "\n\n\n" not in msg.text
    assert msg.sms.endswith(URL)


def test_html_escapes_hostile_input_and_text_keeps_it_verbatim() -> None:
    msg = render_message(make_ctx(ward_name=HOSTILE, reasons=(HOSTILE,),
                                  gauges=(GaugeReading(HOSTILE, 1.0, (1.0, 2.0, 3.0), 1),)))
    assert "<img" not in msg.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in msg.html
    assert HOSTILE in msg.text  # plain text is not HTML


@pytest.mark.parametrize(("overrides", "fragment"), [
    ({"as_of": datetime(2025, 11, 17, 8, 0)}, "timezone-aware"),
    ({"kind": "alert", "level": 0}, "risk level of 1 to 5"),
    ({"level": 6}, "level must be 0-5"),
    ({"language": "fr"}, "language must be vi or en"),
    ({"kind": "all-clear"}, "kind must be"),
    ({"more_url": "javascript:alert(1)"}, "more_url"),
])
def test_bad_context_is_an_input_error(overrides: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        make_ctx(**overrides)


def test_ascii_only_sms_is_gsm7_without_diacritics() -> None:
    msg = render_message(make_ctx(), sms_ascii_only=True)
    assert sms_encoding(msg.sms) == "gsm7"
    assert "Phuong Phu Hoi" in msg.sms and msg.sms.endswith(" " + URL)
    assert sms_segments(msg.sms)[1] <= 2


# --- SMS segment counting -------------------------------------------------------------------

@pytest.mark.parametrize(("text", "encoding", "segments"), [
    ("", "gsm7", 1),
    ("a" * 160, "gsm7", 1),
    ("a" * 161, "gsm7", 2),
    ("a" * 306, "gsm7", 2),
    ("a" * 307, "gsm7", 3),
    ("é" * 160, "gsm7", 1),  # é, ü, ñ … are in the GSM-7 default alphabet
    ("€" * 80, "gsm7", 1),  # extension table: 2 septets each
    ("a" * 158 + "€", "gsm7", 1),
    ("a" * 159 + "€", "gsm7", 2),
    ("a" * 152 + "€" + "a" * 152, "gsm7", 3),  # an escape pair is never split
    ("{}[]~|^\\" * 19, "gsm7", 2),  # 152 characters, 304 septets
    ("ê" * 70, "ucs2", 1),
    ("ê" * 71, "ucs2", 2),
    ("ê" * 134, "ucs2", 2),
    ("ê" * 135, "ucs2", 3),
    ("a" * 159 + "ệ", "ucs2", 3),  # one diacritic makes all 160 characters UCS-2
    ("Phú Ốc", "ucs2", 1),
    ("đ", "ucs2", 1),
    ("…", "ucs2", 1),
    ("🌊" * 35, "ucs2", 1),  # 70 UTF-16 units
    ("🌊" * 36, "ucs2", 2),
    ("a" + "🌊" * 33 + "🌊" * 33, "ucs2", 2),  # a surrogate pair never splits: 1+66 | 66
    ("a" * 2 + "🌊" * 33 + "🌊" * 33, "ucs2", 3),
])
def test_sms_segments(text: str, encoding: str, segments: int) -> None:
    assert sms_segments(text) == (encoding, segments)


@pytest.mark.parametrize(("text", "ascii_text"), [
    ("Phú Ốc", "Phu Oc"),
    ("Đông Ba đường ngập", "Dong Ba duong ngap"),
    ("Quảng Điền – Thuận An…", "Quang Dien - Thuan An..."),
    ("Hương, Bồ, Ô Lâu, Truồi", "Huong, Bo, O Lau, Truoi"),
    ("“Cấp 5” ≥ BĐ III", '"Cap 5" >= BD III'),
    ("café 10€", "cafe 10€"),  # ASCII letters; € is GSM-7 (extension table)
])
def test_to_gsm7(text: str, ascii_text: str) -> None:
    assert to_gsm7(text) == ascii_text
    assert sms_encoding(to_gsm7(text)) == "gsm7"


LONG_VI = ("Cảnh báo lũ Cấp 4 tại Phường Phú Hội (08:00 17/11). Sơ tán khi chính quyền yêu cầu. "
           "Gọi 1900 1075. Bồ @ Phú Ốc 4,96 m, trên BĐ III, đang lên.")


@pytest.mark.parametrize("max_segments", [1, 2, 3])
@pytest.mark.parametrize("url_length", [12, 30, 60])
@pytest.mark.parametrize("ascii_only", [False, True])
def test_fit_sms_always_keeps_the_whole_url(max_segments: int, url_length: int,
                                            ascii_only: bool) -> None:
    url = "https://x.vn/" + "a" * (url_length - 13)
    text = fit_sms(LONG_VI, url, max_segments=max_segments, ascii_only=ascii_only)
    assert text.endswith(" " + url)
    encoding, segments = sms_segments(text)
    assert segments <= max_segments
    assert encoding == ("gsm7" if ascii_only else "ucs2")
    body = to_gsm7(LONG_VI) if ascii_only else LONG_VI
    head = text[: -len(url) - 1]
    assert head == body or head.endswith(("…", "...")), "a cut body ends with an ellipsis"
    assert body.startswith(head.removesuffix("…").removesuffix("..."))


def test_fit_sms_truncates_with_an_ellipsis_at_a_boundary() -> None:
    text = fit_sms(LONG_VI, URL, max_segments=2)
    assert len(text) <= 134
    assert text == ("Cảnh báo lũ Cấp 4 tại Phường Phú Hội (08:00 17/11). Sơ tán khi chính quyền "
                    "yêu cầu. Gọi 1900 1075… " + URL)


def test_fit_sms_uses_dots_in_gsm7_and_keeps_short_text_whole() -> None:
    assert fit_sms("Short  text", URL) == f"Short text {URL}"
    text = fit_sms("word " * 80, URL, max_segments=1)
    assert text.endswith("word... " + URL) and sms_encoding(text) == "gsm7"
    assert sms_segments(text)[1] == 1


def test_fit_sms_rejects_a_url_that_cannot_fit() -> None:
    with pytest.raises(InputError, match="URL alone"):
        fit_sms("body", "https://x.vn/" + "ệ" * 60, max_segments=1)
