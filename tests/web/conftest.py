"""Fixtures for the web tests: the app on a clock the test moves, sending in this process.

``enqueue`` stands in for the Celery task: it records each batch of ids it is given and sends
them at once with the real sender, so a test sees both what was handed over and what went out.
"""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest
from starlette.testclient import TestClient

from coach.settings import Settings
from coach.web.app import create_app
from tests.web.browser import axe, chromium, live_app, page  # noqa: F401  (fixtures)
from tests.web.support import Clock, Enqueue

if TYPE_CHECKING:
    from starlette.testclient import TestClient


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def enqueue(settings: Settings, clock: Clock) -> Enqueue:
    return Enqueue(settings, clock)


@pytest.fixture
def make_client(settings: Settings, published: None, clock: Clock, enqueue: Enqueue
                ) -> Iterator[Callable[..., "TestClient"]]:
    """Clients on the app; redirects are not followed, so tests see every 303."""
    with ExitStack() as stack:
        def make(app_settings: Settings | None = None, **options: Any) -> "TestClient":
            app = create_app(app_settings or settings, enqueue, clock=clock, dev_inbox=True)
            return stack.enter_context(TestClient(app, follow_redirects=False, **options))

        yield make


@pytest.fixture
def client(make_client: Callable[..., "TestClient"]) -> "TestClient":
    return make_client()
