"""Fixtures for Twilio's webhooks: settings with an auth token and a public URL, a client,
and requests signed the way Twilio signs them (RequestValidator, never patched away).

The public URL is not the test client's own address (``http://testserver``), so every signed
request here is also the proxy case: Twilio signs the URL it called, not the one we are served on.
"""

import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from coach.settings import Settings, get_settings
from coach.web.app import create_app
from tests.web.support import Clock

if TYPE_CHECKING:
    from httpx2 import Response

AUTH_TOKEN = "f00dfeedf00dfeedf00dfeedf00dfeed"
PUBLIC_URL = "https://coach.example.org"
PHONE = "+447911123456"  # a valid UK mobile number: its time zone is Europe/London


@pytest.fixture
def settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("COACH_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("COACH_PUBLIC_URL", PUBLIC_URL)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@dataclass
class Enqueued:
    """What the app handed to the workers: answers given in TwiML must never be here."""

    batches: list[list[int]] = field(default_factory=list)

    def __call__(self, ids: list[int]) -> None:
        self.batches.append(list(ids))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def enqueued() -> Enqueued:
    return Enqueued()


@pytest.fixture
def client(settings: Settings, published: None, clock: Clock, enqueued: Enqueued
           ) -> Iterator[TestClient]:
    with TestClient(create_app(settings, enqueued, clock=clock)) as test_client:
        yield test_client


@dataclass
class Twilio:
    """Posts to our webhooks as Twilio does: form fields, signed over the public URL."""

    client: TestClient
    token: str = AUTH_TOKEN
    public_url: str = PUBLIC_URL
    count: int = 0

    def post(self, path: str, params: dict[str, str], signature: str | None = None,
             sign_url: str | None = None) -> "Response":
        url = sign_url or self.public_url + path
        if signature is None:
            signature = RequestValidator(self.token).compute_signature(url, params)
        headers = {"X-Twilio-Signature": signature} if signature else {}
        return self.client.post(path, data=params, headers=headers)

    def text(self, body: str, sender: str = PHONE, sid: str | None = None,
             **extra: str) -> "Response":
        """An inbound SMS; each gets a new MessageSid unless one is given."""
        self.count += 1
        params = {"From": sender, "To": "+15005550006", "Body": body, "NumSegments": "1",
                  "MessageSid": sid or f"SM{self.count:032x}", "AccountSid": "AC" + "a" * 32,
                  **extra}
        return self.post("/hooks/twilio/sms", params)

    def status(self, sid: str, status: str, delivery: int | None = None,
               **extra: str) -> "Response":
        path = "/hooks/twilio/status" + (f"?delivery={delivery}" if delivery else "")
        return self.post(path, {"MessageSid": sid, "MessageStatus": status,
                                "AccountSid": "AC" + "a" * 32, **extra})


@pytest.fixture
def twilio(client: TestClient) -> Twilio:
    return Twilio(client)


def messages(response: "Response") -> list[str]:
    """The texts of the <Message> elements in a TwiML answer."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    root = ElementTree.fromstring(response.text)
    assert root.tag == "Response"
    return [element.text or "" for element in root.findall("Message")]
