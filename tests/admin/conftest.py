"""Fixtures for the admin tests: the app on a clock the test moves, accounts, signing in."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from coach.settings import Settings
from coach.web.app import create_app
from tests.admin.support import Accounts
from tests.web.support import Clock, Enqueue


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_client(settings: Settings, clock: Clock) -> Iterator[Callable[..., TestClient]]:
    """Clients on a fresh app (redirects not followed); ``settings=`` for other settings."""
    with ExitStack() as stack:
        def make(app_settings: Settings | None = None, **options: Any) -> TestClient:
            chosen = app_settings or settings
            app = create_app(chosen, Enqueue(chosen, clock), clock=clock)
            return stack.enter_context(TestClient(app, follow_redirects=False, **options))

        yield make


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def accounts(factory: sessionmaker[Session], clock: Clock) -> Accounts:
    return Accounts(factory, clock)

