from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from coach.db import Base, UTCDateTime, utcnow


class Reply(Base):
    """An inbound message. ``provider_id`` is unique so a webhook retried is recorded once."""

    __tablename__ = "replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"), index=True)
    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("enrolments.id"))
    channel: Mapped[str] = mapped_column(String(8))
    provider_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
