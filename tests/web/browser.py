"""Real Chromium for the page tests: Debian's browser driven by Playwright, on a live uvicorn.

Every page a test opens can be checked the same way (:func:`check_page`): axe-core finds no
serious or critical accessibility violation, the page fits a 360 px phone without scrolling
sideways, and screenshots at 1280 and 360 px are written under ``test-artifacts/screenshots/``
for a person to open. The browser may not fetch anything from another origin: a page that
asks for a CDN fails its test. Playwright never downloads a browser here; without
/usr/bin/chromium the tests skip (or fail in CI), as does axe-core (``make peers``).
"""

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn

from coach.settings import PROJECT_ROOT, Settings
from coach.web.app import create_app
from tests.web.support import Clock, Enqueue

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE = PROJECT_ROOT / ".peers" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SERIOUS = ("serious", "critical")
BROWSER_ZONE = "Europe/Madrid"


def _needed(path: Path, what: str) -> Path:
    if not path.exists():
        message = f"{path} is missing; {what}"
        if os.environ.get("CI"):
            pytest.fail(f"CI needs {message}", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture
def chromium() -> Path:
    return _needed(CHROMIUM, "install Debian's chromium (make browser)")


@pytest.fixture
def axe() -> Path:
    return _needed(AXE, "install axe-core (make peers)")


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
def page(chromium: Path, live_app: str) -> "Iterator[Page]":
    """A fresh page in headless Chromium that may only talk to the app."""
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            # A zone of its own, so the sign-up page's detection is seen to work.
            page = browser.new_page(timezone_id=BROWSER_ZONE)
            page.set_default_timeout(10_000)
            page.route("**/*", lambda route: (
                route.continue_() if route.request.url.startswith((live_app, "data:"))
                else (outside.append(route.request.url), route.abort())[1]))
            yield page
        finally:
            browser.close()
    assert outside == [], f"the page asked for outside resources: {outside}"


def fits(page: "Page", width: int) -> None:
    size = page.viewport_size
    page.set_viewport_size({"width": width, "height": 900})
    needed = page.evaluate("document.documentElement.scrollWidth")
    if size:
        page.set_viewport_size(size)
    assert needed <= width, f"{page.url} needs {needed} px at {width}"


def sign_in(page: "Page", login_url: str, email: str, password: str) -> None:
    """Fill the admin sign-in form as a person would, and send it."""
    page.goto(login_url)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def check_page(page: "Page", axe: Path, name: str) -> list[Path]:
    """Axe, the 360 px fit and screenshots for the page as it is now; returns the images."""
    page.add_script_tag(path=str(axe))
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [f"{v['id']} ({v['impact']}): {v['help']} at "
               f"{[n['target'] for n in v['nodes']][:3]}"
               for v in results["violations"] if v["impact"] in SERIOUS]
    assert serious == [], f"{name}: accessibility violations:\n" + "\n".join(serious)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or {"width": 1280, "height": 720}
    wide, narrow = SCREENSHOTS / f"{name}-1280.png", SCREENSHOTS / f"{name}-360.png"
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=wide, full_page=True)
    page.set_viewport_size({"width": 360, "height": 740})  # a small phone
    page.screenshot(path=narrow, full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size(size)
    assert width <= 360, f"{name} needs {width} px: it scrolls sideways on a phone"
    for image in (wide, narrow):
        assert image.read_bytes().startswith(PNG_SIGNATURE), image
    return [wide, narrow]
