"""Signing up on the web page: double opt-in, the same answer for every address, and limits.

Every refused or ignored request is checked twice: what the page says, and that no table
gained a row or no message went.
"""

import re
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from coach.delivery.channels import MemoryChannel
from coach.delivery.models import Delivery
from coach.events.models import Event
from coach.settings import Settings
from coach.subscribers.links import make_link_token
from coach.subscribers.models import PendingSignup, Subscriber
from coach.web.signup import suggest
from tests.conftest import START
from tests.helpers import enrol
from tests.web.support import Clock, alert, enrolment_of, row_counts

if TYPE_CHECKING:
    from collections.abc import Callable

    from httpx2 import Response
    from starlette.testclient import TestClient

EMAIL = "sam@example.org"
PHONE = "+447911123456"
CONFIRM_LINK = re.compile(r"<(https?://[^>]+/confirm/([^>]+))>")


def token_of(client: "TestClient", page: str = "/join") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).text)
    assert found, f"{page} shows no form"
    return found.group(1)


def join(client: "TestClient", **fields: str) -> "Response":
    form = {"focus": "honesty", "email": EMAIL, "phone": "", "name": "Sam",
            "send_time": "18:30", "timezone": "Europe/London", "language": "en",
            "csrf_token": token_of(client), **fields}
    return client.post("/join", data=form)


def sent_to(address: str) -> list[str]:
    return [m.text for m in MemoryChannel.sent if m.to == address]


def confirm_link(address: str = EMAIL) -> str:
    [text] = [t for t in sent_to(address) if "/confirm/" in t]
    found = CONFIRM_LINK.search(text)
    assert found, text
    return found.group(1).split("/confirm/", 1)[1]


def confirm(client: "TestClient", token: str) -> "Response":
    """Open the link and press its button (a page with no form: the visitor's token from the
    sign-up page, as a browser that still has the form open would send)."""
    page = client.get(f"/confirm/{token}")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    return client.post(f"/confirm/{token}",
                       data={"csrf_token": found.group(1) if found else token_of(client)})


def test_the_page_explains_coach_and_labels_every_field(client: "TestClient") -> None:
    page = client.get("/join")
    assert page.status_code == 200
    assert "coaching, not therapy" in page.text
    for field in ("email", "phone", "name", "send_time", "tz", "language", "website"):
        assert f'<label for="{field}"' in page.text, field
    assert page.text.count('name="focus"') == 4
    assert "Help me choose" in page.text and "Discreet mode" in page.text
    assert 'action="/join"' in page.text and "http" not in page.text.split("<body>")[1].split(
        "/join")[0], "no outside request"


def test_signing_up_by_email_schedules_nothing_until_the_link_is_confirmed(
    client: "TestClient", factory: sessionmaker[Session], clock: Clock
) -> None:
    answer = join(client)
    assert (answer.status_code, answer.headers["location"]) == (303, "/join/sent")
    with factory() as session:
        contact = session.scalars(select(Subscriber)).one()
        assert (contact.email, contact.email_consent) == (EMAIL, False)
        assert session.scalar(select(PendingSignup.wording)) == "web-2026-11"
    assert row_counts(factory)["enrolments"] == 0
    token = confirm_link()

    shown = client.get(f"/confirm/{token}")
    assert "Yes, start my programme" in shown.text
    assert row_counts(factory)["enrolments"] == 0, "opening the link confirms nothing"

    clock.now = START + timedelta(hours=1)  # 10:00 in London: outside quiet hours
    done = confirm(client, token)
    assert done.status_code == 200 and "You're in" in done.text
    assert done.headers["cache-control"] == "no-store", "it carries their manage link"
    assert "Monday 2 March, 10:00" in done.text and "by email" in done.text
    enrolment = enrolment_of(factory, contact.id)
    assert enrolment.next_due_at == clock.now, "the welcome goes at once"
    with factory() as session:
        subscriber = session.get(Subscriber, contact.id)
        assert subscriber is not None and subscriber.email_consent
        assert subscriber.send_time.strftime("%H:%M") == "18:30"
        wording = session.scalars(select(Event).where(Event.action == "wording")).one()
        assert "agreed to: Yes, send me coach" in wording.reason
        assert "client_ip" not in wording.data, "no IP address unless COACH_RECORD_OPTIN_IP"


