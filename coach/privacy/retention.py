"""Keeping no more than needed: sign-ups nobody confirmed in time are forgotten.

A stranger's address typed into the sign-up form stays only while its confirmation link can
still work (48 hours): then the pending sign-up, and the contact made for it with its
confirmation message, are deleted, when that contact has nothing else (no consent ever given,
no programme, no reply, no event). Beat's sweep runs this with its housekeeping.
"""

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from coach.db import session_factory
from coach.delivery.models import Delivery
from coach.events.models import Event
from coach.inbound.models import Reply
from coach.inbound.signup_models import SmsSignup
from coach.scheduling.models import Enrolment
from coach.settings import Settings
from coach.subscribers.models import PendingSignup, Subscriber


def forget_expired_sign_ups(settings: Settings, now: datetime) -> int:
    with session_factory(settings.effective_database_url).begin() as session:
        return forget_expired(session, now)


def forget_expired(session: Session, now: datetime) -> int:
    """Forget expired sign-ups; returns how many contacts went with them."""
    expired = list(session.scalars(select(PendingSignup).where(
        PendingSignup.confirmed_at.is_(None), PendingSignup.expires_at < now)))
    contacts = {pending.subscriber_id for pending in expired}
    for pending in expired:
        session.delete(pending)
    session.flush()
    gone = [contact_id for contact_id in contacts if _only_a_contact(session, contact_id)]
    if gone:
        session.execute(delete(Delivery).where(Delivery.subscriber_id.in_(gone)))
        session.execute(delete(Subscriber).where(Subscriber.id.in_(gone)))
    return len(gone)


def _only_a_contact(session: Session, subscriber_id: int) -> bool:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.email_consent_at or subscriber.sms_consent_at:
        return False
    others = [select(Enrolment.id).where(Enrolment.subscriber_id == subscriber_id),
              select(Reply.id).where(Reply.subscriber_id == subscriber_id),
              select(Event.id).where(Event.subscriber_id == subscriber_id),
              select(PendingSignup.id).where(PendingSignup.subscriber_id == subscriber_id)]
    if subscriber.phone:
        others.append(select(SmsSignup.id).where(SmsSignup.phone == subscriber.phone))
    return not any(session.scalar(query.limit(1)) for query in others)
