from datetime import datetime, time
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Time, false, text
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
    # A quality chosen on the manage page to start when the current programme ends.
    next_focus: Mapped[str | None] = mapped_column(String(40))
    # Set when the person's data was erased: the row stays, anonymised, for the foreign keys.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
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


class PendingSignup(Base):
    """A sign-up from the web page, waiting for the person to confirm one address.

    Nothing is scheduled until they do (double opt-in). ``choices`` holds what the form gave
    (focus, clock, language, discreet, name); ``wording`` names the consent text they saw.
    The link works once (``confirmed_at``) and only until ``expires_at``.
    """

    __tablename__ = "pending_signups"
    __table_args__ = (
        Index("ix_pending_signups_address_created", "address", "created_at"),
        # Housekeeping looks every minute for the unconfirmed ones that expired: a small index
        # over the few still waiting, however many confirmed rows the table keeps.
        Index("ix_pending_signups_waiting", "expires_at",
              postgresql_where=text("confirmed_at IS NULL"),
              sqlite_where=text("confirmed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(320))
    choices: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    wording: Mapped[str] = mapped_column(String(40))
    client_ip: Mapped[str | None] = mapped_column(String(45))  # only with COACH_RECORD_OPTIN_IP
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Suppression(Base):
    """An erased address, kept only as a keyed hash: a later sign-up needs fresh consent, and a
    STOP given before the erasure is never lost by accident."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    address_hash: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(8))
    opted_out: Mapped[bool] = mapped_column(default=False)  # had they said STOP on it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
