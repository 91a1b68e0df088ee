"""The Celery app (``celery -A tests.faults.short_waits worker``) with the Twilio channel's
real-time waits shortened, as tests/channels_twilio's ``use_twilio`` shortens them in-process.

A scenario simulates minutes in seconds: its later sweep comes a few seconds after the fault,
when a 30 s hold-off would still hold, and a 15 s read timeout would make each held answer
cost 15 s. The rules are the real ones; only the clock they wait on is shorter.
"""

from coach.delivery import twilio_sms
from tasks.app import app
from tests.faults.peers import TWILIO_HOLD_OFF, TWILIO_READ_TIMEOUT

twilio_sms.READ_TIMEOUT = TWILIO_READ_TIMEOUT
twilio_sms.HOLD_OFF = TWILIO_HOLD_OFF

__all__ = ["app"]
