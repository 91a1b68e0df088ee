"""A bare Celery app with a no-op task, configured exactly like coach's (tasks.app): the ceiling
a coach worker could reach on this broker with these settings.

Run as a worker with ``celery -A bench.noop worker`` (the bench does this itself).
"""

from typing import Any

from celery import Celery

from tasks.app import CoachTask
from tasks.app import app as coach_app

SHARED = ("broker_url", "broker_connection_retry_on_startup", "task_ignore_result",
          "task_acks_late", "task_reject_on_worker_lost", "worker_prefetch_multiplier",
          "worker_hijack_root_logger", "timezone")

app = Celery("bench_noop")


@app.on_configure.connect
def _configure(sender: Celery, **_: Any) -> None:
    sender.conf.update({key: coach_app.conf[key] for key in SHARED})


@app.task(base=CoachTask, name="bench.noop")
def noop(ids: list[int]) -> None:
    """Takes what coach.send takes (a batch of ids) and does nothing with it."""
    return None
