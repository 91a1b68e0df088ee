"""A person's own data: the export holds everything coach keeps; an erasure leaves none of it in
any table, cancels what was waiting to go, sends nothing afterwards, and keeps only a keyed hash
of each address, so a new sign-up needs the person's own confirmation."""

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from coach import models
from coach.cli.main import app
from coach.delivery.channels import MemoryChannel
from coach.delivery.models import FAILED, QUEUED, SENDING, Delivery
from coach.delivery.sending import send_deliveries
from coach.events.models import Event
from coach.events.services import record
from coach.inbound.signup_models import SmsSignup
from coach.privacy.erase import erase_subscriber
from coach.privacy.export import export_subscriber
from coach.safety.models import Flag
from coach.safety.services import resolve
from coach.scheduling.enrol import subscribe
from coach.scheduling.models import Enrolment
from coach.scheduling.services import run_sweep
from coach.settings import Settings, get_settings
from coach.subscribers.models import PendingSignup, Subscriber, Suppression
from coach.subscribers.services import SignUp, SubscribeError
from coach.subscribers.suppression import address_hash, is_suppressed, lift
from coach.web.app import create_app
from tests.helpers import reply, run_hours, to_first_checkin
from tests.hooks_twilio.conftest import AUTH_TOKEN, PUBLIC_URL, Twilio, messages
from tests.privacy import MARKER
from tests.test_cli import coach, runner
from tests.web.support import Clock

NAME = "Zephyrine"
EMAIL = "zephyrine.quill@example.org"
PHONE = "+447911123456"
IP = "203.0.113.77"  # recorded with a web consent when COACH_RECORD_OPTIN_IP is on
NEEDLES = (MARKER, NAME, EMAIL, PHONE, PHONE.removeprefix("+44"), IP)
SECTIONS = {"format", "profile", "consents", "enrolments", "messages", "replies", "decisions",
            "flags", "pending_signups", "sms_signups"}


@dataclass
class Person:
    id: int
    now: datetime


@pytest.fixture
def person(settings: Settings, factory: sessionmaker[Session], published: None) -> Person:
    """Subscribed by email and phone, sent messages, answered a check-in in their own words,
    raised a flag (resolved with a note naming them), said STOP by text, and has rows waiting
    in the outbox, a sign-up waiting on the web and one by text."""
    subscriber_id, now = to_first_checkin(settings, factory, email=EMAIL, phone=PHONE,
                                          name=NAME)
    reply(factory, settings, PHONE, MARKER, now)
    reply(factory, settings, PHONE, f"{MARKER} and I am scared of him", now + timedelta(hours=1))
    with factory.begin() as session:
        flags = session.scalars(select(Flag)).all()
        assert flags, "the reply about being scared is flagged for a person"
        for flag in flags:
            resolve(session, flag.id, f"called {NAME}, they are safe", now + timedelta(hours=2))
    reply(factory, settings, PHONE, "STOP", now + timedelta(hours=3))
    now += timedelta(hours=4)
    with factory.begin() as session:
        _waiting(session, session.get_one(Subscriber, subscriber_id), now)
    _plan_without_sending(settings, factory)
    return Person(subscriber_id, now)


def _waiting(session: Session, subscriber: Subscriber, now: datetime) -> None:
    """Rows no test path makes yet, each able to carry someone's words."""
    for kind, status in (("crisis", QUEUED), ("nudge", SENDING)):
        session.add(Delivery(
            dedupe_key=f"test:{kind}", subscriber_id=subscriber.id, kind=kind, channel="sms",
            address=PHONE, body_text=f"{NAME}, you said: {MARKER}", status=status,
            created_at=now, claimed_at=now if status == SENDING else None))
    session.add(PendingSignup(subscriber_id=subscriber.id, channel="email", address=EMAIL,
                              choices={"name": NAME, "focus": "honesty"}, wording="v1",
                              client_ip=IP, created_at=now, expires_at=now + timedelta(days=2)))
    session.add(SmsSignup(phone=PHONE, state="choosing", started_at=now, updated_at=now))
    record(session, subscriber.id, now, "decision", "note", "a test of event data",
           words=MARKER, step=3, state="active", client_ip=IP)


def _plan_without_sending(settings: Settings, factory: sessionmaker[Session]) -> None:
    """The sweep plans the next message; no sender has picked it up yet."""
    with factory() as session:
        due = session.scalars(select(Enrolment.next_due_at)).one()
    assert due is not None
    run_sweep(due, settings, lambda ids: None)


def erase(settings: Settings, factory: sessionmaker[Session], person: Person) -> dict[str, int]:
    with factory.begin() as session:
        subscriber = session.get_one(Subscriber, person.id)
        return erase_subscriber(session, subscriber, person.now, settings.secret_key).as_dict()


