"""The hydro component's tables: feed health (one row per configured feed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from floodwatch.core.db import UTCDateTime
from floodwatch.gis_data.models import Base


class FeedStatus(Base):
    """Health of one feed: what was tried, what worked, how fresh its data is, what failed."""

    __tablename__ = "feed_status"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    newest_reading_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    readings_added: Mapped[int] = mapped_column(sa.Integer, default=0)  # by the last success
    readings_total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    consecutive_failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    # HTTP validators (ETag / Last-Modified) per URL, and resumable backfill cursors
    state: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
