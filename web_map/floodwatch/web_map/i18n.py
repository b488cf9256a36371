"""Every string of the public map, in Vietnamese and English, and the helpers that put both in
the page (the browser shows one and switches without a reload). Words for risk levels, trends and
instructions come from the warnings component, so a message and the map say the same thing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from floodwatch.warnings import texts
from floodwatch.warnings.messages import fmt_number
from floodwatch.warnings.model import RISK_COLOURS

Lang = Literal["vi", "en"]
LANGS: tuple[Lang, ...] = ("vi", "en")

UI: dict[str, tuple[str, str]] = {  # key: (vi, en)
    "title": ("Bản đồ cảnh báo lũ", "Flood warning map"),
    "as_of": ("Số liệu tính đến", "Data as of"),
    "no_data": ("Chưa có số liệu", "No data yet"),
    "data_stale": ("Số liệu đã cũ", "Out of date"),
    "just_now": ("vừa xong", "just now"),
    "min_ago": ("{n} phút trước", "{n} min ago"),
    "h_ago": ("{n} giờ trước", "{n} h ago"),
    "d_ago": ("{n} ngày trước", "{n} days ago"),
    "switch_to": ("English", "Tiếng Việt"),
    "locate": ("Vị trí của tôi", "Where am I?"),
    "locate_title": ("Tôi đang ở phường/xã nào, có cảnh báo không?",
                     "Which ward am I in, and is it warned?"),
    "locating": ("Đang xác định vị trí…", "Finding your location…"),
    "locate_unsupported": ("Trình duyệt không cho biết vị trí.",
                           "This browser cannot tell your location."),
    "locate_failed": ("Không lấy được vị trí (hãy cho phép truy cập vị trí).",
                      "Could not get your location (allow location access)."),
    "locate_outside": ("Vị trí của bạn nằm ngoài {region}.", "You are outside {region}."),
    "locate_in": ("Bạn đang ở {ward}: {level}.", "You are in {ward}: {level}."),
    "close": ("Đóng", "Close"),
    "no_warning": ("Không có cảnh báo", "No warning in force"),
    "why": ("Lý do", "Why"),
    "what_to_do": ("Nên làm gì", "What to do"),
    "modelled": ("Mô hình ngập", "Modelled flooding"),
    "not_modelled": ("không tính được (thiếu số liệu mực nước mới)",
                     "not computed (no fresh river levels)"),
    "flooded_share": ("Diện tích ngập", "Area flooded"),
    "mean_depth": ("Độ sâu trung bình", "Mean depth"),
    "max_depth": ("Độ sâu lớn nhất", "Greatest depth"),
    "people_affected": ("Số người bị ảnh hưởng", "People affected"),
    "rain_24h": ("Mưa 24 giờ", "24-hour rainfall"),
    "population": ("Dân số", "Population"),
    "as_of_short": ("tính đến", "as of"),
    "water_level": ("Mực nước", "Water level"),
    "reading": ("Số đo", "Reading"),
    "below_bd1": ("Dưới BĐ I", "Below BĐ I"),
    "above_bd": ("Trên BĐ {n}", "Above BĐ {n}"),
    "alarm_levels": ("Mức báo động", "Alarm levels"),
    "trend": ("Xu thế 3 giờ", "3-hour trend"),
    "stale_old": ("Số liệu cũ: lần đo cuối đã hơn {h} giờ", "Out of date: the last reading is "
                  "more than {h} h old"),
    "stale_no_reading": ("Chưa có số liệu đo", "No readings yet"),
    "stale_feed_stale": ("Nguồn số liệu không cập nhật", "The data feed is not updating"),
    "stale_feed_failing": ("Nguồn số liệu đang lỗi", "The data feed is failing"),
    "hydrograph": ("Mực nước 72 giờ qua", "Water level, last 72 h"),
    "no_series": ("Không có số đo trong 72 giờ qua", "No readings in the last 72 h"),
    "layer_wards": ("Cấp độ rủi ro theo phường/xã", "Risk level by ward"),
    "layer_extent": ("Vùng ngập (mô hình)", "Flood extent (modelled)"),
    "layer_points": ("Điểm ngập", "Flood points"),
    "layer_gauges": ("Trạm đo", "Gauges"),
    "layer_rain": ("Mưa 24 giờ", "24-hour rainfall"),
    "layer_rivers": ("Sông", "Rivers"),
    "layer_tiles": ("Bản đồ nền trực tuyến", "Online basemap"),
    "legend": ("Chú giải", "Legend"),
    "legend_risk": ("Cấp độ rủi ro thiên tai (QĐ 18/2021/QĐ-TTg)",
                    "Disaster risk level (Decision 18/2021/QĐ-TTg)"),
    "legend_gauges": ("Trạm đo mực nước", "Water-level gauges"),
    "legend_stale": ("Số liệu cũ hoặc lỗi", "Out of date or failing"),
    "legend_no_bd": ("Hồ chứa, trạm đo mưa (không có mức BĐ)",
                     "Reservoir, rain gauge (no BĐ levels)"),
    "legend_depth": ("Độ sâu ngập (mô hình)", "Flood depth (modelled)"),
    "legend_rain": ("Mưa 24 giờ (mm)", "24-hour rainfall (mm)"),
    "approx_terrain": ("địa hình gần đúng: vùng ngập chỉ mang tính minh họa",
                       "approximate terrain: flood extents are illustrative"),
    "partial_run": ("Lần tính mô hình thiếu {n} đầu vào (số liệu cũ)",
                    "The model run left out {n} out-of-date input(s)"),
    "official": ("Hãy làm theo thông báo chính thức của chính quyền địa phương.",
                 "Follow the official announcements of the local authorities."),
    "depth": ("Độ sâu", "Depth"),
    "area": ("Diện tích", "Area"),
    "kind_river_gauge": ("Trạm thủy văn", "River gauge"),
    "kind_reservoir": ("Hồ chứa", "Reservoir"),
    "kind_rain_gauge": ("Trạm đo mưa", "Rain gauge"),
    "hazard_river_flood": ("Lũ sông", "River flood"),
    "hazard_heavy_rain": ("Mưa lớn", "Heavy rain"),
    "hazard_ward_flooding": ("Ngập úng", "Flooding in the ward"),
    "hazard_rapid_rise": ("Nước lên nhanh", "Fast rise"),
    "hazard_user_threshold": ("Ngưỡng cá nhân", "Personal threshold"),
    "rain_heavy": ("mưa to", "heavy rain"),
    "rain_very_heavy": ("mưa rất to", "very heavy rain"),
}


def text(key: str, lang: Lang, **values: Any) -> str:
    """One string, plain (not escaped), with ``values`` filled in."""
    return UI[key][LANGS.index(lang)].format(**values)


def both(per_lang: dict[Lang, Any] | Any, tag: str = "span") -> Markup:
    """Both languages as elements (``span``; ``tspan`` inside SVG) the page's CSS shows one of.
    Plain strings are escaped; Markup passes through."""
    if not isinstance(per_lang, dict):
        per_lang = dict.fromkeys(LANGS, per_lang)
    return Markup("").join(Markup('<{0} class="fw-{1}">{2}</{0}>').format(
        Markup(tag), lang, per_lang[lang]) for lang in LANGS)


def t(key: str, **values: Any) -> Markup:
    """A UI string in both languages; ``values`` are escaped (they may be per-language dicts)."""
    out: dict[Lang, Any] = {}
    for lang in LANGS:
        filled = {k: escape(v[lang] if isinstance(v, dict) else v) for k, v in values.items()}
        out[lang] = Markup(escape(UI[key][LANGS.index(lang)])).format(**filled)
    return both(out)


def number(value: float, digits: int, unit: str = "") -> dict[Lang, str]:
    """``3.01`` → {"vi": "3,01 m", "en": "3.01 m"}."""
    return {lang: fmt_number(value, digits, lang) + (f" {unit}" if unit else "") for lang in LANGS}


def level_name(level: int) -> dict[Lang, str]:
    """"Cấp 3 – rủi ro lớn" / "level 3 – high"; "Không có cảnh báo" below level 1."""
    colour = RISK_COLOURS.get(level)
    if colour is None:
        return {lang: text("no_warning", lang) for lang in LANGS}
    return {"vi": f"{texts.level_name('vi', level)} – {colour.risk_vi}",
            "en": f"{texts.level_name('en', level).capitalize()} – {colour.risk_en}"}


def local_time(moment: datetime, timezone: str) -> str:
    """"15:25 17/11/2025 (UTC+07:00)" in the region's time zone."""
    local = moment.astimezone(ZoneInfo(timezone))
    offset = local.strftime("%z")
    return f"{local:%H:%M %d/%m/%Y} (UTC{offset[:3]}:{offset[3:]})"


def age(moment: datetime, now: datetime) -> Markup:
    """How long ago, in both languages (the browser keeps it current)."""
    minutes = max(0, int((now - moment) / timedelta(minutes=1)))
    if minutes < 2:
        return t("just_now")
    if minutes < 120:
        return t("min_ago", n=minutes)
    if minutes < 48 * 60:
        return t("h_ago", n=minutes // 60)
    return t("d_ago", n=minutes // (24 * 60))


def client_strings() -> dict[str, dict[str, str]]:
    """The strings the browser's script needs, per language."""
    keys = ("just_now", "min_ago", "h_ago", "d_ago", "locating", "locate_unsupported",
            "locate_failed", "locate_outside", "locate_in", "switch_to")
    return {lang: {k: UI[k][i] for k in keys} for i, lang in enumerate(LANGS)}
