"""Time helpers. floodwatch keeps every instant as a timezone-aware UTC datetime."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A naive datetime is taken as UTC (that is how the store writes them); an aware one is
    converted."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


#: Years a time from outside may name (beyond them it is a typo, and datetime's limits overflow).
YEARS = (1900, 2200)


def parse_instant(text: str, what: str) -> datetime:
    """An ISO 8601 date or time from the command line or a URL: UTC unless it has an offset."""
    from floodwatch.core.errors import InputError

    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{what}: {text!r} is not an ISO 8601 date or time "
                         "(e.g. 2025-11-17T08:00Z or 2025-11-17T15:00+07:00)") from None
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise InputError(f"{what}: {text!r} is outside the years {YEARS[0]}–{YEARS[1]}")
    return as_utc(moment)
