"""Pacing deciding on an event outside the sweep (a reply, an unsubscribe): the enrolment's
new progress and the decision, with its reason, are stored."""

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from coach.events.services import record
from coach.programmes.models import ProgrammeVersion
from coach.scheduling import plan
from coach.scheduling.models import Enrolment
from coach.scheduling.pacing import Decision, Event, decide
from coach.subscribers.models import Subscriber


def apply_event(
    session: Session, subscriber: Subscriber, enrolment: Enrolment | None, event: Event,
    now: datetime, **data: Any,
) -> Decision | None:
    if enrolment is None:
        return None
    version = session.get(ProgrammeVersion, enrolment.version_id)
    assert version is not None
    prog = plan.programme(version.id, version.definition)
    decision = decide(plan.progress_of(enrolment), event, plan.context(subscriber, prog))
    for name, value in plan.progress_columns(decision.progress).items():
        setattr(enrolment, name, value)
    record(session, subscriber.id, now, "decision", decision.action, decision.reason,
           enrolment.id, **data, **plan.describe(decision))
    return decision