def traces(factory: sessionmaker[Session]) -> set[str]:
    """table.column:needle for every needle found in any column of any row of any table."""
    found = set()
    with factory() as session:
        for table in models.Base.metadata.sorted_tables:
            for row in session.execute(select(table)).mappings():
                for column, value in row.items():
                    text = json.dumps(value) if isinstance(value, dict | list) else str(value)
                    found |= {f"{table.name}.{column}:{needle}" for needle in NEEDLES
                              if needle.casefold() in text.casefold()}
    return found


def outbox(factory: sessionmaker[Session]) -> list[Delivery]:
    with factory() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_every_table_is_clean_after_an_erasure(settings, factory, person):
    before = traces(factory)
    for needle in NEEDLES:
        assert any(trace.endswith(f":{needle}") for trace in before), needle
    assert {"replies.text", "enrolments.answers", "events.data", "flags.resolved_note",
            "pending_signups.choices", "sms_signups.phone", "deliveries.body_text",
            "deliveries.address", "subscribers.name"} <= {t.split(":")[0] for t in before}
    counts = erase(settings, factory, person)
    assert traces(factory) == set()
    assert counts["subscribers"] == 1 and counts["replies"] == 3 and counts["flags"] == 1
    assert (counts["sms_signups"], counts["pending_signups"], counts["suppressions"]) == (1, 1, 2)
    with factory() as session:
        subscriber = session.get_one(Subscriber, person.id)
        assert subscriber.erased_at == person.now
        assert not subscriber.sms_consent and not subscriber.email_consent
        enrolment = session.scalars(select(Enrolment)).one()
        assert (enrolment.state, enrolment.next_due_at, enrolment.answers) == ("stopped", None, {})
        [erased] = session.scalars(select(Event).where(Event.action == "erased")).all()
        assert (erased.kind, erased.data) == ("consent", counts)
        [note] = session.scalars(select(Event).where(Event.action == "note")).all()
        assert note.data == {"words": "", "step": 3, "state": "active", "client_ip": ""}


def test_waiting_rows_are_cancelled_and_nothing_is_sent_afterwards(settings, factory, person):
    waiting = [d.id for d in outbox(factory) if d.status in (QUEUED, SENDING)]
    assert len(waiting) >= 3, "the planned nudge, a crisis answer and a claimed row"
    counts = erase(settings, factory, person)
    assert counts["cancelled"] == len(waiting)
    rows = {d.id: d for d in outbox(factory)}
    assert all(rows[i].status == FAILED and "erased" in (rows[i].error or "") for i in waiting)
    sent = len(MemoryChannel.sent)
    assert send_deliveries(waiting, person.now, settings).sent == 0
    run_hours(settings, person.now, 24 * 14)
    assert len(MemoryChannel.sent) == sent
    assert len(outbox(factory)) == len(rows), "nothing new planned"


def test_the_suppression_list_keeps_a_stop_and_only_a_hash(settings, factory, person):
    erase(settings, factory, person)
    with factory() as session:
        sms = is_suppressed(session, settings.secret_key, "+44 7911 123456")
        email = is_suppressed(session, settings.secret_key, EMAIL.upper())
        assert sms is not None and (sms.channel, sms.opted_out) == ("sms", True)
        assert email is not None and (email.channel, email.opted_out) == ("email", False)
        assert is_suppressed(session, "another key", EMAIL) is None
        assert len(session.scalars(select(Suppression)).all()) == 2


def test_a_new_sign_up_after_erasure_needs_the_persons_own_confirmation(
    settings, factory, person
):
    erase(settings, factory, person)
    form = SignUp("honesty", "Europe/London", email=EMAIL, phone=PHONE)
    refusal = pytest.raises(SubscribeError, match="erased at the person's request")
    with refusal as refused, factory.begin() as session:
        subscribe(session, form, person.now, secret_key=settings.secret_key)
    assert EMAIL not in str(refused.value) and PHONE not in str(refused.value)
    output = coach("subscribe", "--email", EMAIL, "--focus", "honesty", "--tz", "UTC", code=2)
    assert "sign up again themselves" in " ".join(output.split())
    with factory.begin() as session:
        subscriber, _ = subscribe(session, form, person.now, secret_key=settings.secret_key,
                                  confirmed=True)
        assert subscriber.id != person.id and subscriber.email_consent
    with factory() as session:
        assert session.scalars(select(Suppression)).all() == []


