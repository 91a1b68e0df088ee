"""Authoring in real Chromium: sign in as a publisher, start a draft of a built-in programme,
edit a step with a mistake and see it at its field, fix it and watch the preview's segment
count change; then the audit log (as an admin) shows all of it. Axe and screenshots at each
page (tests/web/browser.py)."""

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from tests.admin.support import PASSWORD, Accounts
from tests.web.browser import check_page, sign_in
from tests.web.support import Clock

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
LONG_SMS = ("Welcome, {{ name }}. This week, notice one moment when you say yes but mean no. "
            "No need to change it yet: just notice it, kindly, and let it pass. "
            "Reply PAUSE any time.")


def signed_in(page: "Page", live_app: str, email: str) -> None:
    sign_in(page, f"{live_app}/admin/login", email, PASSWORD)
    expect(page.get_by_text(f"You are signed in as {email}")).to_be_visible()


def test_an_author_edits_a_step_sees_the_mistake_fixes_it_and_the_audit_shows_it(
    page: "Page", live_app: str, axe: Path, factory: sessionmaker[Session], clock: Clock
) -> None:
    accounts = Accounts(factory, clock)
    accounts.add("pat@example.org", "publisher")
    accounts.add("root@example.org", "admin")
    signed_in(page, live_app, "pat@example.org")

    page.get_by_role("link", name="Programmes").first.click()
    expect(page.get_by_role("heading", name="Programmes")).to_be_visible()
    check_page(page, axe, "admin-programmes")
    page.get_by_role("row", name=re.compile("honesty")).get_by_role(
        "button", name="Start a draft").click()
    expect(page.get_by_role("status")).to_contain_text("Draft created")
    check_page(page, axe, "admin-draft")

    page.get_by_role("link", name="welcome", exact=True).first.click()
    expect(page.get_by_role("heading", name="Step welcome")).to_be_visible()
    before = page.locator("#sms-step + .facts").inner_text()
    assert "1 segment" in before or "2 segments" in before
    check_page(page, axe, "admin-step")

    page.get_by_label("SMS", exact=True).fill("Hi {{ name }")
    page.get_by_role("button", name="Save step").click()
    expect(page.locator("#problem-sms-1")).to_contain_text("template syntax")
    expect(page.get_by_label("SMS", exact=True)).to_have_attribute("aria-invalid", "true")
    check_page(page, axe, "admin-step-problem")

    page.get_by_label("SMS", exact=True).fill(LONG_SMS)  # the preview follows, unsaved
    expect(page.locator("#sms-step")).to_contain_text("Welcome, Sam. This week")
    expect(page.locator("#autosave")).to_contain_text("Saved as revision 3")  # then autosaved
    page.get_by_role("button", name="Save step").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    expect(page.locator("#problem-sms-1")).to_have_count(0)
    page.get_by_label("Name", exact=True).fill("Robin")
    page.get_by_role("button", name="Show the preview").click()
    expect(page.locator("#sms-step")).to_contain_text("Welcome, Robin. This week")
    expect(page.locator("#sms-step + .facts")).to_contain_text("GSM-7, 2 segments")

    page.get_by_role("button", name="Sign out").click()
    signed_in(page, live_app, "root@example.org")
    page.get_by_role("link", name="Audit log").first.click()
    for action in ("draft.create", "draft.saved"):
        expect(page.get_by_role("cell", name=action).first).to_be_visible()
    check_page(page, axe, "admin-audit-authoring")
