"""A forged From must not act as a subscriber. Anyone can write ``From: alice@…``; only the
signed reply token, or our own mail service's word that DMARC passed for that From (the topmost
``Authentication-Results`` with our authserv-id), routes a reply. A forged STOP may still stop
email, since stopping is always safe, but never answers, paces or flags anyone."""
# ruff: noqa: F811  (pytest fixtures imported from tests/email_in are used as arguments)

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from coach.events.models import Event
from coach.inbound.email_auth import from_verified
from coach.inbound.models import Reply
from coach.settings import Settings
from coach.subscribers.models import Subscriber
from tests.conftest import START
from tests.email_in.conftest import (  # noqa: F401  (fixtures)
    AUTHSERV_ID,
    client,
    clock,
    dmarc_pass,
    email,
    enqueue,
    mail_settings,
    post,
)
from tests.helpers import deliveries, enrol
from tests.web.support import Clock, enrolment_of, run_until_checkin

ALICE, BOB = "alice@example.org", "bob@example.org"
PHONE = "+447911123456"


def person(factory: sessionmaker[Session], subscriber_id: int) -> dict[str, Any]:
    """Everything a forged email must not change: answers, pacing, flags and replies."""
    enrolment = enrolment_of(factory, subscriber_id)
    with factory() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None
        events = session.execute(select(Event.kind, Event.action)
                                 .where(Event.subscriber_id == subscriber_id)).all()
        return {"enrolment": (enrolment.state, enrolment.step, enrolment.pace,
                              enrolment.next_due_at, enrolment.repeat_step, enrolment.answers),
                "flag": (subscriber.flagged_at, subscriber.flag_reason),
                "sms": subscriber.consented("sms"), "email": subscriber.email_consent,
                "replies": session.scalar(select(func.count(Reply.id))),
                "events": sorted((kind, action) for kind, action in events)}


def at_checkin(settings: Settings, factory: sessionmaker[Session], clock: Clock,
               address: str, **form: str) -> int:
    subscriber_id = enrol(factory, START, email=address, **form)
    clock.now = run_until_checkin(settings, factory, subscriber_id)
    return subscriber_id


def test_a_forged_stop_stops_email_only_and_nothing_else(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session], clock: Clock,
) -> None:
    alice = at_checkin(mail_settings, factory, clock, ALICE, phone=PHONE)
    before = person(factory, alice)
    response = post(client, email("STOP", sender=f"Alice <{ALICE}>", vouched=False))
    assert (response.status_code, response.json()) == (200, {"result": "unsubscribe"})
    after = person(factory, alice)
    assert (before["email"], before["sms"]) == (True, True)
    assert (after["email"], after["sms"]) == (False, True)
    assert after["events"] == sorted([*before["events"], ("consent", "email-opt-out")])
    assert {key: after[key] for key in ("enrolment", "flag", "replies")} == \
        {key: before[key] for key in ("enrolment", "flag", "replies")}
    with factory() as session:
        subscriber = session.get(Subscriber, alice)
        assert subscriber is not None
        assert subscriber.email_consent_source == "STOP by email, sender not verified"
    # Alice hears of it at once, so a stranger cannot stop her email unnoticed.
    [confirmation] = [d for d in deliveries(factory, alice) if d.kind == "confirm"]
    assert (confirmation.channel, confirmation.address, confirmation.status) == (
        "email", ALICE, "sent")
    assert "START" in confirmation.body_text


def test_a_forged_cry_for_help_flags_and_halts_no_one(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session], clock: Clock,
) -> None:
    bob = at_checkin(mail_settings, factory, clock, BOB)
    before = person(factory, bob)
    response = post(client, email("he hits me", sender=f"Bob <{BOB}>", vouched=False))
    assert (response.status_code, response.json()) == (202, {"result": "dropped"})
    assert person(factory, bob) == before


def test_a_forged_answer_is_not_saved(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session], clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alice = at_checkin(mail_settings, factory, clock, ALICE)
    before = person(factory, alice)
    with caplog.at_level("INFO"):
        response = post(client, email("Trust is a lie [here](https://evil.example)",
                                      sender=ALICE, vouched=False))
    assert response.json() == {"result": "dropped"}
    assert person(factory, alice) == before
    assert "did not vouch for the sender" in caplog.text and ALICE not in caplog.text


