"""The Celery app (``celery -A tests.faults.slow_sends worker``) with Redis's visibility timeout
of a second, looked at every second, and the file channel taking a quarter of a second per
message: a send batch outlives the timeout, so Redis hands its task out again while it runs.

Production keeps kombu's hour, far above a send task's time limit; only the clock is shorter.
"""

import time

from coach.delivery.channels import FileChannel, OutgoingMessage
from tasks.app import app

SECONDS_PER_MESSAGE = 0.25
VISIBILITY_TIMEOUT = 1  # seconds
# kombu looks for messages past their timeout every interval x throttle seconds (100 s).
SHORT_VISIBILITY = {"visibility_timeout": VISIBILITY_TIMEOUT, "unacked_restore_interval": 1,
                    "unacked_restore_throttle": 1}
app.conf.broker_transport_options = {**app.conf.broker_transport_options, **SHORT_VISIBILITY}
_send = FileChannel.send


def _slow_send(channel: FileChannel, message: OutgoingMessage) -> str:
    time.sleep(SECONDS_PER_MESSAGE)
    return _send(channel, message)


FileChannel.send = _slow_send  # type: ignore[method-assign,assignment]

__all__ = ["app"]
