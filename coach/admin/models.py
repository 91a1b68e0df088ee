"""Admin accounts, their server-side sessions, the audit log and the admin-wide switches."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from coach.db import Base, UTCDateTime, utcnow


class AdminAccount(Base):
    """One person who signs in to the admin pages. Accounts are disabled, never deleted, so
    the audit log always names who did what."""

    __tablename__ = "admin_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200))  # argon2id; None until set
    # When the one set-password link that still works was made (to the second); None: none.
    password_link_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None]  # the last code's time step: a code works once
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


class AdminSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is kept here,
    so a copy of the database signs nobody in. ``verified`` is False between the password
    and the second factor, when the session opens nothing but the code page."""

    __tablename__ = "admin_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token, hex
    account_id: Mapped[int] = mapped_column(ForeignKey("admin_accounts.id"), index=True)
    verified: Mapped[bool] = mapped_column(default=True)
    totp_candidate: Mapped[str | None] = mapped_column(String(64))  # a secret being set up
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # absolute, whatever happens
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)  # for the idle limit
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Who did what, when, to which object. ``detail`` is coach's own words (a role name, a
    count), never a person's: no reply text, names, addresses or passwords."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("admin_accounts.id"), index=True)
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(80), default="")
    detail: Mapped[str] = mapped_column(String(500), default="")


class AdminSwitch(Base):
    """A setting an admin changes while coach runs (``coach admin require-totp on``)."""

    __tablename__ = "admin_switches"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
