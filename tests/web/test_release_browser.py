"""A publisher's release pages in real Chromium: walk the schedule, publish a draft of the
honesty programme, the version history, the diff, import and migrate. Every page passes axe,
is screenshot at 1280 and 360 px (tests/web/browser.py) and is usable at 768 px."""

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from coach.admin.models import AdminAccount
from coach.admin.passwords import hash_password
from coach.programmes.drafts import create_from_version, save
from coach.programmes.edits import edit_step
from coach.programmes.releases import find_version
from tests.web.browser import check_page, fits, sign_in
from tests.web.support import Clock

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
EMAIL = "pat@example.org"
PASSWORD = "a long and ordinary passphrase"
BASE = "/admin/programmes/honesty"


def _publisher_and_draft(factory: sessionmaker[Session], clock: Clock) -> None:
    with factory.begin() as session:
        session.add(AdminAccount(email=EMAIL, role="publisher", created_at=clock(),
                                 password_hash=hash_password(PASSWORD)))
        draft = create_from_version(session, find_version(session, "honesty", 1), EMAIL,
                                    clock())
        files = edit_step(draft.files, "w1-reflect",
                          {"sms": "Hi {{ name }}. Notice one small true thing you said today."})
        save(session, "honesty", files, draft.revision, EMAIL, clock())


def test_walk_publish_versions_and_diff(page: "Page", live_app: str, axe: Path,
                                        factory: sessionmaker[Session], clock: Clock) -> None:
    _publisher_and_draft(factory, clock)
    sign_in(page, f"{live_app}/admin/login?next={BASE}/walk", EMAIL, PASSWORD)

    expect(page.get_by_role("heading", level=1)).to_have_text("Walk the schedule")
    page.get_by_label("Time zone").select_option("America/New_York")
    page.get_by_label("Start date").fill("2026-03-02")
    page.get_by_role("button", name="Walk").click()
    expect(page.get_by_role("heading", level=2)).to_have_text([
        "Someone who answers 4 every week", "Someone who answers 2 every week",
        "Someone who never answers"])
    expect(page.get_by_text("times in America/New_York")).to_be_visible()
    check_page(page, axe, "release-walk")
    fits(page, 768)

    page.get_by_role("link", name="Publish", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Publish the draft")
    expect(page.get_by_text("Notice one small true thing").first).to_be_visible()
    check_page(page, axe, "release-publish")
    fits(page, 768)
    page.get_by_role("button", name="Publish revision 2").click()  # no note: the browser asks
    expect(page.get_by_role("heading", level=1)).to_have_text("Publish the draft")
    page.get_by_label("Note (required)").fill("A plainer first reflection")
    page.get_by_role("button", name="Publish revision 2").click()
    expect(page.get_by_role("status")).to_contain_text("Published as version 2")
    check_page(page, axe, "release-published")

    page.get_by_role("link", name="Versions", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Versions")
    expect(page.get_by_role("cell", name="A plainer first reflection")).to_be_visible()
    check_page(page, axe, "release-versions")
    fits(page, 768)

    page.get_by_role("link", name="Compare with version 2").click()
    expect(page.get_by_role("heading", level=2)).to_have_text("Version 1 → version 2")
    expect(page.get_by_role("rowheader", name="sms", exact=True)).to_be_visible()
    check_page(page, axe, "release-diff")
    fits(page, 768)

    page.get_by_role("link", name="Migrate people").click()
    page.get_by_role("button", name="Dry run").click()
    expect(page.get_by_role("heading", level=2)).to_contain_text("Dry run: 0 people")
    check_page(page, axe, "release-migrate")

    page.get_by_role("link", name="Import a zip").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import a zip as the draft")
    check_page(page, axe, "release-import")
