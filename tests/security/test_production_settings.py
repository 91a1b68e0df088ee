"""Item 8 and 9 of the security review: the environment must be one coach knows, and production
must refuse every development default, each with a message saying what to set."""

import pytest
from pydantic import ValidationError

from coach.secrets_check import estimated_bits, secret_problem
from coach.settings import DEFAULT_SECRET, Settings
from tests.test_settings import STRONG, STRONG_TOO

READY = {"env": "production", "secret_key": STRONG, "database_url": "postgresql://db/coach",
         "broker_url": "redis://redis:6379/0", "sms_backend": "twilio", "email_backend": "smtp",
         "public_url": "https://coach.example.org", "inbound_email_secret": STRONG_TOO}


@pytest.mark.parametrize("env", ["Production", "prod", "production ", "staging", "", "dev"])
def test_an_environment_coach_does_not_know_is_refused_at_start_up(env, tmp_path):
    with pytest.raises(ValidationError) as refused:
        Settings(data_dir=tmp_path, env=env)
    assert "development, test, production" in str(refused.value)


def test_a_ready_production_configuration_starts(tmp_path):
    Settings(data_dir=tmp_path, **READY).check_production_ready()


ATTACKS = {
    "one-letter secret key": ({"secret_key": "x"}, "COACH_SECRET_KEY is 1 characters"),
    "long but repeated secret key": ({"secret_key": "x" * 64}, "COACH_SECRET_KEY repeats"),
    "the development secret key": ({"secret_key": DEFAULT_SECRET}, "set COACH_SECRET_KEY"),
    "a SQLite database": ({"database_url": "sqlite:////srv/coach.db"}, "not SQLite"),
    "no database": ({"database_url": ""}, "set COACH_DATABASE_URL"),
    "the embedded broker": ({"broker_url": "sqla+sqlite:////srv/b.db"}, "COACH_BROKER_URL"),
    "console SMS": ({"sms_backend": "console"}, "COACH_SMS_BACKEND=console"),
    "file email": ({"email_backend": "file"}, "COACH_EMAIL_BACKEND=file"),
    "memory email": ({"email_backend": "memory"}, "COACH_EMAIL_BACKEND=memory"),
    "an http public URL": ({"public_url": "http://coach.example.org"}, "https://"),
    "no inbound secret and no mailbox": ({"inbound_email_secret": ""},
                                         "COACH_INBOUND_EMAIL_SECRET"),
}


@pytest.mark.parametrize(("change", "hint"), ATTACKS.values(), ids=ATTACKS)
def test_production_refuses_each_development_default_and_says_what_to_set(
        change, hint, tmp_path):
    settings = Settings(data_dir=tmp_path, **{**READY, **change})
    with pytest.raises(RuntimeError) as refused:
        settings.check_production_ready()
    assert hint in str(refused.value)
    assert len(settings.production_problems()) == 1, "only the one problem is named"


def test_a_mailbox_poller_needs_no_webhook_secret(tmp_path):
    Settings(data_dir=tmp_path, **{**READY, "inbound_email_secret": "",
                                  "imap_url": "imaps://coach:pw@mail.example.org/INBOX"}
             ).check_production_ready()


@pytest.mark.parametrize("secret", ["short", "a" * 40, "abab" * 10, "hunter2hunter2hunter2hunter2"])
def test_a_weak_inbound_secret_is_refused_in_every_environment_without_echoing_it(
        secret, tmp_path):
    with pytest.raises(ValidationError) as refused:
        Settings(data_dir=tmp_path, inbound_email_secret=secret)
    assert "COACH_INBOUND_EMAIL_SECRET" in str(refused.value)
    assert secret not in str(refused.value), "the refusal must not print the secret"


def test_the_entropy_estimate_tells_random_from_patterned():
    assert estimated_bits("x" * 64) == 0
    assert estimated_bits(STRONG) > 128
    assert secret_problem("S", STRONG) is None
    assert "32" in (secret_problem("S", "short") or "")


def test_an_unreadable_rate_limit_is_refused_with_an_example(tmp_path):
    with pytest.raises(ValidationError) as refused:
        Settings(data_dir=tmp_path, rate_limit_forms="lots")
    assert "60/minute" in str(refused.value)
