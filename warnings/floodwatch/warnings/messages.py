"""Alert message texts for one ward and one alert transition, in Vietnamese or English.

``render_message`` turns a ``MessageContext`` into a ``Message``: a subject, a full plain text
(e-mail), an HTML version (autoescaped) and an SMS that fits a segment limit and always ends
with the read-more URL. Numbers are formatted here; sentences live in the Jinja2 templates of
``templates/<language>/``. Pure: no clock, no files other than the templates, no settings.

A context with a ``threshold`` is a user's own threshold on a gauge, not an official warning:
its messages (``threshold_*`` templates) speak of the gauge, its level and trend and the user's
threshold, with no risk level and no instruction, and say that it is not an official warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from floodwatch.core.errors import InputError
from floodwatch.warnings import texts
from floodwatch.warnings.sms_text import fit_sms
from floodwatch.warnings.texts import Language

Kind = Literal["alert", "update", "cancel"]
Trend = Literal["rising", "falling", "steady"]

LOCAL_TZ = "Asia/Ho_Chi_Minh"
TEMPLATES_DIR = Path(__file__).parent / "templates"
_VI_DIGITS = str.maketrans(",.", ".,")


@dataclass(frozen=True)
class GaugeReading:
    """One gauge as the message shows it. ``alarm_levels_m`` are BĐ I, II, III (None: none set);
    ``alarm_reached`` is the highest BĐ level reached, 0 below BĐ I."""

    station_name: str
    level_m: float
    alarm_levels_m: tuple[float | None, float | None, float | None]
    alarm_reached: int
    trend: Trend = "steady"
    rate_m_per_h: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.alarm_reached <= 3:
            raise InputError(f"alarm_reached must be 0-3, not {self.alarm_reached}")
        if self.trend not in texts.TREND["en"]:
            raise InputError(f"trend must be rising, falling or steady, not {self.trend!r}")
        if len(self.alarm_levels_m) != 3:
            raise InputError("alarm_levels_m must hold BĐ I, II and III (None where unset)")


@dataclass(frozen=True)
class ModelledFlooding:
    """The flood model's result for the ward: flooded share of its area (0-1), deepest water,
    and people affected when known."""

    flooded_share: float
    max_depth_m: float
    people_affected: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.flooded_share <= 1.0:
            raise InputError(f"flooded_share must be between 0 and 1, not {self.flooded_share}")


@dataclass(frozen=True)
class ThresholdNotice:
    """A user's own threshold as its message shows it. ``level_m`` is the gauge now (None
    without a recent reading), observed at ``observed_at``; for an end (``kind`` cancel)
    ``ended`` says why: the gauge is ``back`` on the other side (since ``since``), or it has
    no recent readings (``stale``)."""

    station_name: str
    threshold_m: float
    direction: Literal["above", "below"] = "above"
    level_m: float | None = None
    observed_at: datetime | None = None
    trend: Trend = "steady"
    rate_m_per_h: float | None = None
    label: str | None = None
    ended: Literal["back", "stale"] = "back"
    since: datetime | None = None

    def __post_init__(self) -> None:
        if self.direction not in ("above", "below"):
            raise InputError(f"direction must be above or below, not {self.direction!r}")
        if self.trend not in texts.TREND["en"]:
            raise InputError(f"trend must be rising, falling or steady, not {self.trend!r}")
        for name in ("observed_at", "since"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise InputError(f"{name} must be a timezone-aware datetime")


@dataclass(frozen=True)
class MessageContext:
    """Everything a message says. ``reasons`` are short texts already in ``language``."""

    language: Language
    kind: Kind
    level: int
    ward_name: str
    ward_code: str
    as_of: datetime
    more_url: str
    previous_level: int | None = None
    gauges: tuple[GaugeReading, ...] = ()
    flooding: ModelledFlooding | None = None
    rainfall_24h_mm: float | None = None
    reasons: tuple[str, ...] = ()
    hotline: str | None = "1900 1075"
    threshold: ThresholdNotice | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "gauges", tuple(self.gauges))
        object.__setattr__(self, "reasons", tuple(self.reasons))
        if self.language not in texts.LANGUAGES:
            raise InputError(f"language must be vi or en, not {self.language!r}")
        if self.kind not in ("alert", "update", "cancel"):
            raise InputError(f"kind must be alert, update or cancel, not {self.kind!r}")
        for name in ("level", "previous_level"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 5:
                raise InputError(f"{name} must be 0-5, not {value}")
        if self.kind == "alert" and self.level < 1:
            raise InputError("an alert needs a risk level of 1 to 5")
        if self.as_of.tzinfo is None or self.as_of.utcoffset() is None:
            raise InputError("as_of must be a timezone-aware datetime")
        if not self.more_url.startswith(("https://", "http://")):
            raise InputError(f"more_url must be an http(s) URL, not {self.more_url!r}")


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    sms: str
    html: str
    language: Language = "vi"
    more_url: str = field(default="")


def render_message(
    ctx: MessageContext, *, sms_max_segments: int = 2, sms_ascii_only: bool = False
) -> Message:
    """The message for ``ctx``; the SMS fits ``sms_max_segments`` (GSM-7 only if
    ``sms_ascii_only``) and ends with ``ctx.more_url``."""
    view = _view(ctx)
    env = _environment()
    prefix = f"{ctx.language}/{'threshold_' if ctx.threshold is not None else ''}"
    lang = ctx.language
    subject = " ".join(env.get_template(f"{prefix}subject.txt").render(view).split())
    view["subject"] = subject
    text = re.sub(r"\n{3,}", "\n\n", env.get_template(f"{prefix}body.txt").render(view)).strip()
    text += "\n"
    html = env.get_template(f"{prefix}body.html").render(view)
    sms_body = env.get_template(f"{prefix}sms.txt").render(view)
    sms = fit_sms(sms_body, ctx.more_url, max_segments=sms_max_segments,
                  ascii_only=sms_ascii_only)
    return Message(subject=subject, text=text, sms=sms, html=html, language=lang,
                   more_url=ctx.more_url)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), disabled_extensions=("txt",),
                                     default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def fmt_number(value: float, digits: int, language: Language) -> str:
    """``1234.5`` → "1.234,5" in Vietnamese, "1,234.5" in English."""
    text = f"{value:,.{digits}f}"
    if language == "vi":
        text = text.translate(_VI_DIGITS)
    return text


def local_time(as_of: datetime) -> str:
    """"17/11/2025 08:00" in Huế's time zone."""
    return as_of.astimezone(ZoneInfo(LOCAL_TZ)).strftime("%d/%m/%Y %H:%M")


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _gauge_view(g: GaugeReading, lang: Language) -> dict[str, Any]:
    ref_index = max(g.alarm_reached, 1)
    ref_m = g.alarm_levels_m[ref_index - 1]
    return {
        "name": _one_line(g.station_name),
        "level": fmt_number(g.level_m, 2, lang) + " m",
        "reached": g.alarm_reached,
        "roman": texts.ROMAN[ref_index],
        "alarm": None if ref_m is None else fmt_number(ref_m, 2, lang) + " m",
        "delta": None if ref_m is None else fmt_number(abs(g.level_m - ref_m), 2, lang) + " m",
        "trend": texts.TREND[lang][g.trend],
        "rate": (None if g.rate_m_per_h is None or g.trend == "steady"
                 else fmt_number(abs(g.rate_m_per_h), 2, lang)),
    }


