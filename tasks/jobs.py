from datetime import UTC, datetime
from typing import Any

from coach.admin.sessions import forget_ended as forget_ended_admin_sessions
from coach.delivery.sending import RECOVERABLE, send_deliveries
from coach.inbound.imap import poll
from coach.privacy.retention import forget_expired_sign_ups
from coach.scheduling.services import run_sweep
from coach.settings import get_settings
from tasks.app import CoachTask, app

# Soft limits raise SoftTimeLimitExceeded inside the task: the open transaction rolls back and
# the claimed rows are released for the next sweep; the hard limit then ends the process.
# A sweep usually takes seconds; a template that breaks its time budget costs one render
# (0.5 s, coach.programmes.limits) before its step fails fast for everyone else.
SWEEP_SOFT_SECONDS, SWEEP_HARD_SECONDS = 240, 300
# A batch of 100 SMS at the shared rate of 1 per second, with a second worker sharing it.
SEND_SOFT_SECONDS, SEND_HARD_SECONDS = 540, 600


@app.task(base=CoachTask, name="coach.sweep", soft_time_limit=SWEEP_SOFT_SECONDS,
          time_limit=SWEEP_HARD_SECONDS)
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

    settings = get_settings()
    if not helper:
        forget_expired_sign_ups(settings, moment)
        forget_ended_admin_sessions(settings, moment)
    return run_sweep(moment, settings, lambda ids: send.delay(ids, stamp),
                     call_helpers=None if helper else call_helpers, housekeeping=not helper)


@app.task(base=CoachTask, name="coach.send", soft_time_limit=SEND_SOFT_SECONDS,
          time_limit=SEND_HARD_SECONDS, autoretry_for=RECOVERABLE, max_retries=8,
          retry_backoff=2, retry_backoff_max=300, retry_jitter=True)
def send(ids: list[int], now: str | None = None) -> dict[str, int]:
    moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    return send_deliveries(ids, moment, get_settings()).as_dict()


@app.task(base=CoachTask, name="coach.poll_imap")
def poll_imap() -> dict[str, int]:
    """Beat's IMAP poll, when COACH_IMAP_URL is set: unseen messages in, then marked seen."""
    return poll(get_settings(), lambda ids: send.delay(ids)).as_dict()
