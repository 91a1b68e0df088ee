from datetime import datetime, time
from typing import Any

from sqlalchemy import JSON, String, Time, false
from sqlalchemy.orm import Mapped, mapped_column

from coach.db import Base, UTCDateTime, utcnow
from coach.subscribers.clock import LocalClock

CHANNELS = ("sms", "email")


class Subscriber(Base):
    """A person, their addresses, their clock and their per-channel consent.

    Consent is kept per channel with when and how it last changed; the history of changes
    lives in the event log.
    """

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    timezone: Mapped[str] = mapped_column(String(64))
    send_time: Mapped[time] = mapped_column(Time)
    quiet_start: Mapped[time] = mapped_column(Time)
    quiet_end: Mapped[time] = mapped_column(Time)
    preferred_channel: Mapped[str] = mapped_column(String(8))
    # Discreet delivery: lock-screen previews and subjects that do not reveal the topic.
    discreet: Mapped[bool] = mapped_column(default=False, server_default=false())
    # How replies are read and system messages written: en or es.
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    # ISO 3166 code the person chose, for the helplines an urgent reply names; when unset,
    # the country of their phone number is used.
    country: Mapped[str | None] = mapped_column(String(2))
    sms_consent: Mapped[bool] = mapped_column(default=False)
    sms_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sms_consent_source: Mapped[str | None] = mapped_column(String(80))
    email_consent: Mapped[bool] = mapped_column(default=False)
    email_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_consent_source: Mapped[str | None] = mapped_column(String(80))
    # UTC ISO times of the last few scheduled sends, for the per-day and per-week caps.
    recent_sends: Mapped[list[str]] = mapped_column(JSON, default=list)
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    flag_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def clock(self) -> LocalClock:
        return LocalClock(self.timezone, self.send_time, self.quiet_start, self.quiet_end)

    def address(self, channel: str) -> str | None:
        return self.phone if channel == "sms" else self.email

    def consented(self, channel: str) -> bool:
        return bool(getattr(self, f"{channel}_consent")) and self.address(channel) is not None

    def set_consent(self, channel: str, granted: bool, at: datetime, source: str) -> None:
        setattr(self, f"{channel}_consent", granted)
        setattr(self, f"{channel}_consent_at", at)
        setattr(self, f"{channel}_consent_source", source)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "phone": self.phone,
            "name": self.name,
            "timezone": self.timezone,
            "send_time": self.send_time.strftime("%H:%M"),
            "quiet_hours": f"{self.quiet_start:%H:%M}-{self.quiet_end:%H:%M}",
            "consent": {
                channel: {
                    "granted": getattr(self, f"{channel}_consent"),
                    "at": _iso(getattr(self, f"{channel}_consent_at")),
                    "source": getattr(self, f"{channel}_consent_source"),
                }
                for channel in CHANNELS
            },
            "language": self.language,
            "country": self.country,
            "flagged": self.flag_reason,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
