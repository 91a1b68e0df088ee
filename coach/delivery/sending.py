"""Sending a batch of outbox rows: claim in one transaction, send and record in the next.

A row claimed by a sender that then dies stays ``sending`` and is later marked unknown by
housekeeping; it is never sent again blindly.
"""

from datetime import datetime

from coach.db import session_factory
from coach.delivery.channels import channel_for
from coach.delivery.services import SendSummary, claim, send_claimed
from coach.settings import Settings


def send_deliveries(ids: list[int], now: datetime, settings: Settings) -> SendSummary:
    factory = session_factory(settings.effective_database_url)
    with factory.begin() as session:
        claimed = claim(session, ids, now)
    summary = SendSummary(skipped=len(ids) - len(claimed))
    if not claimed:
        return summary
    with factory.begin() as session:
        sent = send_claimed(session, claimed, lambda name: channel_for(name, settings), now)
    sent.skipped += summary.skipped
    return sent
