from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from coach.db import Base, UTCDateTime, utcnow

ACTIVE, AWAITING, PAUSED, COMPLETED, STOPPED = (
    "active", "awaiting", "paused", "completed", "stopped"
)


class Enrolment(Base):
    """One subscriber on one published programme version, and where they are in it.

    ``next_due_at`` is the only thing the sweep looks at: NULL means nothing is scheduled
    (completed, stopped, or paused until the person says RESUME).
    """

    __tablename__ = "enrolments"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("programme_versions.id"))
    quality: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(12), default=ACTIVE)
    step: Mapped[int] = mapped_column(default=0)
    repeat_step: Mapped[int | None]
    pace: Mapped[float] = mapped_column(Float, default=1.0)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    awaiting_step: Mapped[int | None]
    awaiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded: Mapped[bool] = mapped_column(default=False)
    unanswered_streak: Mapped[int] = mapped_column(default=0)
    last_repeat_week: Mapped[int | None]
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
