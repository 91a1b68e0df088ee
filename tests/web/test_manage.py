"""A subscriber's manage page: reached by a signed link that expires, each change checked,
stored and shown, and nothing changed by a forged, expired or refused request."""

import re
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from coach.delivery.channels import MemoryChannel
from coach.events.models import Event
from coach.programmes.models import ProgrammeVersion
from coach.scheduling.models import Enrolment
from coach.settings import Settings
from coach.subscribers.links import make_link_token
from coach.subscribers.models import Subscriber
from tests.conftest import START
from tests.helpers import enrol, tick
from tests.web.support import Clock, alert, enrolment_of, row_counts

if TYPE_CHECKING:
    from httpx2 import Response
    from starlette.testclient import TestClient

EMAIL = "sam@example.org"
PHONE = "+447911123456"


@pytest.fixture
def person(factory: sessionmaker[Session]) -> int:
    """Sam, on trust and care by email at 18:30 London time, from START (a Monday 09:00)."""
    return enrol(factory, START)


def link(settings: Settings, subscriber_id: int, made: object = START) -> str:
    return make_link_token(settings.secret_key, "manage", subscriber_id, made)  # type: ignore[arg-type]


def post(client: "TestClient", token: str, action: str, **fields: str) -> "Response":
    page = client.get(f"/manage/{token}")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:300]
    return client.post(f"/manage/{token}/{action}", data={"csrf_token": found.group(1), **fields})


def settings_form(**changes: str) -> dict[str, str]:
    return {"send_time": "18:30", "timezone": "Europe/London", "quiet_start": "21:00",
            "quiet_end": "08:00", "channel": "email", "language": "en", **changes}


def test_the_page_shows_the_next_message_and_every_form(
    client: "TestClient", settings: Settings, person: int
) -> None:
    page = client.get(f"/manage/{link(settings, person)}")
    assert page.status_code == 200
    assert "Monday 2 March, 18:30, by email" in page.text
    assert "Trust and care (running)" in page.text
    for label in ("send_time", "tz", "quiet_start", "quiet_end", "language", "until",
                  "new-focus"):
        assert f'<label for="{label}"' in page.text, label


def test_a_new_time_moves_the_next_message_the_same_day(
    client: "TestClient", settings: Settings, factory: sessionmaker[Session], person: int
) -> None:
    token = link(settings, person)
    answer = post(client, token, "settings", **settings_form(send_time="19:45"))
    assert answer.status_code == 303 and answer.headers["location"].endswith("?done=settings")
    assert enrolment_of(factory, person).next_due_at == START.replace(hour=19, minute=45)
    shown = client.get(answer.headers["location"]).text
    assert "Saved." in shown and "Monday 2 March, 19:45, by email" in shown
    with factory() as session:
        event = session.scalars(select(Event).where(Event.action == "settings")).one()
        assert event.data["fields"] == ["time"]


def test_a_new_zone_keeps_the_local_day_across_a_dst_change(
    client: "TestClient", settings: Settings, factory: sessionmaker[Session], clock: Clock,
    person: int
) -> None:
    # New York moves its clocks on Sunday 8 March 2026; London not until the 29th.
    with factory.begin() as session:
        enrolment = enrolment_of(factory, person)
        row = session.get(type(enrolment), enrolment.id)
        assert row is not None
        row.next_due_at = START.replace(day=9, hour=17, minute=30)  # Mon 9th, 17:30 London
    answer = post(client, link(settings, person), "settings",
                  **settings_form(timezone="America/New_York", send_time="08:30"))
    assert answer.status_code == 303
    # Monday 9 March 08:30 in New York, already on daylight time (UTC-4).
    assert enrolment_of(factory, person).next_due_at == START.replace(day=9, hour=12,
                                                                         minute=30)


def test_a_time_already_past_today_moves_to_tomorrow_never_earlier_than_now(
    client: "TestClient", settings: Settings, factory: sessionmaker[Session], clock: Clock,
    person: int
) -> None:
    clock.now = START.replace(hour=12)
    post(client, link(settings, person), "settings", **settings_form(send_time="10:00"))
    assert enrolment_of(factory, person).next_due_at == START.replace(day=3, hour=10)


