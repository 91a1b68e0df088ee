"""X-Twilio-Signature: Twilio's documented example as a fixed vector, and every way a request
can fail to be Twilio's, each refused with 403 and no row gained or lost."""

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from coach.settings import Settings
from coach.web.app import create_app
from coach.web.hooks_twilio import signed
from tests.hooks_twilio.conftest import AUTH_TOKEN, PUBLIC_URL, Twilio, messages
from tests.web.support import row_counts

# Twilio's documented example (shared/peers/README.md).
EXAMPLE_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
EXAMPLE_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
                  "From": "+12349013030", "To": "+18005551212"}
EXAMPLE_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def _request(path: str, query: bytes, signature: str) -> Request:
    """A request as our server sees it behind a proxy: another host, plain http."""
    return Request({"type": "http", "method": "POST", "path": path, "query_string": query,
                    "scheme": "http", "server": ("10.0.0.7", 8000),
                    "headers": [(b"host", b"10.0.0.7:8000"),
                                (b"x-twilio-signature", signature.encode())]})


def test_twilios_documented_example_signs_to_its_published_signature():
    validator = RequestValidator("12345")
    assert validator.compute_signature(EXAMPLE_URL, EXAMPLE_PARAMS) == EXAMPLE_SIGNATURE
    assert validator.validate(EXAMPLE_URL, EXAMPLE_PARAMS, EXAMPLE_SIGNATURE)


def test_our_check_rebuilds_the_url_twilio_signed_from_the_public_url():
    settings = Settings(public_url="https://mycompany.com", twilio_auth_token="12345")
    form = FormData(EXAMPLE_PARAMS)
    assert signed(settings, _request("/myapp.php", b"foo=1&bar=2", EXAMPLE_SIGNATURE), form)
    assert not signed(settings, _request("/myapp.php", b"foo=1&bar=3", EXAMPLE_SIGNATURE), form)
    assert not signed(settings, _request("/myapp.php", b"foo=1&bar=2", EXAMPLE_SIGNATURE),
                      FormData({**EXAMPLE_PARAMS, "Digits": "1235"}))
    other = settings.model_copy(update={"public_url": "https://mycompany.com:443/"})
    assert signed(other, _request("/myapp.php", b"foo=1&bar=2", EXAMPLE_SIGNATURE), form)


def test_a_signed_text_through_a_proxy_is_accepted(twilio, factory):
    """The client calls http://testserver; Twilio signed https://coach.example.org."""
    assert twilio.client.base_url.host != "coach.example.org"
    response = twilio.text("hello")
    assert response.status_code == 200 and messages(response) != []


def test_a_proxy_that_strips_a_path_prefix_still_validates(settings, published, clock, enqueued):
    behind = settings.model_copy(update={"public_url": "https://example.net/coach/"})
    with TestClient(create_app(behind, enqueued, clock=clock)) as client:
        twilio = Twilio(client, public_url="https://example.net/coach")
        assert twilio.text("JOIN").status_code == 200


def _refused(twilio: Twilio, factory, **post) -> None:
    before = row_counts(factory)
    params = {"From": "+447911123456", "Body": "JOIN", "MessageSid": "SM" + "1" * 32}
    response = twilio.post("/hooks/twilio/sms", params, **post)
    assert response.status_code == 403, response.text
    assert row_counts(factory) == before


def test_a_missing_signature_is_refused_and_nothing_is_stored(twilio, factory):
    _refused(twilio, factory, signature="")


def test_a_signature_made_with_another_token_is_refused(twilio, factory):
    forged = RequestValidator("not-" + AUTH_TOKEN).compute_signature(
        PUBLIC_URL + "/hooks/twilio/sms",
        {"From": "+447911123456", "Body": "JOIN", "MessageSid": "SM" + "1" * 32})
    _refused(twilio, factory, signature=forged)


def test_a_signature_over_other_fields_is_refused(twilio, factory):
    tampered = RequestValidator(AUTH_TOKEN).compute_signature(
        PUBLIC_URL + "/hooks/twilio/sms",
        {"From": "+447911123456", "Body": "HELLO", "MessageSid": "SM" + "1" * 32})
    _refused(twilio, factory, signature=tampered)


def test_a_signature_over_the_servers_own_url_is_refused(twilio, factory):
    """Only the public URL counts: the Host header a client sends is not trusted."""
    _refused(twilio, factory, sign_url="http://testserver/hooks/twilio/sms")


def test_status_callbacks_are_checked_the_same_way(twilio, factory):
    before = row_counts(factory)
    response = twilio.post("/hooks/twilio/status?delivery=1",
                           {"MessageSid": "SM" + "2" * 32, "MessageStatus": "delivered"},
                           sign_url=PUBLIC_URL + "/hooks/twilio/status?delivery=2")
    assert response.status_code == 403 and row_counts(factory) == before


def test_without_an_auth_token_nothing_is_accepted(settings, published, clock, enqueued, factory):
    """An empty token would let anyone sign: with none configured, every request is refused."""
    unconfigured = settings.model_copy(update={"twilio_auth_token": ""})
    with TestClient(create_app(unconfigured, enqueued, clock=clock)) as client:
        _refused(Twilio(client, token=""), factory)
