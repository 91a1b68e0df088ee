"""Reconciling unknown rows from a channel's own record of what it was handed.

A row is ``unknown`` when its sender stopped after the provider call may have started. Twilio's
status callbacks reconcile an SMS (coach.delivery.status); an SMTP server keeps no record we
can ask. The file channel's outbox file is such a record, and since a local batch records its
attempts before its first call (coach.delivery.attempts), a sender killed mid-batch leaves
the whole batch unknown: the file says which rows went (sent) and which never reached it
(queued again, the attempt not counted). Housekeeping runs this after marking stale rows
unknown, so their senders have been gone for ``STALE_SENDING`` and nothing more will be written.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from coach.delivery.models import QUEUED, SENT, UNKNOWN, Delivery
from coach.delivery.services import DELIVERIES
from coach.settings import Settings
from coach.subscribers.models import CHANNELS


@dataclass
class Reconciled:
    sent: int = 0
    requeued: int = 0


def reconcile_file_channel(session: Session, settings: Settings, now: datetime) -> Reconciled:
    """Unknown rows of the channels sent to the outbox file, settled from that file."""
    channels = [name for name in CHANNELS if settings.backend(name) == "file"]
    if not channels:
        return Reconciled()
    unknown = set(session.scalars(select(Delivery.id).where(
        Delivery.status == UNKNOWN, Delivery.provider_id.is_(None),
        Delivery.channel.in_(channels))))
    if not unknown:
        return Reconciled()
    seen = _provider_ids(settings.effective_outbox_file, unknown)
    if seen:
        session.execute(_SENT, [{"row": row, "pid": provider_id}
                                for row, provider_id in seen.items()])
    never = sorted(unknown - seen.keys())
    if never:
        session.execute(
            update(Delivery).where(Delivery.id.in_(never), Delivery.status == UNKNOWN)
            .values(status=QUEUED, attempted_at=None, send_after=now,
                    attempts=Delivery.attempts - 1,
                    error="reconciled: it never reached the channel; queued again"))
    return Reconciled(len(seen), len(never))


_SENT = (
    update(DELIVERIES)
    .where(Delivery.id == bindparam("row"), Delivery.status == UNKNOWN)
    .values(status=SENT, provider_id=bindparam("pid"), sent_at=Delivery.attempted_at,
            error=None)
)


def _provider_ids(path: Path, wanted: set[int]) -> dict[int, str]:
    """Delivery id -> provider id, for the wanted rows the outbox file holds."""
    if not path.exists():
        return {}
    found: dict[int, str] = {}
    with path.open(encoding="utf-8") as outbox:
        for line in outbox:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # cut short by a kill mid-write: never handed over
                continue
            if record.get("delivery_id") in wanted:
                found[record["delivery_id"]] = record["provider_id"]
    return found
