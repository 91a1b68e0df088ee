"""Flags: raised when a reply carries risk, listed and resolved by a person.

An urgent flag also alerts the safety address (COACH_SAFETY_EMAIL) through the outbox: an
email that names the flag and the category, never the person's words; a person with the safety
role looks the reply up. With no safety address configured, nobody is promised anything: the
flag waits in ``coach flags list``.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coach.events.services import record
from coach.safety.helplines import country_of, helpline_for
from coach.safety.models import Flag
from coach.subscribers.models import Subscriber

CATEGORY_NAMES = {
    "suicide_self_harm": "suicide or self-harm",
    "partner_violence": "partner violence",
    "sexual_coercion": "sexual coercion",
    "stalking_fear": "stalking or fear",
    "other": "someone in danger",
}


def category_name(category: str | None) -> str:
    return CATEGORY_NAMES.get(category or "other", "someone in danger")


@dataclass(frozen=True)
class Raised:
    flag: Flag
    reason: str


def raise_flag(session: Session, subscriber: Subscriber, reply_id: int | None, risk: str,
               category: str | None, now: datetime) -> Raised:
    """A flag for a person to follow up, and the event that says so (naming the category)."""
    what = category_name(category)
    reason = (f"reply read as {risk} risk ({what}): automated nudges paused, flagged for a person"
              if risk == "urgent" else
              f"reply read as a concern ({what}): pace unchanged, no automatic answer, flagged "
              "for review")
    flag = Flag(subscriber_id=subscriber.id, reply_id=reply_id, risk=risk,
                category=category or "other", reason=reason, raised_at=now)
    session.add(flag)
    session.flush()
    subscriber.flagged_at, subscriber.flag_reason = now, reason[:200]
    record(session, subscriber.id, now, "flag", f"flag-{risk}", reason, flag_id=flag.id,
           reply_id=reply_id, category=category)
    return Raised(flag, reason)


def alert_variables(flag: Flag, public_url: str) -> dict[str, Any]:
    """What the safety email says: where to look, never what was written."""
    return {"flag_id": flag.id, "subscriber_id": flag.subscriber_id, "risk": flag.risk,
            "category": category_name(flag.category),
            "raised_at": f"{flag.raised_at:%Y-%m-%d %H:%M} UTC", "public_url": public_url}


def open_flags(session: Session) -> list[Flag]:
    return list(session.scalars(select(Flag).where(Flag.resolved_at.is_(None))
                                .order_by(Flag.raised_at, Flag.id)))


def resolve(session: Session, flag_id: int, note: str, now: datetime) -> Flag | None:
    flag = session.get(Flag, flag_id)
    if flag is None:
        return None
    flag.resolved_at, flag.resolved_note = now, note[:500]
    subscriber = session.get(Subscriber, flag.subscriber_id)
    if subscriber is not None and not _still_open(session, subscriber.id):
        subscriber.flagged_at, subscriber.flag_reason = None, None
    record(session, flag.subscriber_id, now, "flag", "flag-resolved",
           f"flag {flag.id} resolved by a person", flag_id=flag.id)
    return flag


def _still_open(session: Session, subscriber_id: int) -> bool:
    return session.scalars(select(Flag.id).where(Flag.subscriber_id == subscriber_id,
                                                 Flag.resolved_at.is_(None))).first() is not None


def crisis_variables(subscriber: Subscriber, category: str | None,
                     person_will_see: bool) -> dict[str, Any]:
    """What the urgent reply names: the person's country's emergency number and the line for
    what they wrote about (crisis, or abuse), in their language."""
    country = country_of(subscriber.country, subscriber.phone)
    helpline = helpline_for(country, subscriber.language)
    return {"name": subscriber.name, "emergency": helpline.emergency,
            "line": helpline.line_for(category), "person_will_see": person_will_see}
