from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from coach.db import Base, UTCDateTime


class Flag(Base):
    """A reply that needs a person: raised by the reply's risk, open until someone resolves it.

    It names the reply; it never copies the words (only the safety role reads them, at the
    reply). ``reason`` and ``note`` are coach's and the admin's words, not the person's.
    """

    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"), index=True)
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("replies.id"))
    risk: Mapped[str] = mapped_column(String(8))  # concern | urgent
    category: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(String(300))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_note: Mapped[str | None] = mapped_column(String(500))
