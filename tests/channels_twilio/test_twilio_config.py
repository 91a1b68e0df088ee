"""Start-up errors for the Twilio channel: each bad setting named, no secret repeated."""

from typing import Any

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from coach.delivery.channels import TemporaryFailure, UnknownOutcome, check_channels
from coach.delivery.twilio_sms import lost, twilio_problems
from coach.settings import Settings

GOOD: dict[str, Any] = {
    "sms_backend": "twilio", "twilio_account_sid": "AC" + "0123456789abcdef" * 2,
    "twilio_auth_token": "fedcba9876543210" * 2, "twilio_from": "+14155550100",
    "public_url": "https://coach.example.org", "broker_url": "redis://redis:6379/0"}


def settings(tmp_path, **changes: Any) -> Settings:
    return Settings(data_dir=tmp_path, **{**GOOD, **changes})


def test_good_settings_have_no_problems(tmp_path):
    assert twilio_problems(settings(tmp_path)) == []
    check_channels(settings(tmp_path))
    service = settings(tmp_path, twilio_from="", twilio_messaging_service_sid="MG" + "a" * 32)
    assert twilio_problems(service) == []
    for sender in ("12345", "878787", "Coach", "Coach UK", "Coach2026"):
        assert twilio_problems(settings(tmp_path, twilio_from=sender)) == [], sender


@pytest.mark.parametrize("changes, problem", [
    ({"twilio_account_sid": ""}, "set COACH_TWILIO_ACCOUNT_SID (AC followed by 32 hex digits)"),
    ({"twilio_account_sid": "AC123"}, "COACH_TWILIO_ACCOUNT_SID is malformed"),
    ({"twilio_account_sid": "SK" + "a" * 32}, "COACH_TWILIO_ACCOUNT_SID is malformed"),
    ({"twilio_auth_token": ""}, "set COACH_TWILIO_AUTH_TOKEN (32 hex digits)"),
    ({"twilio_auth_token": "not-a-token"}, "COACH_TWILIO_AUTH_TOKEN is malformed"),
    ({"twilio_from": ""}, "set COACH_TWILIO_FROM (an E.164 number, a short code or an "
                          "alphanumeric sender id) or COACH_TWILIO_MESSAGING_SERVICE_SID"),
    ({"twilio_from": "0044 7700 900123"}, "COACH_TWILIO_FROM is malformed: it must be an E.164"),
    ({"twilio_from": "12"}, "COACH_TWILIO_FROM is malformed"),
    ({"twilio_from": "123456789"}, "COACH_TWILIO_FROM is malformed"),
    ({"twilio_from": "CoachMessages"}, "COACH_TWILIO_FROM is malformed"),  # 13 characters
    ({"twilio_from": "Coach-UK"}, "COACH_TWILIO_FROM is malformed"),
    ({"twilio_from": "+44 7700"}, "COACH_TWILIO_FROM is malformed"),
    ({"twilio_messaging_service_sid": "MG" + "a" * 32},
     "set only one of COACH_TWILIO_FROM and COACH_TWILIO_MESSAGING_SERVICE_SID"),
    ({"twilio_from": "", "twilio_messaging_service_sid": "MG12"},
     "COACH_TWILIO_MESSAGING_SERVICE_SID is malformed"),
    ({"public_url": "coach.example.org"}, "COACH_PUBLIC_URL must be the http(s) URL"),
    ({"public_url": "ftp://coach.example.org"}, "COACH_PUBLIC_URL must be the http(s) URL"),
    ({"twilio_api_url": "127.0.0.1:4010"}, "COACH_TWILIO_API_URL must be an http(s) URL"),
    ({"sms_rate_per_second": 0}, "COACH_SMS_RATE_PER_SECOND must be above 0"),
    ({"broker_url": ""}, "set COACH_RATE_LIMIT_REDIS_URL (or a redis:// COACH_BROKER_URL)"),
    ({"rate_limit_redis_url": "memcached://cache"}, "COACH_RATE_LIMIT_REDIS_URL must be a redis"),
])
def test_each_bad_setting_is_named_at_start_up(tmp_path, changes, problem):
    bad = settings(tmp_path, **changes)
    [found] = twilio_problems(bad)
    assert found.startswith(problem)
    with pytest.raises(RuntimeError, match="channels are not configured") as refused:
        check_channels(bad)
    assert problem in str(refused.value)


def test_the_auth_token_is_never_repeated_in_a_problem(tmp_path):
    token = "s3cret-" + "9" * 25
    problems = twilio_problems(settings(tmp_path, twilio_auth_token=token))
    assert problems and token not in "; ".join(problems)


def test_a_connect_timeout_sent_nothing_and_other_breaks_are_unknown():
    no_connection = NewConnectionError(None, "Failed to establish a new connection: refused")
    refused = MaxRetryError(None, "/Messages.json", no_connection)
    assert isinstance(lost(requests.ConnectTimeout("connect timed out")), TemporaryFailure)
    assert isinstance(lost(requests.ConnectionError(refused)), TemporaryFailure)
    assert isinstance(lost(requests.ReadTimeout("read timed out")), UnknownOutcome)
    assert isinstance(lost(requests.ConnectionError("Connection aborted.")), UnknownOutcome)
