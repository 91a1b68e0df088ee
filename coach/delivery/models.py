from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from coach.db import Base, UTCDateTime, utcnow

QUEUED, SENDING, SENT, DELIVERED, UNDELIVERED, FAILED, UNKNOWN = (
    "queued", "sending", "sent", "delivered", "undelivered", "failed", "unknown"
)


class Delivery(Base):
    """The outbox: one row per planned message, written with the decision that planned it.

    ``dedupe_key`` (enrolment, step, occurrence, kind, channel) makes planning idempotent;
    ``status`` moves queued -> sending -> sent/failed/unknown, claimed atomically by a sender;
    ``attempted_at`` marks the moment a sender may have handed it to the provider.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        # Housekeeping looks only at rows still in flight: a small index, however big the log.
        Index("ix_deliveries_in_flight", "status", "created_at",
              postgresql_where=text("status IN ('queued', 'sending')"),
              sqlite_where=text("status IN ('queued', 'sending')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"), index=True)
    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("enrolments.id"))
    step_key: Mapped[str | None] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)  # SMS text, or the email's Markdown
    status: Mapped[str] = mapped_column(String(10), default=QUEUED)
    provider_id: Mapped[str | None] = mapped_column(String(80), index=True)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set just before the provider call, cleared by each claim: a row left ``sending`` without
    # it was never tried, so it can go back to the queue; with it, the outcome is unknown.
    attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    send_after: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a deferral or a retry
    # When housekeeping last handed it to a send task again (NULL: only when it was planned),
    # so a row still waiting behind a slow queue is not enqueued again every minute.
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
