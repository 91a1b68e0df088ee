from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from coach.events.models import Event


def record(
    session: Session, subscriber_id: int, at: datetime, kind: str, action: str, reason: str,
    enrolment_id: int | None = None, **data: Any,
) -> None:
    session.add(Event(subscriber_id=subscriber_id, enrolment_id=enrolment_id, at=at, kind=kind,
                      action=action, reason=reason, data=data))


def event_row(
    subscriber_id: int, enrolment_id: int | None, at: datetime, action: str, reason: str,
    **data: Any,
) -> dict[str, Any]:
    """A decision event as a plain row, for bulk inserts from the sweep."""
    return {"subscriber_id": subscriber_id, "enrolment_id": enrolment_id, "at": at,
            "kind": "decision", "action": action, "reason": reason, "data": data}
