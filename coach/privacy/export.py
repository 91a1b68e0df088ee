"""See my data: everything coach keeps about one person, as one JSON-ready object.

The keys are a stable contract (the subscriber's page shows it and offers it as a download,
and ``coach subscribers export`` prints it). Times are ISO-8601 UTC strings
(``2026-03-02T18:30:00Z``) or null; lists are in the order things happened.

- ``format``: ``"coach-export/1"``.
- ``profile``: ``id``, ``email``, ``phone``, ``name``, ``timezone``, ``send_time`` and
  ``quiet_start``/``quiet_end`` (local ``HH:MM``), ``language``, ``country``, ``discreet``,
  ``preferred_channel``, ``next_focus``, ``created_at``, ``erased_at``.
- ``consents``: ``sms`` and ``email``, each ``granted``, ``at``, ``source``; ``history``, every
  consent change (``at``, ``action`` such as ``sms-opt-out``, ``reason``).
- ``enrolments``: ``id``, ``programme``, ``version``, ``quality``, ``state``, ``step``,
  ``pace``, ``answers`` (the answers saved from their replies), ``started_at``, ``updated_at``,
  ``last_sent_at``, ``next_due_at``, ``paused_until``.
- ``messages``: every message coach wrote to them: ``id``, ``kind``, ``channel``, ``address``,
  ``subject``, ``body``, ``status``, ``reason`` (why it failed or waits), ``created_at``,
  ``sent_at``. Alerts about them to the safety address are not messages to them; the flag
  that raised one is under ``flags``.
- ``replies``: every message received from them: ``id``, ``channel``, ``text``, ``intent``,
  ``received_at``.
- ``decisions``: every other event about them, with its reason: pacing decisions, flags raised
  and resolved, errors planning a message: ``at``, ``kind``, ``action``, ``reason``,
  ``enrolment_id``, ``data``.
- ``flags``: replies that were passed to a person: ``id``, ``reply_id``, ``risk``,
  ``category``, ``reason``, ``raised_at``, ``resolved_at``, ``resolved_note``.
- ``pending_signups``: sign-ups waiting for confirmation: ``channel``, ``address``,
  ``choices``, ``wording``, ``client_ip`` (only when recording it is on), ``created_at``,
  ``expires_at``, ``confirmed_at``.
- ``sms_signups``: a sign-up by text in progress: ``state``, ``quality``, ``started_at``,
  ``updated_at``.
"""

from collections.abc import Iterable
from datetime import datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coach.delivery.models import Delivery
from coach.delivery.services import ALERT
from coach.events.models import Event
from coach.inbound.models import Reply
from coach.inbound.signup_models import SmsSignup
from coach.programmes.models import Programme, ProgrammeVersion
from coach.safety.models import Flag
from coach.scheduling.models import Enrolment
from coach.subscribers.models import CHANNELS, PendingSignup, Subscriber

FORMAT = "coach-export/1"
CONSENT = "consent"
PROFILE = ("id", "email", "phone", "name", "timezone", "send_time", "quiet_start", "quiet_end",
           "language", "country", "discreet", "preferred_channel", "next_focus", "created_at",
           "erased_at")
# Export key -> attribute, for each kind of row.
ENROLMENT = {key: key for key in ("id", "quality", "state", "step", "pace", "answers",
                                  "started_at", "updated_at", "last_sent_at", "next_due_at",
                                  "paused_until")}
MESSAGE = {"id": "id", "kind": "kind", "channel": "channel", "address": "address",
           "subject": "subject", "body": "body_text", "status": "status", "reason": "error",
           "created_at": "created_at", "sent_at": "sent_at"}
REPLY = {key: key for key in ("id", "channel", "text", "intent", "received_at")}
DECISION = {key: key for key in ("at", "kind", "action", "reason", "enrolment_id", "data")}
CONSENT_CHANGE = {key: key for key in ("at", "action", "reason")}
FLAG = {key: key for key in ("id", "reply_id", "risk", "category", "reason", "raised_at",
                             "resolved_at", "resolved_note")}
PENDING = {key: key for key in ("channel", "address", "choices", "wording", "client_ip",
                                "created_at", "expires_at", "confirmed_at")}
SMS_SIGNUP = {key: key for key in ("state", "quality", "started_at", "updated_at")}


def export_subscriber(session: Session, subscriber: Subscriber) -> dict[str, Any]:
    """Everything coach keeps about one person; the keys are in the module docstring."""
    events = list(session.scalars(select(Event).where(Event.subscriber_id == subscriber.id)
                                  .order_by(Event.at, Event.id)))
    return {
        "format": FORMAT,
        "profile": _plain(subscriber, {key: key for key in PROFILE}),
        "consents": _consents(subscriber, [e for e in events if e.kind == CONSENT]),
        "enrolments": _enrolments(session, subscriber),
        "messages": _rows(session.scalars(
            select(Delivery).where(Delivery.subscriber_id == subscriber.id,
                                   Delivery.kind != ALERT).order_by(Delivery.id)), MESSAGE),
        "replies": _rows(session.scalars(
            select(Reply).where(Reply.subscriber_id == subscriber.id)
            .order_by(Reply.received_at, Reply.id)), REPLY),
        "decisions": _rows((e for e in events if e.kind != CONSENT), DECISION),
        "flags": _rows(session.scalars(
            select(Flag).where(Flag.subscriber_id == subscriber.id).order_by(Flag.id)), FLAG),
        "pending_signups": _rows(session.scalars(
            select(PendingSignup).where(PendingSignup.subscriber_id == subscriber.id)
            .order_by(PendingSignup.id)), PENDING),
        "sms_signups": _rows(session.scalars(
            select(SmsSignup).where(SmsSignup.phone == subscriber.phone)), SMS_SIGNUP)
        if subscriber.phone else [],
    }


def _consents(subscriber: Subscriber, changes: list[Event]) -> dict[str, Any]:
    now = {channel: _plain(subscriber, {"granted": f"{channel}_consent",
                                        "at": f"{channel}_consent_at",
                                        "source": f"{channel}_consent_source"})
           for channel in CHANNELS}
    return {**now, "history": _rows(changes, CONSENT_CHANGE)}


def _enrolments(session: Session, subscriber: Subscriber) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Enrolment, Programme.slug, ProgrammeVersion.number)
        .join(ProgrammeVersion, ProgrammeVersion.id == Enrolment.version_id).join(Programme)
        .where(Enrolment.subscriber_id == subscriber.id).order_by(Enrolment.id)
    )
    return [{"programme": slug, "version": number, **_plain(enrolment, ENROLMENT)}
            for enrolment, slug, number in rows]


def _rows(rows: Iterable[object], columns: dict[str, str]) -> list[dict[str, Any]]:
    return [_plain(row, columns) for row in rows]


def _plain(row: object, columns: dict[str, str]) -> dict[str, Any]:
    return {key: _value(getattr(row, attribute)) for key, attribute in columns.items()}


def _value(value: Any) -> Any:
    """JSON's own types: times as ISO-8601 UTC (a wall-clock time as HH:MM)."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, float):
        return round(value, 4)
    return value