def test_an_erased_number_joins_again_by_text_and_yes_lifts_it(settings, factory, person,
                                                                monkeypatch):
    erase(settings, factory, person)
    monkeypatch.setenv("COACH_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("COACH_PUBLIC_URL", PUBLIC_URL)
    get_settings.cache_clear()
    app = create_app(get_settings(), lambda ids: None, clock=Clock(person.now))
    with TestClient(app) as client:
        twilio = Twilio(client)
        for text in ("JOIN", "3", "YES"):
            assert messages(twilio.text(text, sender=PHONE))
    with factory() as session:
        subscriber = session.scalars(select(Subscriber).where(Subscriber.phone == PHONE)).one()
        assert subscriber.id != person.id and subscriber.sms_consent
        [left] = session.scalars(select(Suppression)).all()
        assert left.channel == "email", "only the number the person confirmed is lifted"


def test_suppression_helpers(settings, factory):
    key = settings.secret_key
    assert address_hash(key, "Sam@Example.org ") == address_hash(key, "sam@example.org")
    assert address_hash(key, "+44 7911 123456") == address_hash(key, PHONE)
    assert len(address_hash(key, PHONE)) == 64 and address_hash("other", PHONE) != \
        address_hash(key, PHONE)
    with factory.begin() as session:
        assert not lift(session, key, EMAIL)


def test_the_export_holds_everything_and_is_json(settings, factory, person):
    with factory() as session:
        data = export_subscriber(session, session.get_one(Subscriber, person.id))
    data = json.loads(json.dumps(data))
    assert set(data) == SECTIONS
    assert (data["profile"]["email"], data["profile"]["phone"], data["profile"]["name"]) == (
        EMAIL, PHONE, NAME)
    assert data["consents"]["sms"]["granted"] is False
    assert data["consents"]["email"]["granted"] is True
    assert {"sms-opt-in", "email-opt-in", "sms-opt-out"} <= {
        c["action"] for c in data["consents"]["history"]}
    [enrolment] = data["enrolments"]
    assert enrolment["programme"] and MARKER in enrolment["answers"].values()
    assert enrolment["started_at"].endswith("Z")
    assert {r["text"] for r in data["replies"]} >= {MARKER, "STOP"}
    assert any(m["status"] == "sent" and m["body"] for m in data["messages"])
    assert any(d["action"] == "enrol" and d["reason"] for d in data["decisions"])
    [flag] = data["flags"]
    assert (flag["risk"], flag["category"]) == ("concern", "partner_violence")
    assert data["pending_signups"][0]["address"] == EMAIL
    assert data["sms_signups"] == [{"state": "choosing", "quality": None,
                                    "started_at": data["sms_signups"][0]["started_at"],
                                    "updated_at": data["sms_signups"][0]["updated_at"]}]


def test_the_export_after_erasure_holds_nothing_of_theirs(settings, factory, person):
    erase(settings, factory, person)
    with factory() as session:
        text = json.dumps(export_subscriber(session, session.get_one(Subscriber, person.id)))
    assert not [needle for needle in NEEDLES if needle.casefold() in text.casefold()]


def test_cli_export_prints_the_json(settings, factory, person):
    data = json.loads(coach("subscribers", "export", PHONE))
    assert set(data) == SECTIONS and MARKER in {r["text"] for r in data["replies"]}


def test_cli_erase_with_yes_prints_counts_and_nothing_of_theirs(settings, factory, person):
    output = coach("subscribers", "erase", EMAIL.upper(), "--yes")
    assert "subscribers 1" in output and "replies 3" in output and "suppressions 2" in output
    assert MARKER not in output and NAME not in output and PHONE not in output
    assert traces(factory) == set()
    again = coach("subscribers", "erase", EMAIL, "--yes", code=2)
    assert "was erased at the person's request" in " ".join(again.split())
    assert "erased" in coach("subscribers", "export", PHONE, code=2)


def test_cli_erase_answered_no_changes_nothing(settings, factory, person):
    before = traces(factory)
    result = coach_with_input(["subscribers", "erase", EMAIL], "n\n", code=1)
    assert "nothing changed" in result
    assert traces(factory) == before


def test_cli_erase_answered_yes_erases(settings, factory, person):
    coach_with_input(["subscribers", "erase", EMAIL], "y\n", code=0)
    assert traces(factory) == set()


@pytest.mark.parametrize("address, message", [
    ("nobody@example.org", "no subscriber has the address"),
    ("not-an-address", "is not a phone number"),
])
def test_cli_unknown_address_is_an_error_and_changes_nothing(settings, factory, person,
                                                             address, message):
    before = traces(factory)
    for args in (["erase", address, "--yes"], ["export", address]):
        output = coach("subscribers", *args, code=2)
        assert message in " ".join(output.split())
    assert traces(factory) == before


def test_an_erasure_logs_nothing_personal(settings, factory, person, caplog):
    caplog.set_level(logging.DEBUG)
    erase(settings, factory, person)
    coach("subscribers", "erase", "nobody@example.org", "--yes", code=2)
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert not [needle for needle in NEEDLES if needle.casefold() in logged.casefold()]


def coach_with_input(args: list[str], answer: str, code: int) -> str:
    result = runner.invoke(app, args, input=answer)
    assert result.exit_code == code, result.output
    return result.output
