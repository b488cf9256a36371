"""SMS text rules: GSM-7 / UCS-2 segment counting, ASCII fallback and fitting a text to a limit.

A text with any character outside the GSM 03.38 default alphabet (Vietnamese diacritics, "…",
"–") is sent as UCS-2: 70 UTF-16 units in one segment, 67 per segment when concatenated. GSM-7
allows 160 septets, 153 per concatenated segment; characters of the extension table (``^{}\\[~]|€``
and form feed) take two septets. A two-septet escape sequence or a surrogate pair is never split
across segments, so counting packs greedily like a gateway does.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from floodwatch.core.errors import InputError

SmsEncoding = Literal["gsm7", "ucs2"]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

# (units in a single segment, units per segment of a concatenated message)
_LIMITS: dict[SmsEncoding, tuple[int, int]] = {"gsm7": (160, 153), "ucs2": (70, 67)}

# Characters that NFKD does not reduce to ASCII, and punctuation outside GSM-7.
_ASCII_MAP = str.maketrans({
    "đ": "d", "Đ": "D", "…": "...", "–": "-", "—": "-", "‘": "'", "’": "'", "“": '"',
    "”": '"', "•": "-", "\u00a0": " ", "≥": ">=", "≤": "<=", "°": "o",
})


def sms_encoding(text: str) -> SmsEncoding:
    """"gsm7" when every character is in the GSM-7 default alphabet or its extension table."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        return "gsm7"
    return "ucs2"


def _units(text: str, encoding: SmsEncoding) -> list[int]:
    """The size of each character in the encoding's units (septets or UTF-16 code units)."""
    if encoding == "gsm7":
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def sms_length(text: str) -> tuple[SmsEncoding, int]:
    """The encoding and the length of ``text`` in its units (septets or UTF-16 code units)."""
    encoding = sms_encoding(text)
    return encoding, sum(_units(text, encoding))


def sms_segments(text: str) -> tuple[SmsEncoding, int]:
    """The encoding and the number of SMS segments ``text`` needs (an empty text needs one)."""
    encoding = sms_encoding(text)
    units = _units(text, encoding)
    single, per_part = _LIMITS[encoding]
    if sum(units) <= single:
        return encoding, 1
    segments, used = 1, 0
    for size in units:
        if used + size > per_part:
            segments, used = segments + 1, 0
        used += size
    return encoding, segments


def fits(text: str, max_segments: int) -> bool:
    return sms_segments(text)[1] <= max_segments


def to_gsm7(text: str) -> str:
    """An ASCII/GSM-7 fallback: strip diacritics ("Phú Ốc" → "Phu Oc", "đ" → "d"), map
    typographic punctuation to ASCII and replace anything still outside GSM-7 with "?"."""
    text = text.translate(_ASCII_MAP)
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = unicodedata.normalize("NFC", stripped)
    return "".join(ch if ch in GSM7_BASIC or ch in GSM7_EXTENSION else "?" for ch in stripped)


def fit_sms(body: str, url: str, *, max_segments: int = 2, ascii_only: bool = False) -> str:
    """``body`` and then ``url``, in at most ``max_segments`` segments.

    The body is cut (at a word boundary when one is near, with an ellipsis) so that the text
    always ends with the whole URL; whitespace runs in the body are collapsed. With
    ``ascii_only`` the body is reduced to GSM-7 first. Raises InputError when the URL alone does
    not fit.
    """
    if max_segments < 1:
        raise InputError(f"max_segments must be at least 1, not {max_segments}")
    url = url.strip()
    body = " ".join(body.split())
    if ascii_only:
        body, url = to_gsm7(body), to_gsm7(url)
    if not fits(url, max_segments):
        raise InputError(f"the read-more URL alone does not fit in {max_segments} SMS segments")
    text = f"{body} {url}" if body else url
    if fits(text, max_segments):
        return text
    cut = _longest_fitting_cut(body, url, max_segments)
    if cut is None:
        return url
    return cut


def _ellipsis_for(head: str) -> str:
    # "…" would turn a GSM-7 text into UCS-2; use three dots there.
    return "…" if sms_encoding(head) == "ucs2" else "..."


def _candidate(body: str, n: int, url: str) -> str:
    head = body[:n].rstrip(" ,.;:-–")
    return f"{head}{_ellipsis_for(head)} {url}"


def _longest_fitting_cut(body: str, url: str, max_segments: int) -> str | None:
    """The candidate with the longest body prefix that fits, cut preferably after a sentence,
    then after a clause, then between words, when one of those is near the limit."""
    best = next((n for n in range(len(body) - 1, 0, -1)
                 if fits(_candidate(body, n, url), max_segments)), None)
    if best is None:
        return None
    for separators, reach in (((". ", "! ", "? "), 20), (("; ", ", ", ": "), 20), ((" ",), 15)):
        cut = max(body.rfind(sep, 0, best + 1) for sep in separators)
        if cut > 0 and best - cut <= reach:
            return _candidate(body, cut + 1, url)
    return _candidate(body, best, url)