def test_a_confirmation_link_works_once(client: "TestClient", factory: sessionmaker[Session]
                                        ) -> None:
    join(client)
    token = confirm_link()
    assert "You're in" in confirm(client, token).text
    again = confirm(client, token)
    assert "Already confirmed" in again.text
    assert row_counts(factory)["enrolments"] == 1


def test_a_link_older_than_48_hours_subscribes_nobody(
    client: "TestClient", factory: sessionmaker[Session], clock: Clock
) -> None:
    join(client)
    token = confirm_link()
    clock.now = START + timedelta(hours=48, minutes=1)
    assert client.get(f"/confirm/{token}").status_code == 410
    late = confirm(client, token)
    assert late.status_code == 410 and "expired" in late.text
    assert row_counts(factory)["enrolments"] == 0


@pytest.mark.parametrize("token", [
    "1.1772409600.forged", "x" * 500, "1", "%00", "１.1772409600.abc", "../../etc/passwd",
])
def test_forged_and_broken_confirmation_links_change_nothing(
    client: "TestClient", factory: sessionmaker[Session], token: str
) -> None:
    join(client)
    before = row_counts(factory)
    assert client.get(f"/confirm/{token}").status_code == 404
    assert confirm(client, token).status_code == 404
    assert row_counts(factory) == before


def test_a_manage_link_cannot_confirm_a_sign_up(
    client: "TestClient", factory: sessionmaker[Session], settings: Settings
) -> None:
    join(client)
    with factory() as session:
        pending_id = session.scalar(select(PendingSignup.id))
    assert pending_id is not None
    other_purpose = make_link_token(settings.secret_key, "manage", pending_id, START)
    assert confirm(client, other_purpose).status_code == 404
    assert row_counts(factory)["enrolments"] == 0


def test_confirming_in_quiet_hours_sends_the_welcome_when_they_end(
    client: "TestClient", factory: sessionmaker[Session], clock: Clock
) -> None:
    join(client)
    clock.now = START.replace(hour=22, minute=30)  # 22:30 in London
    confirm(client, confirm_link())
    [subscriber_id] = [s for s in _subscriber_ids(factory)]
    assert enrolment_of(factory, subscriber_id).next_due_at == (
        START + timedelta(days=1)).replace(hour=8, minute=0)


def test_signing_up_again_never_reveals_the_address_is_known(
    client: "TestClient", factory: sessionmaker[Session], settings: Settings
) -> None:
    enrol(factory, START)
    fresh = join(client, email="new@example.org")
    known = join(client)
    assert (known.status_code, known.headers["location"]) == (
        fresh.status_code, fresh.headers["location"])
    [message] = sent_to(EMAIL)
    assert "/manage/" in message and "/confirm/" not in message
    assert row_counts(factory)["enrolments"] == 1
    with factory() as session:
        assert session.scalar(select(PendingSignup).where(PendingSignup.address == EMAIL)) is None


def test_a_filled_hidden_field_looks_accepted_but_does_nothing(
    client: "TestClient", factory: sessionmaker[Session]
) -> None:
    before = row_counts(factory)
    answer = join(client, website="https://spam.example")
    assert answer.headers["location"] == "/join/sent"
    assert row_counts(factory) == before and MemoryChannel.sent == []


def test_a_form_without_its_csrf_token_is_refused(
    client: "TestClient", factory: sessionmaker[Session]
) -> None:
    before = row_counts(factory)
    answer = join(client, csrf_token="")
    assert answer.status_code == 403
    assert row_counts(factory) == before


@pytest.mark.parametrize(("fields", "says"), [
    ({"phone": "+44 12", "email": ""}, "'+44 12' is not a valid phone number"),
    ({"email": "not an address"}, "not a valid email address"),
    ({"email": "", "phone": ""}, "Give an email address or a phone number"),
    ({"timezone": "Mars/Olympus"}, "Unknown time zone 'Mars/Olympus'"),
    ({"timezone": ""}, "Choose your time zone"),
    ({"focus": ""}, "Choose a focus"),
    ({"focus": "wealth"}, "Unknown focus quality 'wealth'"),
    ({"send_time": "25:00"}, "is not a local time"),
    ({"language": "xx"}, "Language 'xx' is not one coach speaks"),
    ({"name": "Sam\x00"}, "NUL character"),
])
def test_bad_input_is_explained_and_changes_nothing(
    client: "TestClient", factory: sessionmaker[Session], fields: dict[str, str], says: str
) -> None:
    before = row_counts(factory)
    answer = join(client, **fields)
    assert answer.status_code == 400
    assert says in (alert(answer.text) or "")
    assert row_counts(factory) == before and MemoryChannel.sent == []
    if fields.get("email") not in (None, ""):
        assert f'value="{fields["email"]}"' in answer.text, "what they typed is kept"


