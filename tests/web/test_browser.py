"""The dev inbox in a real browser (see tests/web/browser.py). Only the SQLite variant runs:
the browser exercises the pages, not the database."""

import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from coach.settings import Settings
from tests.conftest import START
from tests.helpers import deliveries, tick
from tests.web.browser import check_page
from tests.web.support import Clock, Enqueue, enrolment_of, row_counts

if TYPE_CHECKING:
    from playwright.sync_api import Page

PHONE = "+447911123456"

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_add_a_person_read_their_welcome_and_pause_them(
    page: "Page", live_app: str, settings: Settings, factory: sessionmaker[Session],
    clock: Clock, enqueue: Enqueue, axe: Path
) -> None:
    page.goto(f"{live_app}/")
    expect(page.get_by_text("Nobody yet")).to_be_visible()

    page.get_by_label("Name", exact=True).fill("Robin")
    page.get_by_label("Phone", exact=True).fill(PHONE)
    page.get_by_label("Focus").select_option("honesty")
    page.get_by_label("Time zone", exact=True).fill("Europe/London")
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_url(re.compile(r"/inbox/\d+$"))
    subscriber_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_role("heading", name=re.compile("^Robin"))).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)

    welcome_at = enrolment_of(factory, subscriber_id).next_due_at
    assert welcome_at == START.replace(hour=18), "18:00 in London, UTC in early March"
    tick(settings, welcome_at)
    page.reload()
    sent = page.locator("tr.kind-sent pre.msg")
    expect(sent).to_have_count(1)
    expect(sent).to_contain_text("Hi Robin, welcome to Honesty.")
    expect(sent).to_contain_text("This is coaching, not therapy")

    clock.now = welcome_at + timedelta(minutes=10)
    page.get_by_label("Answer as this person").fill("PAUSE 3")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator("tr.kind-reply pre.msg")).to_have_text("PAUSE 3")
    expect(sent).to_have_count(2)
    expect(sent.first).to_contain_text(  # newest first
        "Paused. You'll hear from us again after Thursday 5 March.")
    expect(page.locator("tr.kind-decision pre.msg", has_text="pause")).to_have_count(1)
    expect(page.get_by_role("alert")).to_have_count(0)

    check_page(page, axe, "dev-inbox-person")

    [[paused_ack]] = enqueue.batches
    assert [d.status for d in deliveries(factory, subscriber_id) if d.id == paused_ack] == ["sent"]
    assert enrolment_of(factory, subscriber_id).state == "paused"


def test_a_bad_phone_number_is_explained_on_the_page(
    page: "Page", live_app: str, factory: sessionmaker[Session]
) -> None:
    page.goto(f"{live_app}/")
    page.get_by_label("Phone", exact=True).fill("+44 12")
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_url(re.compile(r"/subscribers$"))  # the answer is the page, not a redirect
    expect(page.get_by_role("alert")).to_contain_text("'+44 12' is not a valid phone number")
    expect(page.get_by_text("Nobody yet")).to_be_visible()
    assert row_counts(factory)["subscribers"] == 0