@pytest.mark.parametrize(("fields", "says"), [
    ({"timezone": "Mars/Olympus"}, "Unknown time zone 'Mars/Olympus'"),
    ({"send_time": "7pm"}, "is not a local time"),
    ({"quiet_start": "08:00", "quiet_end": "08:00"}, "start and end at the same time"),
    ({"channel": "sms"}, "Choose a channel you are subscribed on"),
    ({"channel": "carrier-pigeon"}, "Choose a channel you are subscribed on"),
    ({"language": "fr"}, "Choose a language coach speaks"),
])
def test_bad_settings_are_explained_and_change_nothing(
    client: "TestClient", settings: Settings, factory: sessionmaker[Session], person: int,
    fields: dict[str, str], says: str
) -> None:
    before = enrolment_of(factory, person).next_due_at
    answer = post(client, link(settings, person), "settings", **settings_form(**fields))
    assert answer.status_code == 400 and says in (alert(answer.text) or "")
    assert enrolment_of(factory, person).next_due_at == before
    with factory() as session:
        assert session.scalars(select(Event).where(Event.action == "settings")).all() == []


def test_pause_until_a_date_then_resume_without_catching_up(
    client: "TestClient", settings: Settings, factory: sessionmaker[Session], clock: Clock,
    person: int
) -> None:
    token = link(settings, person)
    answer = post(client, token, "pause", until="2026-03-16")
    assert answer.headers["location"].endswith("?done=paused")
    enrolment = enrolment_of(factory, person)
    assert enrolment.state == "paused" and enrolment.next_due_at == START.replace(
        day=16, hour=18, minute=30)
    assert "Paused until Monday 16 March" in client.get(f"/manage/{token}").text
    clock.now = START + timedelta(days=3)
    assert post(client, token, "resume").headers["location"].endswith("?done=resumed")
    resumed = enrolment_of(factory, person)
    assert resumed.state == "active" and resumed.step == 0
    assert resumed.next_due_at == START.replace(day=5, hour=18, minute=30)


@pytest.mark.parametrize(("until", "says"), [
    ("2026-03-02", "Choose a date after today"),
    ("2026-06-01", "A pause can last up to 90 days"),
    ("tomorrow", "Give the date to pause until"),
])
def test_a_bad_pause_date_changes_nothing(
    client: "TestClient", settings: Settings, factory: sessionmaker[Session], person: int,
    until: str, says: str
) -> None:
    answer = post(client, link(settings, person), "pause", until=until)
    assert answer.status_code == 400 and says in (alert(answer.text) or "")
    assert enrolment_of(factory, person).state == "active"


def test_switching_focus_now_ends_the_old_programme_and_starts_the_new(
    client: "TestClient", settings: Settings, factory: sessionmaker[Session], person: int
) -> None:
    old = enrolment_of(factory, person)
    post(client, link(settings, person), "focus", focus="honesty", when="now")
    new = enrolment_of(factory, person)
    assert new.id != old.id and new.quality == "honesty" and new.state == "active"
    assert new.next_due_at == START.replace(hour=18, minute=30)
    with factory() as session:
        ended = session.get(type(old), old.id)
        assert ended is not None and ended.state == "stopped" and ended.next_due_at is None
    [goodbye] = [m for m in MemoryChannel.sent if m.to == EMAIL]
    assert "You've set trust and care aside for now" in goodbye.text
    assert "Honesty starts with a welcome" in goodbye.text


def test_switching_focus_after_waits_for_the_current_programme(
    client: "TestClient", settings: Settings, factory: sessionmaker[Session], person: int
) -> None:
    token = link(settings, person)
    answer = post(client, token, "focus", focus="honesty", when="after")
    assert answer.headers["location"].endswith("?done=focus-after")
    assert enrolment_of(factory, person).quality == "trust-and-care"
    assert "Honesty, when this one ends" in client.get(f"/manage/{token}").text
    refused = post(client, token, "focus", focus="trust-and-care", when="now")
    assert "already working on trust and care" in (alert(refused.text) or "")


