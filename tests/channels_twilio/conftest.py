"""Peers for the Twilio channel: Prism serving Twilio's API spec, and a small server of our own
for Twilio's error codes (which the spec lacks).

Prism comes from ``make peers``, the spec from ``COACH_TEST_TWILIO_SPEC`` (see
tests/support/prism.py). Missing either, the tests that need it skip with a message, and fail
in CI.
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import redis

from coach.delivery import twilio_sms
from coach.settings import Settings, get_settings
from tests.support.fake_twilio import FakeTwilio
from tests.support.ports import free_port
from tests.support.prism import PrismFailed, missing_prism, running_prism

ACCOUNT_SID = "AC" + "a" * 32  # the account in the spec's examples
AUTH_TOKEN = "0123456789abcdef" * 2
SENDER = "+15005550006"
PUBLIC_URL = "https://coach.example.org"


def need_peer(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI needs {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def prism_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prism serving Twilio's spec on a free local port, for the whole session."""
    if problem := missing_prism():
        need_peer(problem)
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    try:
        with running_prism(log, answer_within=60) as (url, _):
            yield url
    except PrismFailed as error:  # only ever raised while starting
        need_peer(str(error))


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeTwilio]:
    server = FakeTwilio()
    yield server
    server.stop()


@pytest.fixture
def fake_twilio(fake_server: FakeTwilio) -> Iterator[FakeTwilio]:
    """The error server, with no script and no requests yet."""
    fake_server.script()
    yield fake_server
    fake_server.release.set()


@pytest.fixture
def closed_port_url() -> str:
    """A local URL where nothing listens: connecting is refused."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def use_twilio(
    redis_url: str, redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Settings]]:
    """Switch this test's settings to the Twilio channel, its API at the URL given.

    Also visible to code that calls get_settings(). Waits are made short: in-call retries,
    the hold-off after them, and (when asked) the read timeout.
    """
    monkeypatch.setattr(twilio_sms, "RETRY_DELAYS", (0.01, 0.01))
    monkeypatch.setattr(twilio_sms, "HOLD_OFF", 0.0)
    redis.Redis.from_url(redis_url).delete(f"{redis_prefix}coach:send-rate:{SENDER}")
    twilio_sms.close_channels()

    def use(api_url: str, read_timeout: float = 10.0, **overrides: str) -> Settings:
        monkeypatch.setattr(twilio_sms, "READ_TIMEOUT", read_timeout)
        values = {"SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                  "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM": SENDER,
                  "TWILIO_API_URL": api_url, "PUBLIC_URL": PUBLIC_URL,
                  "RATE_LIMIT_REDIS_URL": redis_url, "REDIS_KEY_PREFIX": redis_prefix,
                  "SMS_RATE_PER_SECOND": "1000",
                  "DATA_DIR": str(tmp_path), "ENV": "test", **overrides}
        for key, value in values.items():
            monkeypatch.setenv(f"COACH_{key}", value)
        get_settings.cache_clear()
        return get_settings()

    yield use
    twilio_sms.close_channels()
    get_settings.cache_clear()


def record_requests(channel: twilio_sms.TwilioChannel) -> list[dict[str, Any]]:
    """What the channel's HTTP client sends from now on: url, auth header and form fields."""
    seen: list[dict[str, Any]] = []

    def hook(response: Any, *args: Any, **kwargs: Any) -> None:
        request = response.request
        seen.append({"url": request.url, "auth": request.headers.get("Authorization"),
                     "form": dict(parse_qsl(request.body))})

    channel.client.http_client.request_hooks["response"].append(hook)
    return seen
