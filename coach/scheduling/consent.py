"""Opting out of a channel. A STOP reply, the one-click link, the unsubscribe mailto and a hard
bounce all end here, so each reads the same in the timeline and halts the same way."""

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from coach.events.services import record
from coach.scheduling import plan
from coach.scheduling.apply import apply_event
from coach.scheduling.enrol import current_enrolment
from coach.scheduling.pacing import Decision, Halt
from coach.subscribers.models import PendingSignup, Subscriber


def opt_out(
    session: Session, subscriber: Subscriber, channel: str, now: datetime, source: str,
    reason: str, **data: Any,
) -> Decision | None:
    """Consent off for one channel, recorded with its reason; when no channel is left, the
    enrolment halts at once rather than at the next sweep."""
    subscriber.set_consent(channel, False, now, source)
    # A sign-up waiting on this channel ends too: a YES or a link after STOP subscribes nobody.
    session.execute(delete(PendingSignup).where(
        PendingSignup.subscriber_id == subscriber.id, PendingSignup.channel == channel,
        PendingSignup.confirmed_at.is_(None)))
    record(session, subscriber.id, now, "consent", f"{channel}-opt-out", reason, **data)
    if plan.channel_for(subscriber) is not None:
        return None
    halt = Halt(now, "opted out of every channel; nothing more will be sent", opted_out=True)
    return apply_event(session, subscriber, current_enrolment(session, subscriber.id), halt,
                       now, **data)
