"""SMS by Twilio, through the official SDK: against Prism serving Twilio's spec for what is
accepted, and against a small server of our own for Twilio's errors (see conftest)."""

import base64
import re
from datetime import timedelta

import pytest

from coach.delivery import twilio_sms
from coach.delivery.channels import OutgoingMessage, TemporaryFailure, channel_for
from coach.delivery.ratelimit import RateLimiter
from coach.delivery.twilio_sms import twilio_channel
from coach.subscribers.models import Subscriber
from tests.channels_twilio.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_URL,
    SENDER,
    record_requests,
)
from tests.conftest import START
from tests.helpers import deliveries, enrol, tick
from tests.support.fake_twilio import Answer

PHONE = "+14155550100"
DUE = START + timedelta(hours=9, minutes=30)  # 18:30 in London, the preferred time
LATER = DUE + timedelta(minutes=11)  # when the sweep has looked again at rows left queued
SERVICE_SID = "MG" + "b" * 32
MESSAGE = OutgoingMessage(42, "sms", PHONE, "Notice one kind thing today.")


def test_a_message_reaches_twilio_with_its_sender_and_status_callback(use_twilio, prism_url):
    channel = twilio_channel(use_twilio(prism_url))
    sent = record_requests(channel)
    sid = channel.send(MESSAGE)
    assert re.fullmatch(r"SM[0-9a-f]{32}", sid)
    [request] = sent
    assert request["url"] == f"{prism_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request["auth"] == "Basic " + base64.b64encode(
        f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request["form"] == {
        "To": PHONE, "Body": MESSAGE.text, "From": SENDER,
        "StatusCallback": f"{PUBLIC_URL}/hooks/twilio/status?delivery=42"}


def test_a_messaging_service_sends_in_place_of_a_number(use_twilio, prism_url):
    settings = use_twilio(prism_url, TWILIO_FROM="", TWILIO_MESSAGING_SERVICE_SID=SERVICE_SID,
                          PUBLIC_URL=f"{PUBLIC_URL}/")
    channel = twilio_channel(settings)
    sent = record_requests(channel)
    channel.send(MESSAGE)
    [request] = sent
    assert request["form"]["MessagingServiceSid"] == SERVICE_SID
    assert "From" not in request["form"]
    assert request["form"]["StatusCallback"] == f"{PUBLIC_URL}/hooks/twilio/status?delivery=42"
    assert channel.limiter.sender == SERVICE_SID, "the rate is kept per sender"


def test_every_send_takes_a_slot_of_the_senders_rate(use_twilio, prism_url):
    channel = twilio_channel(use_twilio(prism_url, SMS_RATE_PER_SECOND="0.001"))
    sent = record_requests(channel)
    channel.send(MESSAGE)
    with pytest.raises(TemporaryFailure, match="SMS rate limit: the sender's rate is booked"):
        channel.send(MESSAGE)  # the next slot is 1000 s away: back to the queue, not held
    assert len(sent) == 1


def test_one_client_per_process_not_one_per_message(use_twilio, prism_url):
    settings = use_twilio(prism_url)
    channel = channel_for("sms", settings)
    assert channel_for("sms", settings) is channel
    assert twilio_channel(settings.model_copy()) is channel, "equal settings share it"


def test_a_nudge_goes_through_the_sweep_and_the_sender_to_twilio(
    settings, factory, published, use_twilio, prism_url
):
    twilio = use_twilio(prism_url)
    sent = record_requests(twilio_channel(twilio))
    subscriber_id = enrol(factory, START, phone=PHONE, email="")
    tick(twilio, DUE)
    [row] = deliveries(factory, subscriber_id)
    assert (row.status, row.channel, row.error) == ("sent", "sms", None)
    assert re.fullmatch(r"SM[0-9a-f]{32}", row.provider_id or "")
    [request] = sent
    assert request["form"] == {
        "To": PHONE, "Body": row.body_text, "From": SENDER,
        "StatusCallback": f"{PUBLIC_URL}/hooks/twilio/status?delivery={row.id}"}


@pytest.mark.parametrize("answers, status, reason, requests", [
    ([Answer(429, 20429)] * 3, "queued",
     "will retry: Twilio asked us to slow down (HTTP 429, Twilio 20429)", 3),
    ([Answer(500, 20500)] * 3, "queued",
     "will retry: Twilio could not take the message now (HTTP 500, Twilio 20500)", 3),
    ([Answer(429, 20429)], "sent", None, 2),
    ([Answer(400, 21211)], "failed", "not a valid phone number (Twilio 21211)", 1),
    ([Answer(400, 21614)], "failed",
     "not a mobile number: it cannot receive SMS (Twilio 21614)", 1),
    ([Answer(hold=10)], "unknown",
     "outcome unknown: Twilio did not answer in time after the request was sent", 1),
    ([Answer(drop=True)], "unknown",
     "outcome unknown: the connection to Twilio broke after the request was sent", 1),
    ([Answer(504, 504)], "unknown", "outcome unknown: Twilio's gateway timed out", 1),
], ids=["429-retried-then-queued", "500-retried-then-queued", "429-once-then-accepted",
        "21211-invalid", "21614-not-mobile", "read-timeout", "dropped", "504"])