def test_a_next_focus_starts_a_week_after_the_current_programme_completes(
    client: "TestClient", settings: Settings, factory: sessionmaker[Session], person: int
) -> None:
    post(client, link(settings, person), "focus", focus="honesty", when="after")
    last_day = START + timedelta(days=60)
    with factory.begin() as session:
        row = session.get(Enrolment, enrolment_of(factory, person).id)
        assert row is not None
        steps = len(session.get(ProgrammeVersion, row.version_id).definition["steps"])  # type: ignore[union-attr]
        row.step, row.next_due_at = steps - 1, last_day
    tick(settings, last_day)
    new = enrolment_of(factory, person)
    assert new.quality == "honesty" and new.state == "active"
    assert new.next_due_at == (last_day + timedelta(days=7)).replace(hour=17, minute=30), (
        "18:30 in London, a week after the closing (summer time by then)")
    with factory() as session:
        subscriber = session.get(Subscriber, person)
        assert subscriber is not None and subscriber.next_focus is None


def test_unsubscribing_from_everything_stops_the_programme(
    client: "TestClient", settings: Settings, factory: sessionmaker[Session], person: int
) -> None:
    post(client, link(settings, person), "unsubscribe", channel="all")
    assert enrolment_of(factory, person).state == "stopped"
    with factory() as session:
        subscriber = session.get(Subscriber, person)
        assert subscriber is not None and not subscriber.email_consent
        assert subscriber.email_consent_source == "manage page"
    assert tick(settings, START.replace(hour=18, minute=30))["planned"] == 0


@pytest.mark.parametrize("token", [
    "1.1772409600.forged", "x" * 300, "%00", "2.1772409600.aaaaaaaaaaaaaaaaaaaaaaaaaaa",
])
def test_forged_links_show_nothing_and_change_nothing(
    client: "TestClient", factory: sessionmaker[Session], person: int, token: str
) -> None:
    before = row_counts(factory)
    page = client.get(f"/manage/{token}")
    assert page.status_code == 404 and EMAIL not in page.text
    join_token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/manage").text)
    assert join_token
    answer = client.post(f"/manage/{token}/unsubscribe",
                         data={"csrf_token": join_token.group(1), "channel": "all"})
    assert answer.status_code == 404 and row_counts(factory) == before


def test_an_expired_link_offers_a_fresh_one_and_changes_nothing(
    client: "TestClient", settings: Settings, factory: sessionmaker[Session], clock: Clock,
    person: int
) -> None:
    token = link(settings, person)
    clock.now = START + timedelta(days=31)
    page = client.get(f"/manage/{token}")
    assert page.status_code == 410 and "Get a fresh link" in page.text
    assert EMAIL not in page.text


def test_a_confirmation_token_is_not_a_manage_link(
    client: "TestClient", settings: Settings, person: int
) -> None:
    token = make_link_token(settings.secret_key, "confirm", person, START)
    assert client.get(f"/manage/{token}").status_code == 404


