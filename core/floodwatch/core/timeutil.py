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