def test_with_our_mail_services_dmarc_pass_the_from_is_believed(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session], clock: Clock,
) -> None:
    alice = at_checkin(mail_settings, factory, clock, ALICE)
    response = post(client, email("Keeping my word", sender=ALICE))
    assert response.json() == {"result": "reply"}
    assert enrolment_of(factory, alice).answers == {"trust_means": "Keeping my word"}


UNTRUSTED = {
    "another authserv-id": [dmarc_pass(ALICE, "mx.mallory.example")],
    "ours, but below our own fail": [
        f"{AUTHSERV_ID}; dmarc=fail header.from=example.org", dmarc_pass(ALICE)],
    "ours, for another domain": [dmarc_pass("someone@mallory.example")],
    "ours, DMARC failed though SPF and DKIM passed": [
        f"{AUTHSERV_ID}; spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org; "
        "dmarc=fail header.from=example.org"],
}


@pytest.mark.parametrize("headers", UNTRUSTED.values(), ids=UNTRUSTED.keys())
def test_a_dmarc_pass_we_did_not_write_is_not_believed(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session], clock: Clock,
    headers: list[str],
) -> None:
    alice = at_checkin(mail_settings, factory, clock, ALICE)
    before = person(factory, alice)
    message = email("Keeping my word", sender=ALICE, vouched=False)
    for value in headers:  # top to bottom, as they would arrive
        message["Authentication-Results"] = value
    assert post(client, message).json() == {"result": "dropped"}
    assert person(factory, alice) == before


RESULTS = [
    ([f"{AUTHSERV_ID}; dmarc=pass header.from=example.org"], True),
    ([f"{AUTHSERV_ID.upper()} 1; DMARC = pass (p=none) header.from=Example.ORG"], True),
    ([f"{AUTHSERV_ID} (our relay; trust it); spf=pass smtp.mailfrom=a@example.org; "
      "dkim=pass header.d=example.org"], True),
    ([f"{AUTHSERV_ID}; spf=pass smtp.mailfrom=example.org; dkim=fail header.d=example.org"],
     False),
    ([f"{AUTHSERV_ID}; spf=pass smtp.mailfrom=mallory.example; dkim=pass header.d=example.org"],
     False),
    ([f"{AUTHSERV_ID}; dmarc=pass header.from=example.org.mallory.example"], False),
    ([f"{AUTHSERV_ID}; dmarc=pass"], False),
    ([f"{AUTHSERV_ID}; none"], False),
    (["mx.mallory.example; dmarc=pass header.from=example.org"], False),
    ([f"{AUTHSERV_ID}; dmarc=none header.from=example.org",
      f"{AUTHSERV_ID}; dmarc=pass header.from=example.org"], False),
    ([f"{AUTHSERV_ID}; dmarc=pass header.from=example.org ({'(' * 5000})"], False),
    ([], False),
]


@pytest.mark.parametrize(("values", "verified"), RESULTS)
def test_authentication_results_are_read_strictly(values: list[str], verified: bool) -> None:
    headers = [("Authentication-Results", value) for value in values]
    assert from_verified(headers, "example.org", AUTHSERV_ID) is verified


def test_without_a_configured_authserv_id_no_from_is_believed() -> None:
    headers = [("Authentication-Results", dmarc_pass(ALICE, ""))]
    assert from_verified(headers, "example.org", "") is False
    assert from_verified([("Authentication-Results", dmarc_pass(ALICE))], "example.org", "") \
        is False


def test_a_message_id_full_of_words_is_logged_as_a_digest(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The Message-ID is the sender's to write; a log line names only its digest."""
    words = "<my-partner-lies-to-me-about-money@example.org>"
    with caplog.at_level("INFO"):
        response = post(client, email("hello", sender="stranger@example.net",
                                      message_id=words, vouched=False))
    assert response.json() == {"result": "dropped"}
    assert "dropped" in caplog.text and "partner" not in caplog.text
    assert "sha256:" in caplog.text
