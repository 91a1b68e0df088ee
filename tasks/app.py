"""The Celery app. Its configuration is read from coach's settings when first needed, not at
import, so importing this module creates no connections."""

from typing import Any

from celery import Celery, Task
from celery.signals import worker_init

from coach.delivery.channels import check_channels
from coach.settings import get_settings

app = Celery("coach", include=["tasks.jobs"], task_cls="tasks.app:CoachTask")


@app.on_configure.connect
def _configure(sender: Celery, **_: Any) -> None:
    settings = get_settings()
    sender.conf.update(
        broker_url=settings.effective_broker_url,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=4,
        worker_hijack_root_logger=False,
        timezone="UTC",
        beat_schedule={
            "sweep": {"task": "coach.sweep", "schedule": settings.sweep_interval_seconds},
            **({"poll-imap": {"task": "coach.poll_imap", "schedule": 60.0}}
               if settings.imap_url else {}),
        },
        beat_schedule_filename=str(settings.data_dir / "celerybeat-schedule"),
        broker_transport_options=({"global_keyprefix": settings.redis_key_prefix}
                                  if settings.redis_key_prefix else {}),
    )


class CoachTask(Task):  # type: ignore[misc]
    """Every task (the app's ``task_cls``): acknowledged after it ran, redelivered when its
    worker is lost, never given an ORM object. Retries are decided per task, not here: a send
    retries when it lost its database (tasks/jobs.py); a sweep or an IMAP poll does not,
    because beat runs the next one within a minute."""

    acks_late = True
    reject_on_worker_lost = True


@worker_init.connect
def _check_channels(**_: Any) -> None:
    """A worker with broken channel credentials stops at start, not at the first send."""
    settings = get_settings()
    settings.check_production_ready()
    check_channels(settings)
