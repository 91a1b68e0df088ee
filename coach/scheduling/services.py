"""One sweep as beat runs it: housekeeping, then due enrolments, sends enqueued after commit."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from coach.db import session_factory
from coach.delivery.services import mark_stale_sending, stale_queued
from coach.scheduling.sweep import sweep
from coach.settings import Settings

STALE_SENDING = timedelta(minutes=10)
STALE_QUEUED = timedelta(minutes=2)


def run_sweep(
    now: datetime, settings: Settings, enqueue: Callable[[list[int]], None]
) -> dict[str, Any]:
    factory = session_factory(settings.effective_database_url)
    with factory.begin() as session:
        unknown = mark_stale_sending(session, now, STALE_SENDING)
        lost = stale_queued(session, now, STALE_QUEUED, settings.sweep_batch_size)
    for batch in _chunks(lost, settings.send_batch_size):
        enqueue(batch)

    def enqueue_in_batches(ids: list[int]) -> None:
        for batch in _chunks(ids, settings.send_batch_size):
            enqueue(batch)

    result = sweep(factory, now, settings.sweep_batch_size, enqueue_in_batches)
    return {**result.as_dict(), "requeued": len(lost), "marked_unknown": unknown}


def _chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[start:start + size] for start in range(0, len(ids), size)]
