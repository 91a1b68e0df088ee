"""Tokens and ids from outside are parsed strictly: a Unicode digit, a 5,000-digit id or an id
beyond any column is "not ours", never a 500, in reply and unsubscribe tokens and in the
delivery id of Twilio's status callback."""

from collections.abc import Iterator

import pytest
from starlette.datastructures import FormData
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from coach.settings import Settings, get_settings
from coach.subscribers.tokens import make_token, parse_id, read_token
from coach.web.app import create_app
from coach.web.hooks_twilio import _callback
from tests.web.support import Clock, Enqueue

SECRET = "a-secret-for-token-tests"
AUTH_TOKEN = "f00dfeedf00dfeedf00dfeedf00dfeed"
PUBLIC_URL = "https://coach.example.org"
HOSTILE_IDS = ["²", "١٢", "1²", "9" * 5000, "2147483648", "99999999999", "-1", "+1", " 1",
               "1\n", "0x1", "", "1_000"]


@pytest.mark.parametrize("number", HOSTILE_IDS)
def test_a_hostile_id_is_no_id(number: str) -> None:
    assert parse_id(number) is None


@pytest.mark.parametrize("number", HOSTILE_IDS)
@pytest.mark.parametrize("purpose", ["reply", "unsubscribe"])
def test_a_token_with_a_hostile_id_is_not_ours(number: str, purpose: str) -> None:
    assert read_token(SECRET, f"{number}-0123456789abcdef", purpose) is None


@pytest.mark.parametrize("digest", ["0123456789abcdeg", "0123456789abcde", "0123456789abcdef0",
                                    "０123456789abcdef", "0123456789abcde\n"])
def test_a_token_with_a_malformed_digest_is_not_ours(digest: str) -> None:
    assert read_token(SECRET, f"7-{digest}", "reply") is None


def test_ids_up_to_the_column_width_still_work() -> None:
    for number in (0, 7, 2**31 - 1):
        assert parse_id(str(number)) == number
        assert read_token(SECRET, make_token(SECRET, number, "reply"), "reply") == number
    assert read_token(SECRET, make_token(SECRET, 7, "reply").upper(), "reply") == 7


@pytest.mark.parametrize("delivery", ["²", "9" * 5000, "2147483648"])
def test_the_status_callback_ignores_a_hostile_delivery_id(delivery: str) -> None:
    form = FormData({"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"})
    assert _callback(form, delivery).delivery_id is None
    assert _callback(form, "12").delivery_id == 12


@pytest.fixture
def web(settings: Settings, published: None, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[TestClient]:
    monkeypatch.setenv("COACH_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("COACH_PUBLIC_URL", PUBLIC_URL)
    get_settings.cache_clear()
    configured = get_settings()
    clock = Clock()
    with TestClient(create_app(configured, Enqueue(configured, clock), clock=clock)) as client:
        yield client
    get_settings.cache_clear()


@pytest.mark.parametrize("number", ["²", "9" * 5000])
def test_an_unsubscribe_link_with_a_hostile_id_is_a_404(web: TestClient, number: str) -> None:
    path = f"/unsubscribe/{number}-0123456789abcdef"
    assert web.get(path).status_code == 404
    assert web.post(path, content=b"List-Unsubscribe=One-Click").status_code == 404


def test_a_signed_status_callback_with_a_hostile_delivery_id_is_taken(web: TestClient) -> None:
    path = "/hooks/twilio/status?delivery=%C2%B2"
    params = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + path, params)
    response = web.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 204
