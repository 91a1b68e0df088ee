"""Hypothesis properties of the parsers of outside input that are not email (the email parser
has its own, with tokens, in test_email_properties.py): addresses, reply text and Twilio's forms.
Whatever a stranger sends, each says what it is or refuses it cleanly; none raises."""

import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from coach.inbound.understanding import CONTEXTS, INTENTS, RISKS, understand
from coach.programmes.echo import MAX_ANSWER, plain_words
from coach.programmes.render import sms_segments
from coach.settings import Settings
from coach.subscribers.addresses import BadAddress, channel_and_address, normalize_email
from coach.web.app import create_app
from tests.hooks_twilio.conftest import AUTH_TOKEN, PUBLIC_URL, Enqueued
from tests.web.support import Clock

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# Text as people and strangers send it: any character, including controls and surrogates'
# neighbours, and the characters phone numbers and addresses are made of.
ANY_TEXT = st.text(max_size=300)
ADDRESS_LIKE = st.text(alphabet="+0123456789 ()-.x;=ext@abc.ü²٣", max_size=40)
FAST = settings(max_examples=200, deadline=None)


@FAST
@given(st.one_of(ANY_TEXT, ADDRESS_LIKE))
def test_an_address_is_normalised_or_refused_and_normalising_twice_changes_nothing(value):
    try:
        channel, address = channel_and_address(value)
    except BadAddress:
        return
    assert channel_and_address(address) == (channel, address)
    if channel == "sms":
        assert E164.fullmatch(address)
    else:
        assert address == address.lower() and normalize_email(address) == address


@FAST
@given(ANY_TEXT, st.sampled_from(CONTEXTS), st.sampled_from(["en", "es"]))
def test_reply_text_always_has_one_meaning_and_the_same_one_every_time(text, context, language):
    read = understand(text, context, language)
    assert read.intent in INTENTS and read.risk in RISKS
    assert (read.category is None) == (read.risk == "none")
    assert understand(text, context, language) == read
    if len(text.strip()) >= 12:
        assert not any(text.strip() in reason for reason in read.reasons), \
            "reasons never carry a person's words"


@FAST
@given(ANY_TEXT)
def test_a_saved_answer_is_bounded_and_in_plain_punctuation(text):
    saved = plain_words(text)
    assert len(saved) <= MAX_ANSWER
    assert not set(saved) & set("‘’“”")
    assert plain_words(saved) == saved
    assert sms_segments(saved or "x")[1] == "GSM-7", "an echo never turns a text into UCS-2"


FIELDS = st.dictionaries(
    st.sampled_from(["From", "Body", "MessageSid", "OptOutType", "To", "NumSegments",
                     "MessageStatus", "ErrorCode", "SmsSid", "X"]),
    st.text(max_size=80), max_size=8)


@pytest.fixture
def twilio_client(settings: Settings, published: None) -> Iterator[TestClient]:
    signed = settings.model_copy(update={"twilio_auth_token": AUTH_TOKEN,
                                         "public_url": PUBLIC_URL})
    with TestClient(create_app(signed, Enqueued(), clock=Clock()),
                    raise_server_exceptions=False) as client:
        yield client


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=FIELDS, path=st.sampled_from(["/hooks/twilio/sms", "/hooks/twilio/status",
                                          "/hooks/twilio/status?delivery=²",
                                          "/hooks/twilio/status?delivery=1"]))
def test_any_signed_twilio_form_is_answered_never_a_server_error(twilio_client, form, path):
    clean = {k: v.replace("\x00", "") for k, v in form.items()}  # forms cannot carry NUL
    sent_as = quote(path, safe="/?=&")  # Twilio signs the URL it requested, percent-encoded
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + sent_as, clean)
    response = twilio_client.post(path, data=clean, headers={"X-Twilio-Signature": signature})
    assert response.status_code in (200, 204, 400), (response.status_code, clean)
