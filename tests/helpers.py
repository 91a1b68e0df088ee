"""Small drivers shared by tests: run the clock forward through the real sweep and sender."""

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from coach.delivery.models import Delivery
from coach.delivery.sending import send_deliveries
from coach.inbound.services import Outcome, record_reply
from coach.scheduling.enrol import subscribe
from coach.scheduling.models import Enrolment
from coach.scheduling.services import run_sweep
from coach.settings import Settings
from coach.subscribers.services import SignUp
from tests.conftest import START


def enrol(factory: sessionmaker[Session], now: datetime, **form: str) -> int:
    values = {"focus": "trust-and-care", "timezone": "Europe/London",
              "email": "sam@example.org", "send_time": "18:30", **form}
    with factory.begin() as session:
        subscriber, _ = subscribe(session, SignUp(**values), now)
        return subscriber.id


def tick(settings: Settings, now: datetime) -> dict[str, object]:
    """One sweep plus sending what it planned, in this process (what `coach tick` does)."""
    return run_sweep(now, settings, lambda ids: send_deliveries(ids, now, settings))


def run_hours(settings: Settings, start: datetime, hours: int) -> datetime:
    """Sweep once an hour; returns the time reached."""
    now = start
    for _ in range(hours):
        tick(settings, now)
        now += timedelta(hours=1)
    return now


def reply(factory: sessionmaker[Session], settings: Settings, sender: str, text: str,
          now: datetime, provider_id: str | None = None) -> Outcome:
    with factory.begin() as session:
        outcome = record_reply(session, sender, text, now, provider_id)
    if outcome.acks:
        send_deliveries(outcome.acks, now, settings)
    return outcome


def deliveries(factory: sessionmaker[Session], subscriber_id: int) -> list[Delivery]:
    with factory() as session:
        return list(session.scalars(select(Delivery).where(Delivery.subscriber_id == subscriber_id)
                                    .order_by(Delivery.id)))


def only_enrolment(factory: sessionmaker[Session]) -> Enrolment:
    with factory() as session:
        return session.scalars(select(Enrolment)).one()


def to_first_checkin(settings: Settings, factory: sessionmaker[Session],
                     **form: str) -> tuple[int, datetime]:
    """Enrol someone and run the hours until their first check-in is open (others enrolled
    before them go on too)."""
    subscriber_id = enrol(factory, START, **form)
    now = run_hours(settings, START, 24 * 8)
    with factory() as session:
        state = session.scalars(select(Enrolment.state)
                                .where(Enrolment.subscriber_id == subscriber_id)).one()
    assert state == "awaiting"
    return subscriber_id, now
