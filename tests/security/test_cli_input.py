"""Items 10 and 14 of the security review: people's words on an operator's terminal are shown,
never obeyed, and the command line refuses input it would otherwise read wrongly."""

import shutil

import pytest
from sqlalchemy import func, select

from coach.cli.terminal import shown
from coach.inbound.models import Reply
from coach.subscribers.addresses import BadAddress, normalize_phone
from coach.subscribers.models import Subscriber
from tests.conftest import PROGRAMMES
from tests.test_cli import coach

HOSTILE = {
    "closing markup": "[/]",
    "a live link": "[link=https://evil.example/login]verify here[/link]",
    "a screen clear": "\x1b[2J\x1b[Hall good",
    "a colour that hides text": "[black on black]secret[/]",
    "reordered text": "fine \u202eFDP.exe",
}


@pytest.mark.parametrize("words", HOSTILE.values(), ids=HOSTILE)
def test_status_shows_a_hostile_reply_and_name_as_text(settings, factory, published, words):
    coach("subscribe", "--email", "sam@example.org", "--name", words, "--focus", "honesty",
          "--tz", "UTC", "--now", "2026-03-02T09:00:00Z")
    coach("reply", "--from", "sam@example.org", words, "--now", "2026-03-02T10:00:00Z")
    output = coach("status", "sam@example.org")
    assert "\x1b" not in output and "\u202e" not in output
    assert output.count(shown(words).replace("\\[", "[")) >= 2, output  # the name and the reply


def test_a_hostile_address_in_an_error_is_shown_not_obeyed(settings, factory, published):
    output = coach("status", "[link=https://evil.example]x[/link]@", code=2)
    assert "[link=https://evil.example]x[/link]@" in output


def test_shown_makes_control_characters_visible():
    assert shown("a\x1b[2Jb\u202ec\n") == "a\\x1b[2Jb\\u202ec\n"
    assert shown("[link=x]y[/link]") == "\\[link=x]y\\[/link]"


@pytest.mark.parametrize(("args", "message"), [
    (["--at", "18:00+05:00"], "is not a local time"),
    (["--at", "18:00:30"], "is not a local time"),
    (["--quiet", "08:00-08:00"], "start and end at the same time"),
    (["--quiet", "21:00"], "HH:MM-HH:MM"),
    (["--phone", "+44 7911 123456x"], "no extension"),
    (["--phone", "+44 7911 123456;ext=1"], "no extension"),
])
def test_subscribe_refuses_input_it_would_read_wrongly(settings, factory, published, args,
                                                        message):
    output = coach("subscribe", "--email", "sam@example.org", "--focus", "honesty", "--tz",
                   "UTC", *args, code=2)
    assert message in " ".join(output.split())
    with factory() as session:
        assert session.scalar(select(func.count(Subscriber.id))) == 0


def test_an_empty_reply_is_refused_and_nothing_is_stored(settings, factory, published):
    coach("subscribe", "--email", "sam@example.org", "--focus", "honesty", "--tz", "UTC")
    for empty in ("", "   ", "\n"):
        assert "the reply is empty" in coach("reply", "--from", "sam@example.org", empty, code=2)
    with factory() as session:
        assert session.scalar(select(func.count(Reply.id))) == 0


@pytest.mark.parametrize("number", ["+44 7911 123456x", "+44 7911 123456;ext=1",
                                    "+44 7911 123456 ext. 5", "tel:+447911123456",
                                    "+44 7911 12345６"])
def test_a_phone_number_with_anything_but_digits_is_refused(number):
    with pytest.raises(BadAddress, match="no extension"):
        normalize_phone(number)


@pytest.mark.parametrize("number", ["+447911123456", "+44 7911 123456", "+44 (0)7911 123456",
                                    "+44-7911-123456", "+44.7911.123456"])
def test_the_ways_people_write_a_number_still_work(number):
    assert normalize_phone(number) == "+447911123456"


def test_programme_problems_with_markup_are_shown_as_text(settings, tmp_path):
    folder = tmp_path / "odd"
    shutil.copytree(PROGRAMMES / "honesty", folder)
    yaml_file = folder / "programme.yaml"
    yaml_file.write_text(yaml_file.read_text().replace("title:", '"[/]": 1\ntitle:', 1))
    output = coach("programmes", "validate", str(folder), code=1)
    assert "unknown programme key '[/]'" in output


@pytest.mark.parametrize(("args", "message"), [
    (["--language", "fr"], "is not one coach speaks"),
    (["--country", "United Kingdom"], "two-letter ISO code"),
])
def test_subscribe_refuses_a_language_or_country_it_cannot_use(settings, factory, published,
                                                                args, message):
    output = coach("subscribe", "--email", "sam@example.org", "--focus", "honesty", "--tz",
                   "UTC", *args, code=2)
    assert message in " ".join(output.split())


def test_subscribe_keeps_the_language_and_country(settings, factory, published):
    coach("subscribe", "--email", "ana@example.org", "--focus", "honesty", "--tz", "UTC",
          "--language", "es", "--country", "mx")
    with factory() as session:
        person = session.scalars(select(Subscriber)).one()
    assert (person.language, person.country) == ("es", "MX")
