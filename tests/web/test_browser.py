"""The dev inbox in a real browser: Debian's Chromium, driven by Playwright, on a live uvicorn.

Only the SQLite variant runs: the browser exercises the pages, not the database. Playwright
never downloads a browser here; without /usr/bin/chromium the test skips (or fails in CI).
"""

import os
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from coach.settings import Settings
from coach.web.app import create_app
from tests.conftest import START
from tests.helpers import deliveries, tick
from tests.web.support import Clock, Enqueue, enrolment_of, row_counts

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = "+447911123456"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium; skips by hand without it, fails in CI, where it must be installed."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing; install Debian's chromium (make browser)"
        if os.environ.get("CI"):
            pytest.fail(f"CI needs {message}", pytrace=False)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
def live_app(settings: Settings, published: None, clock: Clock, enqueue: Enqueue
             ) -> Iterator[str]:
    """The app on uvicorn in a background thread, on a free 127.0.0.1 port; yields its URL."""
    app = create_app(settings, enqueue, clock=clock, dev_inbox=True)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="off", ws="none"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout=5)
            pytest.fail("uvicorn did not start", pytrace=False)
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        assert not thread.is_alive(), "uvicorn did not stop"


@pytest.fixture
def page(chromium: Path) -> "Iterator[Page]":
    """A fresh page in headless Chromium, closed with the browser after the test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            yield page
        finally:
            browser.close()


def test_add_a_person_read_their_welcome_and_pause_them(
    page: "Page", live_app: str, settings: Settings, factory: sessionmaker[Session],
    clock: Clock, enqueue: Enqueue, tmp_path: Path
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

    screenshot = tmp_path / "person.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.stat().st_size > len(PNG_SIGNATURE)
    assert screenshot.read_bytes().startswith(PNG_SIGNATURE)
    page.set_viewport_size({"width": 360, "height": 740})  # a small phone
    page.screenshot(path=tmp_path / "person-360.png", full_page=True)
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 360, f"the page needs {wide} px: it scrolls sideways on a phone"

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