def _view(ctx: MessageContext) -> dict[str, Any]:
    lang = ctx.language
    gauges = [_gauge_view(g, lang) for g in ctx.gauges]
    worst = max(range(len(gauges)), key=lambda i: ctx.gauges[i].alarm_reached, default=None)
    flooding = None
    if ctx.flooding is not None:
        f = ctx.flooding
        flooding = {
            "share": fmt_number(100 * f.flooded_share, 0, lang) + "%",
            "max_depth": fmt_number(f.max_depth_m, 1, lang) + " m",
            "people": None if f.people_affected is None else fmt_number(f.people_affected, 0,
                                                                         lang),
        }
    previous = ctx.previous_level
    change = None
    if previous is not None and ctx.kind == "update":
        change = "up" if ctx.level > previous else "down" if ctx.level < previous else "same"
    instruction_level = 0 if ctx.kind == "cancel" else ctx.level
    return {
        "kind": ctx.kind,
        "level": ctx.level,
        "level_name": texts.level_name(lang, ctx.level),
        "colour": texts.level_colour(lang, ctx.level),
        "colour_hex": texts.level_colour_hex(ctx.level),
        "previous_level": previous,
        "previous_name": None if previous is None else texts.level_name(lang, previous),
        "change": change,
        "ward": _one_line(ctx.ward_name),
        "ward_code": _one_line(ctx.ward_code),
        "as_of": local_time(ctx.as_of),
        "as_of_short": ctx.as_of.astimezone(ZoneInfo(LOCAL_TZ)).strftime("%H:%M %d/%m"),
        "gauges": gauges,
        "worst_gauge": None if worst is None else gauges[worst],
        "flooding": flooding,
        "rain": (None if ctx.rainfall_24h_mm is None
                 else fmt_number(ctx.rainfall_24h_mm, 0, lang) + " mm"),
        "reasons": [_one_line(r) for r in ctx.reasons if r.strip()],
        "instruction": texts.INSTRUCTION[lang][instruction_level],
        "instruction_short": texts.INSTRUCTION_SHORT[lang][instruction_level],
        "more_url": ctx.more_url,
        "hotline": ctx.hotline,
        "threshold": None if ctx.threshold is None else _threshold_view(ctx.threshold, lang),
    }


def _threshold_view(t: ThresholdNotice, lang: Language) -> dict[str, Any]:
    def metres(value: float) -> str:
        return fmt_number(value, 2, lang) + " m"

    return {
        "station": _one_line(t.station_name),
        "threshold": metres(t.threshold_m),
        "above": t.direction == "above",
        "level": None if t.level_m is None else metres(t.level_m),
        "observed": None if t.observed_at is None else local_time(t.observed_at),
        "trend": texts.TREND[lang][t.trend],
        "rate": (None if t.rate_m_per_h is None or t.trend == "steady"
                 else fmt_number(abs(t.rate_m_per_h), 2, lang)),
        "label": None if not t.label else _one_line(t.label),
        "stale": t.ended == "stale",
        "since": None if t.since is None else local_time(t.since),
    }
