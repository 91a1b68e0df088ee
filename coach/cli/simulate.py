"""`coach simulate`: a few scripted people, fast-forwarded hour by hour on a throwaway database.

Everything runs through the real code: the sweep, pacing, rendering, the outbox, the inbound
path. Only the clock and the people are scripted.
"""

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import select

from coach.cli.show import show_status
from coach.db import session_factory
from coach.delivery.models import Delivery
from coach.delivery.sending import send_deliveries
from coach.inbound.services import record_reply
from coach.migrate import upgrade
from coach.programmes.services import publish_missing_builtins
from coach.scheduling import plan
from coach.scheduling.enrol import subscribe
from coach.scheduling.services import run_sweep
from coach.settings import Settings, get_settings
from coach.subscribers.services import SignUp, find_by_address
from coach.timeline.services import status


@dataclass(frozen=True)
class Person:
    form: SignUp
    answer: Callable[[int], str | None]  # nth check-in -> reply, or None for silence


PEOPLE = [
    Person(SignUp("trust-and-care", "Europe/London", email="steady@example.org", name="Sam",
                  send_time="18:30"),
           lambda n: ["Being on time, every time", "4", "Asking how their day was", "3"][n % 4]),
    Person(SignUp("honesty", "America/New_York", phone="+12125550123", name="Alex",
                  send_time="08:15"),
           lambda n: ["SLOWER", "2", "Saying what I mean, kindly", "PAUSE 5"][n % 4]),
    Person(SignUp("clear-communication", "Australia/Lord_Howe", email="quiet@example.org",
                  name="Kim", send_time="19:00"), lambda n: None),
]


def simulate(out: Console, days: int, start: datetime) -> None:
    with tempfile.TemporaryDirectory(prefix="coach-sim-") as folder:
        settings = Settings(database_url=f"sqlite:///{Path(folder) / 'sim.sqlite3'}",
                            sms_backend="memory", email_backend="memory",
                            programmes_dir=get_settings().programmes_dir)
        plan.forget_programmes()  # this database numbers its versions from 1 again
        _prepare(settings, start)
        _run(out, settings, start, days)
        factory = session_factory(settings.effective_database_url)
        with factory() as session:
            for person in PEOPLE:
                subscriber = find_by_address(session, person.form.email or person.form.phone or "")
                assert subscriber is not None
                show_status(out, status(session, subscriber))
                out.print()


def _prepare(settings: Settings, start: datetime) -> None:
    upgrade(settings.effective_database_url)
    factory = session_factory(settings.effective_database_url)
    with factory.begin() as session:
        publish_missing_builtins(session, settings.programmes_dir)
        for person in PEOPLE:
            subscribe(session, person.form, start)


def _run(out: Console, settings: Settings, start: datetime, days: int) -> None:
    factory = session_factory(settings.effective_database_url)
    answered: dict[str, int] = {}
    pending: list[tuple[datetime, str, str]] = []
    with Progress(console=out, transient=True) as progress:
        task = progress.add_task(f"simulating {days} days", total=days * 24)
        for hour in range(days * 24):
            now = start + timedelta(hours=hour)
            run_sweep(now, settings, partial(_send, now=now, settings=settings))
            pending += _scripted_replies(factory, now, answered)
            for due, sender, text in [p for p in pending if p[0] <= now]:
                pending.remove((due, sender, text))
                with factory.begin() as session:
                    outcome = record_reply(session, sender, text, due)
                _send(outcome.acks, due, settings)
            progress.advance(task)


def _send(ids: list[int], now: datetime, settings: Settings) -> None:
    if ids:
        send_deliveries(ids, now, settings)


def _scripted_replies(factory, now: datetime, answered: dict[str, int]):  # type: ignore[no-untyped-def]
    """Each person answers a check-in three hours after it arrives, as their script says."""
    replies = []
    with factory() as session:
        checkins = session.scalars(select(Delivery).where(
            Delivery.kind == "checkin", Delivery.sent_at > now - timedelta(hours=1),
            Delivery.sent_at <= now))
        for delivery in checkins:
            person = next(p for p in PEOPLE if delivery.address in (p.form.email, p.form.phone))
            count = answered.get(delivery.address, 0)
            answered[delivery.address] = count + 1
            text = person.answer(count)
            if text is not None:
                replies.append((now + timedelta(hours=3), delivery.address, text))
    return replies
