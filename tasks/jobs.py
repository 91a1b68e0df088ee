from datetime import UTC, datetime
from typing import Any

from coach.delivery.sending import send_deliveries
from coach.inbound.imap import poll
from coach.scheduling.services import run_sweep
from coach.settings import get_settings
from tasks.app import CoachTask, app


@app.task(base=CoachTask, name="coach.sweep")
def sweep(now: str | None = None, helper: bool = False) -> dict[str, Any]:
    """Beat's minute: plan what is due, then hand the sends to the workers.

    ``now`` (ISO-8601) lets a test or an operator replay a given moment; sends it plans are
    stamped with the same moment. A busy minute calls helper sweeps of the same moment, which
    skip housekeeping and call no helpers of their own.
    """
    moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    stamp = moment.isoformat() if now else None

    def call_helpers(count: int) -> None:
        for _ in range(count):
            sweep.delay(moment.isoformat(), helper=True)

    return run_sweep(moment, get_settings(), lambda ids: send.delay(ids, stamp),
                     call_helpers=None if helper else call_helpers, housekeeping=not helper)


@app.task(base=CoachTask, name="coach.send")
def send(ids: list[int], now: str | None = None) -> dict[str, int]:
    moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    return send_deliveries(ids, moment, get_settings()).as_dict()


@app.task(base=CoachTask, name="coach.poll_imap")
def poll_imap() -> dict[str, int]:
    """Beat's IMAP poll, when COACH_IMAP_URL is set: unseen messages in, then marked seen."""
    return poll(get_settings(), lambda ids: send.delay(ids)).as_dict()