def test_one_address_gets_at_most_three_confirmations_a_day(
    client: "TestClient", factory: sessionmaker[Session], clock: Clock
) -> None:
    for _ in range(5):
        assert join(client).headers["location"] == "/join/sent"
    assert len(sent_to(EMAIL)) == 3
    clock.now = START + timedelta(days=1, minutes=1)
    join(client)
    assert len(sent_to(EMAIL)) == 4


def test_the_per_address_rate_limit_answers_the_same(
    make_client: "Callable[..., TestClient]", settings: Settings,
    factory: sessionmaker[Session]
) -> None:
    strict = settings.model_copy(update={"rate_limit_per_address": "1/hour"})
    client = make_client(strict)
    join(client)
    before = row_counts(factory)
    assert join(client).headers["location"] == "/join/sent"
    assert row_counts(factory) == before


def test_signing_up_by_phone_asks_for_yes_by_text(
    client: "TestClient", factory: sessionmaker[Session]
) -> None:
    join(client, email="", phone="+44 7911 123456")
    [text] = sent_to(PHONE)
    assert "Reply YES" in text and len(text) <= 160
    with factory() as session:
        pending = session.scalars(select(PendingSignup)).one()
        assert (pending.channel, pending.address) == ("sms", PHONE)
    assert row_counts(factory)["enrolments"] == 0


def test_a_number_that_said_stop_is_not_texted_because_a_form_named_it(
    client: "TestClient", factory: sessionmaker[Session]
) -> None:
    subscriber_id = enrol(factory, START, email="", phone=PHONE)
    with factory.begin() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None
        subscriber.set_consent("sms", False, START, "STOP")
    before = row_counts(factory)
    assert join(client, email="", phone=PHONE).headers["location"] == "/join/sent"
    assert sent_to(PHONE) == [] and row_counts(factory) == before


def test_help_me_choose_suggests_and_the_person_still_picks(client: "TestClient") -> None:
    page = client.get("/join/choose", params={"hard": "honesty", "more": "honesty",
                                               "step": "trust-and-care"})
    assert "You might start with <strong>honesty</strong>" in page.text
    assert 'href="/join?focus=honesty"' in page.text
    form = client.get("/join", params={"focus": "honesty"}).text
    assert 'value="honesty" checked' in form
    assert 'value="wealth"' not in client.get("/join", params={"focus": "wealth"}).text


def test_a_suggestion_breaks_ties_with_the_first_answer() -> None:
    assert suggest({"hard": "honesty", "more": "trust-and-care", "step": ""}) == "honesty"
    assert suggest({"hard": "nonsense"}) is None


def _subscriber_ids(factory: sessionmaker[Session]) -> list[int]:
    with factory() as session:
        return list(session.scalars(select(Subscriber.id)))


def test_a_sign_up_nobody_confirms_is_forgotten_after_48_hours(
    client: "TestClient", factory: sessionmaker[Session], clock: Clock
) -> None:
    from coach.privacy.retention import forget_expired

    join(client, email="stranger@example.org")
    join(client)
    confirm(client, confirm_link())  # Sam confirms; the stranger's address was never theirs
    with factory.begin() as session:
        assert forget_expired(session, START + timedelta(hours=47)) == 0
    with factory.begin() as session:
        assert forget_expired(session, START + timedelta(hours=49)) == 1
    counts = row_counts(factory)
    assert (counts["subscribers"], counts["pending_signups"], counts["enrolments"]) == (1, 1, 1)
    with factory() as session:
        assert session.scalar(select(Subscriber.email)) == EMAIL
        assert "stranger@example.org" not in str(session.execute(
            select(Delivery.address)).all())
