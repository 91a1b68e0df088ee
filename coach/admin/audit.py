"""The audit log: every admin action, every failed sign-in, every view of a person's reply.

Call :func:`audit` in the same transaction as the change it records, so the log and the
change stand or fall together. ``detail`` is for coach's own words (a role, a count, a
reason); never a person's words, name or address, nor a password, code or token.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from coach.admin.models import AdminAccount, AuditEntry
from coach.db import utcnow

DETAIL_CHARS = 500
PAGE_SIZE = 50


def audit(session: Session, account: AdminAccount | None, action: str, object_type: str,
          object_id: str | int | None, detail: str = "", at: datetime | None = None
          ) -> AuditEntry:
    """Record one action. ``account`` is who did it (None: someone not signed in), ``action``
    a dotted name like ``account.disabled`` or ``reply.viewed``; ``at`` defaults to now."""
    entry = AuditEntry(at=at or utcnow(), account_id=account.id if account else None,
                       action=action, object_type=object_type,
                       object_id="" if object_id is None else str(object_id),
                       detail=detail[:DETAIL_CHARS])
    session.add(entry)
    session.flush()
    return entry


def newest(session: Session, page: int = 1, size: int = PAGE_SIZE
           ) -> tuple[list[tuple[AuditEntry, str | None]], bool]:
    """One page of (entry, who's email), newest first, and whether an older page exists."""
    rows = session.execute(
        select(AuditEntry, AdminAccount.email)
        .outerjoin(AdminAccount, AdminAccount.id == AuditEntry.account_id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .offset((max(page, 1) - 1) * size).limit(size + 1)).all()
    return [(entry, email) for entry, email in rows[:size]], len(rows) > size
