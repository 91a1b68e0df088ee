"""Sending a batch of outbox rows: claim in one transaction, then attempt and record each row
(see :mod:`coach.delivery.attempts` for what is committed when).

A row claimed by a sender that then dies stays ``sending``. Housekeeping puts it back in the
queue if its attempt was never recorded, and marks it unknown if it was: it is never sent
again blindly. A sender that loses its database mid-batch (a recoverable error: a failover, a
terminated connection) hands the rows it never reached back at once and raises, so the send
task retries them (``RECOVERABLE``) instead of leaving them to housekeeping.
"""

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from datetime import datetime

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from coach.db import get_engine, session_factory
from coach.delivery.attempts import send_claimed
from coach.delivery.channels import Channel, channel_for
from coach.delivery.services import SendSummary, claim, hand_back
from coach.settings import Settings

log = logging.getLogger(__name__)
# Errors that say the database went away, not that the work is wrong: worth a retry.
RECOVERABLE = (OperationalError, InterfaceError)


def send_deliveries(ids: list[int], now: datetime, settings: Settings) -> SendSummary:
    factory = session_factory(settings.effective_database_url)
    with factory.begin() as session:
        claimed = claim(session, ids, now)
    summary = SendSummary(skipped=len(ids) - len(claimed))
    if not claimed:
        return summary
    # One connection for the whole batch: a session on the engine hands its connection back at
    # every commit (one a row) and checks it out again, with a ping, for the next row.
    engine = get_engine(settings.effective_database_url)
    try:
        with engine.connect() as connection, factory(bind=connection) as session, \
                ExitStack() as open_channels:
            sent = send_claimed(session, claimed, _batch_channels(settings, open_channels), now)
    except RECOVERABLE:
        _hand_back(settings, claimed)
        raise
    sent.skipped += summary.skipped
    return sent


def _hand_back(settings: Settings, claimed: list[int]) -> None:
    try:
        with session_factory(settings.effective_database_url).begin() as session:
            count = hand_back(session, claimed)
        log.warning("lost the database mid-batch: %d rows handed back for the retry", count)
    except SQLAlchemyError:  # still unreachable: housekeeping requeues them later
        log.warning("lost the database mid-batch; housekeeping will requeue the batch")


def _batch_channels(settings: Settings, stack: ExitStack) -> Callable[[str], Channel]:
    """One channel per name for the whole batch; one that holds a connection (SMTP) keeps it
    until the batch is done, instead of a new connection and TLS handshake per message."""
    made: dict[str, Channel] = {}

    def channel(name: str) -> Channel:
        if name not in made:
            new = channel_for(name, settings)
            if isinstance(new, AbstractContextManager):
                stack.enter_context(new)
            made[name] = new
        return made[name]

    return channel
