"""Sending a batch of outbox rows: claim in one transaction, then attempt and record each row
(see :mod:`coach.delivery.services` for what is committed when).

A row claimed by a sender that then dies stays ``sending``. Housekeeping puts it back in the
queue if its attempt was never recorded, and marks it unknown if it was: it is never sent
again blindly.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from datetime import datetime

from coach.db import get_engine, session_factory
from coach.delivery.channels import Channel, channel_for
from coach.delivery.services import SendSummary, claim, send_claimed
from coach.settings import Settings


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
    with engine.connect() as connection, factory(bind=connection) as session, \
            ExitStack() as open_channels:
        sent = send_claimed(session, claimed, _batch_channels(settings, open_channels), now)
    sent.skipped += summary.skipped
    return sent


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
