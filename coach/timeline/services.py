"""`coach status`: one person's story in time order — messages, replies, decisions and why.

The JSON form is a stable contract: ``subscriber``, ``enrolments`` and ``timeline`` whose
entries carry ``at`` (ISO-8601 UTC), ``kind`` (sent, queued, failed, reply, decision, consent,
flag), ``channel``, ``text`` and ``reason`` where one applies.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coach.delivery.models import SENT, Delivery
from coach.events.models import Event
from coach.inbound.models import Reply
from coach.programmes.models import Programme, ProgrammeVersion
from coach.scheduling.models import Enrolment
from coach.subscribers.links import hide_tokens
from coach.subscribers.models import Subscriber


def status(session: Session, subscriber: Subscriber) -> dict[str, Any]:
    timeline = _deliveries(session, subscriber) + _replies(session, subscriber) \
        + _events(session, subscriber)
    timeline.sort(key=lambda entry: (entry["at"], entry["order"]))
    for entry in timeline:
        del entry["order"]
    return {
        "subscriber": subscriber.summary(),
        "enrolments": _enrolments(session, subscriber),
        "timeline": timeline,
    }


def _enrolments(session: Session, subscriber: Subscriber) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Enrolment, ProgrammeVersion.number, Programme.slug)
        .join(ProgrammeVersion, ProgrammeVersion.id == Enrolment.version_id)
        .join(Programme)
        .where(Enrolment.subscriber_id == subscriber.id)
        .order_by(Enrolment.id)
    )
    return [
        {"id": e.id, "programme": slug, "version": number, "quality": e.quality,
         "state": e.state, "pace": round(e.pace, 4), "step": e.step,
         "next_due_at": _iso(e.next_due_at), "paused_until": _iso(e.paused_until),
         "answers": e.answers or {}}
        for e, number, slug in rows
    ]


def _deliveries(session: Session, subscriber: Subscriber) -> list[dict[str, Any]]:
    rows = session.scalars(select(Delivery).where(Delivery.subscriber_id == subscriber.id))
    return [
        {"at": _iso(d.sent_at or d.created_at), "order": 2, "kind": _delivery_kind(d.status),
         "channel": d.channel, "text": hide_tokens(d.body_text), "subject": d.subject,
         "message": d.kind, "status": d.status, "reason": d.error, "id": d.id}
        for d in rows
    ]


def _delivery_kind(status: str) -> str:
    return "sent" if status in (SENT, "delivered") else status


def _replies(session: Session, subscriber: Subscriber) -> list[dict[str, Any]]:
    rows = session.scalars(select(Reply).where(Reply.subscriber_id == subscriber.id))
    return [
        {"at": _iso(r.received_at), "order": 0, "kind": "reply", "channel": r.channel,
         "text": r.text, "intent": r.intent, "reason": None, "id": r.id}
        for r in rows
    ]


def _events(session: Session, subscriber: Subscriber) -> list[dict[str, Any]]:
    rows = session.scalars(select(Event).where(Event.subscriber_id == subscriber.id))
    return [
        {"at": _iso(e.at), "order": 1, "kind": e.kind, "channel": None, "text": e.action,
         "reason": e.reason, "id": e.id, **({"data": e.data} if e.data else {})}
        for e in rows
    ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z") if value else None
