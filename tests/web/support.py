"""Helpers for the web tests: a clock the test moves, an in-process enqueue, page readers."""

import html
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from coach.db import Base
from coach.delivery.sending import send_deliveries
from coach.scheduling.models import AWAITING, Enrolment
from coach.settings import Settings
from tests.conftest import START
from tests.helpers import tick


@dataclass
class Clock:
    """The app's clock: a test sets ``now``."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Enqueue:
    """What the app hands to the workers, sent here and now with the real sender."""

    settings: Settings
    clock: Clock
    batches: list[list[int]] = field(default_factory=list)

    def __call__(self, ids: list[int]) -> None:
        self.batches.append(list(ids))
        send_deliveries(ids, self.clock(), self.settings)


# Reading the database and the pages ------------------------------------------------------------

def row_counts(factory: sessionmaker[Session]) -> dict[str, int]:
    """Rows in every table, to show that a refused request changed nothing."""
    with factory() as session:
        return {table.name: session.scalar(select(func.count()).select_from(table)) or 0
                for table in Base.metadata.sorted_tables}


def alert(page: str) -> str | None:
    """The text of the page's role=alert message, if it has one."""
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', page, re.S)
    return html.unescape(found.group(1)).strip() if found else None


def timeline(page: str) -> list[tuple[str, str]]:
    """(kind, message text) for each timeline row on a person's page, newest first."""
    rows = re.findall(r'<tr class="kind-(\w+)">(.*?)</tr>', page, re.S)
    texts = []
    for kind, row in rows:
        message = re.search(r'<pre class="msg">(.*?)</pre>', row, re.S)
        texts.append((kind, html.unescape(message.group(1)) if message else ""))
    return texts


def enrolment_of(factory: sessionmaker[Session], subscriber_id: int) -> Enrolment:
    with factory() as session:
        enrolment = session.scalars(select(Enrolment)
                                    .where(Enrolment.subscriber_id == subscriber_id)
                                    .order_by(Enrolment.id.desc())).first()
    assert enrolment is not None, f"subscriber {subscriber_id} has no enrolment"
    return enrolment


def run_until_checkin(settings: Settings, factory: sessionmaker[Session],
                      subscriber_id: int) -> datetime:
    """Sweep at each due time until a check-in is open; returns when it was sent."""
    for _ in range(12):
        due = enrolment_of(factory, subscriber_id).next_due_at
        assert due is not None, "the programme stopped before its first check-in"
        tick(settings, due)
        if enrolment_of(factory, subscriber_id).state == AWAITING:
            return due
    raise AssertionError("no check-in within twelve sends")


def inbox_rows(page: str) -> list[tuple[int, str, str, int]]:
    """(id, name, addresses, message count) for each person listed on the inbox page."""
    rows = re.findall(r'<tr><td>(\d+)</td><td><a href="/inbox/\1">(.*?)</a></td>\s*'
                      r'<td>(.*?)</td><td>(\d+)</td></tr>', page, re.S)
    return [(int(pid), html.unescape(name), " ".join(html.unescape(addresses).split()),
             int(count)) for pid, name, addresses, count in rows]