def test_send_me_my_link_answers_the_same_for_any_address(
    client: "TestClient", settings: Settings, person: int
) -> None:
    def ask(address: str) -> "Response":
        found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/manage").text)
        assert found
        return client.post("/manage", data={"csrf_token": found.group(1), "address": address})

    known, unknown = ask(EMAIL), ask("nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text
    [message] = [m.text for m in MemoryChannel.sent if m.to == EMAIL]
    found = re.search(r"/manage/([^>\s]+)>", message)
    assert found and client.get(f"/manage/{found.group(1)}").status_code == 200
    assert [m for m in MemoryChannel.sent if m.to == "nobody@example.org"] == []
    bad = ask("not an address")
    assert bad.status_code == 400 and "Give the email address" in (alert(bad.text) or "")


# See my data, erase ------------------------------------------------------------------------

def test_the_data_page_and_download_show_everything_kept(
    client: "TestClient", settings: Settings, factory: sessionmaker[Session], person: int
) -> None:
    tick(settings, START.replace(hour=18, minute=30))  # the welcome goes
    token = link(settings, person)
    page = client.get(f"/manage/{token}/data")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    for title in ("Your details", "Consents", "Programmes", "Messages we sent", "Your replies"):
        assert title in page.text
    assert EMAIL in page.text and "welcome" in page.text.lower()
    download = client.get(f"/manage/{token}/data.json")
    assert download.headers["content-disposition"].startswith("attachment")
    exported = download.json()
    assert exported["format"] == "coach-export/1" and exported["profile"]["email"] == EMAIL
    assert len(exported["messages"]) == 1


def test_erasing_takes_the_page_and_then_a_link_sent_to_the_person(
    client: "TestClient", settings: Settings, factory: sessionmaker[Session], person: int
) -> None:
    token = link(settings, person)
    assert "Send me the final confirmation link" in client.get(f"/manage/{token}/erase").text
    sent = post(client, token, "erase")
    assert sent.status_code == 200 and "We've sent a final link by email" in sent.text
    assert enrolment_of(factory, person).state == "active", "nothing erased yet"
    [message] = [m.text for m in MemoryChannel.sent if m.to == EMAIL]
    found = re.search(r"/erase/([^>\s]+)>", message)
    assert found
    final = found.group(1)
    assert "Erase my data now" in client.get(f"/erase/{final}").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get(f"/erase/{final}").text)
    assert csrf
    done = client.post(f"/erase/{final}", data={"csrf_token": csrf.group(1)})
    assert done.status_code == 200 and "Your data is erased" in done.text
    with factory() as session:
        subscriber = session.get(Subscriber, person)
        assert subscriber is not None and subscriber.erased_at is not None
        assert subscriber.email is None
    assert client.get(f"/manage/{token}").status_code == 404, "the manage link is dead"
    assert "Your data is erased" in client.get(f"/erase/{final}").text
    assert tick(settings, START.replace(hour=18, minute=30))["planned"] == 0


def test_an_erase_link_expires_and_a_manage_link_cannot_erase(
    client: "TestClient", settings: Settings, factory: sessionmaker[Session], clock: Clock,
    person: int
) -> None:
    manage_token = link(settings, person)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/manage").text)
    assert csrf
    assert client.post(f"/erase/{manage_token}",
                       data={"csrf_token": csrf.group(1)}).status_code == 404
    old = make_link_token(settings.secret_key, "erase", person, START)
    clock.now = START + timedelta(hours=49)
    assert client.post(f"/erase/{old}", data={"csrf_token": csrf.group(1)}).status_code == 410
    with factory() as session:
        subscriber = session.get(Subscriber, person)
        assert subscriber is not None and subscriber.erased_at is None


def test_links_that_act_as_the_person_are_hidden_from_the_timeline(
    client: "TestClient", settings: Settings, person: int
) -> None:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/manage").text)
    assert found
    client.post("/manage", data={"csrf_token": found.group(1), "address": EMAIL})
    [message] = [m.text for m in MemoryChannel.sent if m.to == EMAIL]
    token = re.search(r"/manage/([^>\s]+)>", message)
    assert token
    page = client.get(f"/inbox/{person}").text
    assert "/manage/…" in page and token.group(1) not in page


def test_erase_links_are_capped_like_every_link_a_page_sends(
    client: "TestClient", settings: Settings, clock: Clock, person: int
) -> None:
    token = link(settings, person)
    for minute in range(3):
        clock.now = START + timedelta(minutes=minute)
        assert "We've sent a final link by email" in post(client, token, "erase").text
    clock.now = START + timedelta(minutes=3)
    capped = post(client, token, "erase")
    assert "We've already sent several links today" in capped.text
    assert len([m for m in MemoryChannel.sent if m.to == EMAIL]) == 3
