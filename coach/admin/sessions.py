"""Server-side sessions: the browser holds a random token, the database its hash and limits.

A session ends when it is idle too long, at an absolute limit after sign-in whatever happens,
when its person signs out, sets a new password or is disabled. Signing in always starts a new
session (the old one, if any, is revoked), so a token planted before sign-in is worth nothing.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.orm import Session

from coach.admin.models import AdminAccount, AdminSession
from coach.db import session_factory
from coach.settings import Settings

PENDING_FOR = timedelta(minutes=5)  # between the password and the second factor
TOKEN_CHARS = 43  # secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Lifetimes:
    idle: timedelta
    absolute: timedelta

    @classmethod
    def of(cls, settings: Settings) -> "Lifetimes":
        return cls(timedelta(minutes=settings.admin_session_idle_minutes),
                   timedelta(hours=settings.admin_session_hours))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, account: AdminAccount, now: datetime, lifetimes: Lifetimes,
          verified: bool = True) -> str:
    """A new session for the account; returns the token for the cookie (kept nowhere else)."""
    token = secrets.token_urlsafe(32)
    session.add(AdminSession(
        id=token_hash(token), account_id=account.id, verified=verified, created_at=now,
        expires_at=now + (lifetimes.absolute if verified else PENDING_FOR), last_seen_at=now))
    session.flush()
    return token


def find(session: Session, token: str | None, now: datetime, lifetimes: Lifetimes,
         verified: bool = True) -> AdminSession | None:
    """The live session the token names, marked as seen now; None when there is none."""
    if not token or len(token) != TOKEN_CHARS or not token.isascii():
        return None
    row = session.get(AdminSession, token_hash(token))
    if row is None or row.verified is not verified or not _live(row, now, lifetimes):
        return None
    account = session.get(AdminAccount, row.account_id)
    if account is None or account.disabled:
        return None
    row.last_seen_at = now
    return row


def _live(row: AdminSession, now: datetime, lifetimes: Lifetimes) -> bool:
    return (row.revoked_at is None and now < row.expires_at
            and now - row.last_seen_at <= lifetimes.idle)


def end(session: Session, token: str | None, now: datetime) -> AdminSession | None:
    """Revoke the token's session, if it names one; returns it."""
    if not token or len(token) != TOKEN_CHARS:
        return None
    row = session.get(AdminSession, token_hash(token))
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
    return row


def end_all(session: Session, account_id: int, now: datetime) -> None:
    """Sign the account out everywhere (a new password, a disabled account, a new role)."""
    session.execute(update(AdminSession)
                    .where(AdminSession.account_id == account_id,
                           AdminSession.revoked_at.is_(None))
                    .values(revoked_at=now))


def forget_ended(settings: Settings, now: datetime) -> int:
    """Delete the sessions that can sign nobody in any more: revoked, past their absolute
    limit, or idle past the idle limit; returns how many. Beat's sweep runs this: the audit
    log, not this table, records who signed in when."""
    idle_since = now - Lifetimes.of(settings).idle
    with session_factory(settings.effective_database_url).begin() as session:
        ended = session.execute(delete(AdminSession).where(or_(
            AdminSession.revoked_at.is_not(None), AdminSession.expires_at <= now,
            AdminSession.last_seen_at < idle_since)))
        return ended.rowcount  # type: ignore[attr-defined,no-any-return]
