"""Words and instructions per language and risk level, as data for the message templates.

Risk levels and their map colours are those of Decision 18/2021/QĐ-TTg (cấp độ rủi ro thiên
tai): 1 light blue, 2 light yellow, 3 orange, 4 red, 5 purple; names and display colours come
from ``model.RISK_COLOURS``. Level 0 means "below level 1" (no risk level in force), used when a
warning is cancelled.
"""

from __future__ import annotations

from typing import Literal

from floodwatch.warnings.model import RISK_COLOURS

Language = Literal["vi", "en"]
LANGUAGES: tuple[Language, ...] = ("vi", "en")

NO_LEVEL_HEX = "#e0e0e0"


def level_colour(language: Language, level: int) -> str | None:
    """The official colour's name (model.RISK_COLOURS), None below level 1."""
    colour = RISK_COLOURS.get(level)
    if colour is None:
        return None
    return colour.name_vi if language == "vi" else colour.name_en


def level_colour_hex(level: int) -> str:
    colour = RISK_COLOURS.get(level)
    return NO_LEVEL_HEX if colour is None else colour.hex


def level_name(language: Language, level: int) -> str:
    if level <= 0:
        return "dưới Cấp 1" if language == "vi" else "below level 1"
    return f"Cấp {level}" if language == "vi" else f"level {level}"


# What to do, in full (e-mail, web) and short (SMS). Key 0 is for after the flood (cancel).
INSTRUCTION: dict[Language, dict[int, str]] = {
    "vi": {
        0: "Nước đã rút dưới mức nguy hiểm. Khi về nhà hãy cẩn thận: kiểm tra điện trước khi "
           "dùng, không đi qua những đoạn đường còn ngập và làm theo hướng dẫn của chính quyền.",
        1: "Theo dõi tin cảnh báo. Kê cao đồ đạc có giá trị, chuẩn bị đèn pin, nước uống, thuốc "
           "và sạc đầy điện thoại.",
        2: "Kê cao tài sản, đưa xe lên chỗ cao. Không đi qua đường ngập, ngầm, tràn. Theo dõi "
           "thông báo của chính quyền địa phương.",
        3: "Không đi qua đường ngập, ngầm, tràn. Làm theo chỉ dẫn của chính quyền địa phương, "
           "chuẩn bị sẵn giấy tờ, thuốc, lương thực và sẵn sàng sơ tán.",
        4: "Sơ tán ngay khi chính quyền yêu cầu. Mang theo giấy tờ, thuốc và điện thoại; ngắt "
           "điện trước khi rời nhà. Tuyệt đối không đi qua vùng nước chảy xiết.",
        5: "Nguy hiểm rất lớn. Sơ tán ngay theo lệnh của chính quyền. Nếu bị mắc kẹt, lên chỗ "
           "cao nhất và gọi cứu hộ.",
    },
    "en": {
        0: "The water has fallen below dangerous levels. Take care when you return home: check "
           "the electrics before use, avoid roads that are still flooded and follow the "
           "authorities' advice.",
        1: "Follow the warnings. Move valuables up, keep a torch, drinking water and medicine "
           "ready and charge your phone.",
        2: "Move belongings up and vehicles to higher ground. Do not cross flooded roads, fords "
           "or spillways. Follow the local authority's announcements.",
        3: "Do not cross flooded roads, fords or spillways. Follow the local authority's orders, "
           "keep documents, medicine and food ready and be ready to evacuate.",
        4: "Evacuate as soon as the authorities tell you to. Take documents, medicine and your "
           "phone; switch off the power before you leave. Never enter fast-flowing water.",
        5: "Extreme danger. Evacuate now as ordered by the authorities. If you are trapped, go "
           "to the highest place you can and call for rescue.",
    },
}

INSTRUCTION_SHORT: dict[Language, dict[int, str]] = {
    "vi": {
        0: "Nước đã rút, cẩn thận khi về nhà.",
        1: "Theo dõi tin, kê cao đồ đạc.",
        2: "Kê cao tài sản, không qua đường ngập.",
        3: "Không qua đường ngập, sẵn sàng sơ tán.",
        4: "Sơ tán khi chính quyền yêu cầu.",
        5: "Sơ tán ngay theo lệnh chính quyền.",
    },
    "en": {
        0: "Water has receded; take care returning home.",
        1: "Stay informed, move valuables up.",
        2: "Move belongings up; avoid flooded roads.",
        3: "Avoid flooded roads; be ready to evacuate.",
        4: "Evacuate when the authorities say so.",
        5: "Evacuate now as ordered by the authorities.",
    },
}

TREND: dict[Language, dict[str, str]] = {
    "vi": {"rising": "đang lên", "falling": "đang xuống", "steady": "ít biến đổi"},
    "en": {"rising": "rising", "falling": "falling", "steady": "steady"},
}

ROMAN = {1: "I", 2: "II", 3: "III"}
