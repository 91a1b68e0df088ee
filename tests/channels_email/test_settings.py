"""Start-up refuses an SMTP set-up that cannot work, saying what to set; a good one parses."""

from pathlib import Path

import pytest

from coach.delivery.channels import check_channels
from coach.delivery.smtp_email import Relay, parse_smtp_url, smtp_problems
from tests.channels_email.conftest import mail_settings

GOOD = "smtp+starttls://coach:s3cret@smtp.example.org:587"


@pytest.mark.parametrize(("url", "relay"), [
    ("smtp://127.0.0.1:2525", Relay("smtp", "127.0.0.1", 2525)),
    ("smtp://relay.internal", Relay("smtp", "relay.internal", 25)),
    ("smtp+starttls://apikey:p%40ss%20word%2F1@smtp.example.org",
     Relay("smtp+starttls", "smtp.example.org", 587, "apikey", "p@ss word/1")),
    ("smtps://me%40example.org:x@mail.example.org:465?timeout=15",
     Relay("smtps", "mail.example.org", 465, "me@example.org", "x", 15.0)),
])
def test_each_scheme_parses_with_decoded_credentials(url: str, relay: Relay) -> None:
    assert parse_smtp_url(url) == relay


def test_a_good_set_up_has_no_problems(tmp_path: Path) -> None:
    settings = mail_settings(tmp_path, GOOD)
    assert smtp_problems(settings) == []
    check_channels(settings)  # what the web app and the workers call at start-up


BAD = [
    ({"smtp_url": ""}, "set COACH_SMTP_URL to the mail relay"),
    ({"smtp_url": "https://smtp.example.org"}, "must start with smtp://, smtp+starttls://"),
    ({"smtp_url": "smtp.example.org:587"}, "must start with smtp://"),
    ({"smtp_url": "smtps://coach:s3cret@smtp.example.org:99999"}, "port that is not a number"),
    ({"smtp_url": "smtps://coach:s3cret@smtp.example.org:abc"}, "port that is not a number"),
    ({"smtp_url": "smtp+starttls://coach:s3cret@:587"}, "names no host"),
    ({"smtp_url": "smtp+starttls://coach@smtp.example.org"}, "a user without a password"),
    ({"smtp_url": "smtp://coach:s3cret@smtp.example.org"}, "unencrypted over smtp://"),
    ({"smtp_url": "smtps://smtp.example.org?timeout=soon"}, "timeout must be a number"),
    ({"smtp_url": "smtps://smtp.example.org?timeout=0"}, "timeout must be a number"),
    ({"smtp_url": "smtps://smtp.example.org?tls=no"}, "unknown options ['tls']"),
    ({"email_from": "coach"}, "COACH_EMAIL_FROM 'coach' is not an address"),
    ({"email_from": "a@example.org, b@example.org"}, "COACH_EMAIL_FROM"),
    ({"email_from": "coach <coach@localhost>"}, "COACH_EMAIL_FROM"),  # the development default
    ({"email_from": "coach <coach@@example.org>"}, "COACH_EMAIL_FROM"),
    ({"email_reply_domain": "not a domain"}, "COACH_EMAIL_REPLY_DOMAIN 'not a domain'"),
    ({"email_reply_domain": "replies." + "a" * 50 + ".example.org"}, "too long for Message-IDs"),
    ({"public_url": "coach.example.org"}, "COACH_PUBLIC_URL 'coach.example.org' is not"),
    ({"public_url": "http://coach.example.org", "env": "production"}, "must be https://"),
]


@pytest.mark.parametrize(("values", "problem"), BAD)
def test_each_bad_setting_is_named_with_what_to_do(tmp_path: Path, values: dict[str, str],
                                                   problem: str) -> None:
    settings = mail_settings(tmp_path, values.pop("smtp_url", GOOD), **values)
    problems = smtp_problems(settings)
    assert len(problems) == 1 and problem in problems[0], problems
    assert "s3cret" not in problems[0]
    with pytest.raises(RuntimeError, match="channels are not configured"):
        check_channels(settings)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    settings = mail_settings(tmp_path, "", email_from="nobody", public_url="nowhere")
    assert len(smtp_problems(settings)) == 3


def test_the_smtp_backend_is_not_checked_when_email_goes_elsewhere(tmp_path: Path) -> None:
    check_channels(mail_settings(tmp_path, "", email_backend="console"))
