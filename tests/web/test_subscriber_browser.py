"""The subscriber's pages in real Chromium: sign up, confirm, manage; with and without
JavaScript. Every page passes axe, fits 360 px and is screenshot (see tests/web/browser.py)."""

import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from coach.delivery.channels import MemoryChannel
from coach.settings import Settings
from coach.subscribers.links import make_link_token
from tests.conftest import START
from tests.helpers import enrol
from tests.web.browser import BROWSER_ZONE, check_page
from tests.web.support import Clock, enrolment_of, row_counts

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
EMAIL = "robin@example.org"


def link_sent_to(address: str, kind: str) -> str:
    texts = [m.text for m in MemoryChannel.sent if m.to == address and f"/{kind}/" in m.text]
    assert texts, f"no {kind} link was sent to the address"
    found = re.search(rf"(https?://[^\s>]+/{kind}/[^\s>]+)", texts[-1])
    assert found
    return found.group(1)


def test_sign_up_confirm_and_manage_in_the_browser(
    page: "Page", live_app: str, axe: Path, factory: sessionmaker[Session], clock: Clock
) -> None:
    page.goto(f"{live_app}/join")
    expect(page.get_by_role("heading", level=1)).to_contain_text("One relationship habit")
    expect(page.get_by_label("Time zone")).to_have_value(BROWSER_ZONE)  # detected by script
    check_page(page, axe, "join")

    page.get_by_role("radio", name=re.compile(r"^Honesty")).check()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Name (optional)").fill("Robin")
    page.get_by_label("Preferred time of day").fill("07:45")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your messages")).to_be_visible()
    check_page(page, axe, "join-sent")
    assert row_counts(factory)["enrolments"] == 0

    clock.now = START + timedelta(hours=1)  # 11:00 in Madrid
    page.goto(link_sent_to(EMAIL, "confirm").replace("http://127.0.0.1:8000", live_app))
    check_page(page, axe, "confirm")
    page.get_by_role("button", name="Yes, start my programme").click()
    expect(page.get_by_role("heading", name="You're in")).to_be_visible()
    expect(page.get_by_text("Your next message: Monday 2 March, 11:00, by email")).to_be_visible()
    check_page(page, axe, "confirmed")

    page.get_by_role("link", name="Manage your subscription").click()
    expect(page.get_by_role("heading", name="Your subscription, Robin")).to_be_visible()
    check_page(page, axe, "manage")
    page.get_by_label("Preferred time of day").fill("19:15")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    # The welcome was due at once and no sweep has run yet: it moves to the new time too.
    expect(page.get_by_text("Monday 2 March, 19:15, by email")).to_be_visible()

    page.get_by_label("Pause until").fill("2026-03-20")
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("status")).to_contain_text("Paused.")
    expect(page.get_by_text("Paused until Friday 20 March")).to_be_visible()
    check_page(page, axe, "manage-paused")
    subscriber_id = enrolment_of_email(factory)
    assert enrolment_of(factory, subscriber_id).state == "paused"

    page.get_by_role("link", name="See everything coach keeps about you").click()
    expect(page.get_by_role("heading", name="Everything coach keeps about you")).to_be_visible()
    check_page(page, axe, "my-data")
    page.get_by_role("link", name="back to your subscription").click()
    page.get_by_role("link", name="Erase your data").click()
    check_page(page, axe, "erase-ask")
    page.get_by_role("button", name="Send me the final confirmation link").click()
    expect(page.get_by_role("heading", name="Check your messages")).to_be_visible()
    check_page(page, axe, "erase-sent")
    page.goto(link_sent_to(EMAIL, "erase").replace("http://127.0.0.1:8000", live_app))
    check_page(page, axe, "erase-final")
    page.get_by_role("button", name="Erase my data now").click()
    expect(page.get_by_role("heading", name="Your data is erased")).to_be_visible()
    check_page(page, axe, "erased")


def test_the_pages_work_without_javascript(
    page: "Page", live_app: str, factory: sessionmaker[Session]
) -> None:
    assert page.context.browser is not None
    context = page.context.browser.new_context(java_script_enabled=False)
    plain = context.new_page()
    plain.goto(f"{live_app}/join/choose")
    plain.get_by_label("I say what keeps the peace, not what I think").check()
    plain.get_by_label("Being real with people").check()
    plain.get_by_role("button", name="Suggest a focus").click()
    plain.get_by_role("link", name="Sign up with honesty").click()
    expect(plain.get_by_role("radio", name=re.compile(r"^Honesty"))).to_be_checked()
    expect(plain.get_by_label("Time zone")).to_have_value("")  # nothing detects it
    plain.get_by_label("Mobile number").fill("+44 7911 123456")
    plain.get_by_role("button", name="Sign up").click()
    expect(plain.get_by_role("alert")).to_contain_text("Choose your time zone")
    expect(plain.get_by_label("Mobile number")).to_have_value("+44 7911 123456")
    plain.get_by_label("Time zone").select_option("Europe/London")
    plain.get_by_role("button", name="Sign up").click()
    expect(plain.get_by_role("heading", name="Check your messages")).to_be_visible()
    assert [m.to for m in MemoryChannel.sent] == ["+447911123456"]
    context.close()


def test_expired_and_forged_links_and_the_link_form(
    page: "Page", live_app: str, axe: Path, settings: Settings,
    factory: sessionmaker[Session], clock: Clock
) -> None:
    subscriber_id = enrol(factory, START, email=EMAIL)
    token = make_link_token(settings.secret_key, "manage", subscriber_id, START)
    clock.now = START + timedelta(days=40)
    page.goto(f"{live_app}/manage/{token}")
    expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()
    check_page(page, axe, "manage-expired")
    page.goto(f"{live_app}/manage/{token[:-3]}abc")
    expect(page.get_by_role("heading", name="This link doesn't work")).to_be_visible()
    check_page(page, axe, "link-invalid")
    page.get_by_role("link", name="Get a fresh link").click()
    check_page(page, axe, "send-link")
    page.get_by_label("Email address or mobile number").fill(EMAIL)
    page.get_by_role("button", name="Send me my link").click()
    expect(page.get_by_role("status")).to_contain_text("If that address subscribes")
    page.goto(link_sent_to(EMAIL, "manage").replace("http://127.0.0.1:8000", live_app))
    expect(page.get_by_role("heading", name="Your subscription")).to_be_visible()
    page.goto(f"{live_app}/join/choose?hard=honesty&more=honesty&step=trust-and-care")
    expect(page.get_by_role("status")).to_contain_text("You might start with honesty")
    check_page(page, axe, "join-choose")


def enrolment_of_email(factory: sessionmaker[Session]) -> int:
    from sqlalchemy import select

    from coach.subscribers.models import Subscriber

    with factory() as session:
        found = session.scalar(select(Subscriber.id).where(Subscriber.email == EMAIL))
    assert found is not None
    return found