def test_each_answer_from_twilio_leaves_the_row_with_a_readable_outcome(
    settings, factory, published, use_twilio, fake_twilio, answers, status, reason, requests
):
    twilio = use_twilio(fake_twilio.url, read_timeout=0.5)
    fake_twilio.script(*answers)
    subscriber_id = enrol(factory, START, phone=PHONE, email="")
    tick(twilio, DUE)
    [row] = deliveries(factory, subscriber_id)
    assert row.status == status
    assert (row.error or "").startswith(reason or ""), row.error
    assert len(fake_twilio.requests()) == requests


def test_opted_out_at_the_carrier_fails_the_row_and_stops_sms_to_that_number(
    settings, factory, published, use_twilio, fake_twilio
):
    twilio = use_twilio(fake_twilio.url)
    fake_twilio.script(Answer(400, 21610))
    subscriber_id = enrol(factory, START, phone=PHONE, email="")
    tick(twilio, DUE)
    [row] = deliveries(factory, subscriber_id)
    assert (row.status, row.error) == ("failed", "opted out at the carrier (Twilio 21610)")
    with factory() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None and subscriber.sms_consent is False
        assert subscriber.sms_consent_source == "opted out at the carrier (Twilio 21610)"
    tick(twilio, DUE + timedelta(days=3))
    assert len(fake_twilio.requests()) == 1, "nothing more went to Twilio for that number"


def test_refused_connection_leaves_the_row_queued_and_sends_nothing(
    settings, factory, published, use_twilio, closed_port_url
):
    twilio = use_twilio(closed_port_url)
    subscriber_id = enrol(factory, START, phone=PHONE, email="")
    tick(twilio, DUE)
    [row] = deliveries(factory, subscriber_id)
    assert row.status == "queued"
    assert re.match(r"will retry: could not connect to Twilio \(.*refused\); nothing was sent",
                    row.error or ""), row.error


def test_a_row_left_queued_is_sent_by_a_later_sweep(
    settings, factory, published, use_twilio, fake_twilio
):
    twilio = use_twilio(fake_twilio.url)
    fake_twilio.script(*[Answer(429, 20429)] * 3)
    subscriber_id = enrol(factory, START, phone=PHONE, email="")
    tick(twilio, DUE)
    tick(twilio, LATER)
    [row] = deliveries(factory, subscriber_id)
    assert row.status == "sent" and (row.provider_id or "").startswith("SM")
    assert len(fake_twilio.requests()) == 4


def test_an_unknown_outcome_is_never_sent_again(
    settings, factory, published, use_twilio, fake_twilio
):
    twilio = use_twilio(fake_twilio.url, read_timeout=0.5)
    fake_twilio.script(Answer(hold=10))
    subscriber_id = enrol(factory, START, phone=PHONE, email="")
    tick(twilio, DUE)
    tick(twilio, LATER)
    tick(twilio, LATER + timedelta(hours=1))
    [row] = deliveries(factory, subscriber_id)
    assert row.status == "unknown"
    assert len(fake_twilio.requests()) == 1


def test_after_twilio_refused_one_message_the_next_ones_wait_without_a_request(
    use_twilio, fake_twilio, monkeypatch
):
    monkeypatch.setattr(twilio_sms, "HOLD_OFF", 60.0)
    channel = twilio_channel(use_twilio(fake_twilio.url))
    fake_twilio.script(*[Answer(503, 20500)] * 3)
    with pytest.raises(TemporaryFailure, match="HTTP 503"):
        channel.send(MESSAGE)
    with pytest.raises(TemporaryFailure, match=r"holding off for a while after: .*HTTP 503"):
        channel.send(MESSAGE)
    assert len(fake_twilio.requests()) == 3


def test_an_unreachable_rate_limit_redis_is_a_temporary_failure(use_twilio, fake_twilio):
    channel = twilio_channel(use_twilio(fake_twilio.url))
    channel.limiter.close()
    channel.limiter = RateLimiter("redis://127.0.0.1:1/0", SENDER, 10)
    with pytest.raises(TemporaryFailure, match="Redis is unreachable"):
        channel.send(MESSAGE)
    assert fake_twilio.requests() == []


def test_a_misconfigured_channel_is_not_built(use_twilio, fake_twilio):
    settings = use_twilio(fake_twilio.url, TWILIO_AUTH_TOKEN="secret")
    with pytest.raises(RuntimeError, match="COACH_TWILIO_AUTH_TOKEN is malformed"):
        twilio_channel(settings)
