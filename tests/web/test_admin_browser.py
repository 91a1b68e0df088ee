"""The admin pages in real Chromium: set a password from the one-time link, sign in, the home,
the accounts page, the audit log, sign out. Every page passes axe, fits 360 px and is
screenshot (tests/web/browser.py); the wide pages are usable at 768 px without scrolling."""

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from coach.admin.accounts import add_account, password_link
from coach.admin.second_factor import new_secret
from coach.settings import Settings
from tests.web.browser import check_page, fits, sign_in
from tests.web.support import Clock

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
EMAIL = "boss@example.org"
PASSWORD = "a long and ordinary passphrase"


def test_set_a_password_sign_in_see_home_audit_and_sign_out(
    page: "Page", live_app: str, axe: Path, factory: sessionmaker[Session], clock: Clock,
    settings: Settings,
) -> None:
    with factory.begin() as session:
        account = add_account(session, EMAIL, "admin", clock())
        add_account(session, "writer@example.org", "author", clock())
        add_account(session, "coded@example.org", "operator", clock()).totp_secret = new_secret()
        link = password_link(settings, session, account, clock())
    page.goto(live_app + link.split("8000", 1)[1])
    check_page(page, axe, "admin-set-password")
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()

    expect(page.get_by_role("status")).to_have_text("Your password is set. Sign in with it now.")
    check_page(page, axe, "admin-login")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password").fill("not it at all, sorry")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    check_page(page, axe, "admin-login-error")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("coach admin")
    nav = page.get_by_role("navigation", name="Admin pages")
    expect(nav.get_by_role("link")).to_have_text(["Home", "Accounts", "Audit log"])
    check_page(page, axe, "admin-home")

    nav.get_by_role("link", name="Accounts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Accounts")
    expect(page.get_by_role("cell", name="writer@example.org", exact=True)).to_be_visible()
    reset = page.get_by_role("button", name="Reset the second factor of coded@example.org")
    expect(reset).to_be_visible()
    check_page(page, axe, "admin-accounts")
    fits(page, 768)
    reset.click()
    expect(page.get_by_role("status")).to_contain_text("second factor is reset")
    expect(reset).to_have_count(0)
    check_page(page, axe, "admin-accounts-reset")

    nav.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    expect(page.get_by_role("cell", name="login", exact=True)).to_be_visible()
    check_page(page, axe, "admin-audit")
    fits(page, 768)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    page.goto(f"{live_app}/admin/audit")
    expect(page).to_have_url(re.compile(r"/admin/login\?next=/admin/audit$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def test_the_pages_an_author_meets_at_the_edges(
    page: "Page", live_app: str, axe: Path, factory: sessionmaker[Session], clock: Clock
) -> None:
    """The code step of sign-in, two-step setup, a page not for the role, a programme that
    does not exist, and a broken set-password link: each passes axe and fits 360 px."""
    from tests.admin.support import PASSWORD as KNOWN
    from tests.admin.support import Accounts

    accounts = Accounts(factory, clock)
    accounts.add("coded@example.org", "author", totp=True)
    accounts.add("plain@example.org", "author")
    page.goto(f"{live_app}/admin/set-password/1.1772409600.forged")
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
    check_page(page, axe, "admin-set-password-broken")

    sign_in(page, f"{live_app}/admin/login", "coded@example.org", KNOWN)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your code")
    check_page(page, axe, "admin-login-code")

    page.context.clear_cookies()
    sign_in(page, f"{live_app}/admin/login", "plain@example.org", KNOWN)
    expect(page.get_by_role("heading", level=1)).to_have_text("coach admin")
    page.goto(f"{live_app}/admin/two-step")
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-step sign-in")
    check_page(page, axe, "admin-two-step")
    page.goto(f"{live_app}/admin/accounts")
    expect(page.get_by_role("heading", level=1)).to_have_text("This page is not for your role")
    check_page(page, axe, "admin-forbidden")
    page.goto(f"{live_app}/admin/programmes/nope/draft")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    check_page(page, axe, "admin-not-found")
