"""The urgent reply for every country and language the helplines file knows: it names the
country's numbers, stays within two GSM-7 segments (so it arrives whole and cheap), keeps its
first line neutral when discreet, and every entry says where it came from and when checked."""

import pytest
import yaml

from coach.programmes.render import render_message, sms_segments
from coach.safety.helplines import ABUSE_CATEGORIES, DATA, country_of, helpline_for
from coach.safety.services import CATEGORY_NAMES

ENTRIES = [*yaml.safe_load(DATA.read_text())["countries"], None]
LONG_NAME = "Alexandra-Margarethe"


@pytest.mark.parametrize("country", ENTRIES)
@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("category", sorted(CATEGORY_NAMES))
@pytest.mark.parametrize("discreet", [False, True])
def test_the_urgent_reply_fits_and_names_the_countrys_numbers(country, language, category,
                                                              discreet):
    helpline = helpline_for(country, language)
    variables = {"name": LONG_NAME, "emergency": helpline.emergency,
                 "line": helpline.line_for(category), "person_will_see": True}
    message = render_message("crisis", variables, discreet=discreet, language=language)
    segments, encoding = sms_segments(message.sms)
    assert (segments, encoding) <= (2, "GSM-7") and encoding == "GSM-7", message.sms
    assert helpline.emergency in message.sms and helpline.line_for(category) in message.sms
    assert ("RESUME" if language == "en" else "SEGUIR") in message.sms
    if discreet:
        first_line = message.sms.splitlines()[0]
        assert helpline.emergency not in first_line and "crisis" not in first_line.lower()
        assert message.subject in ("A note from coach", "Una nota de coach")
    assert helpline.emergency in message.text


def test_violence_gets_the_abuse_line_and_everything_else_the_crisis_line():
    helpline = helpline_for("GB")
    assert "0808 2000 247" in helpline.line_for("partner_violence")
    assert "116 123" in helpline.line_for("suicide_self_harm")
    assert "116 123" in helpline.line_for("other")
    assert set(CATEGORY_NAMES) > ABUSE_CATEGORIES


def test_every_entry_names_its_source_and_when_it_was_checked():
    for country in ENTRIES:
        for language in ("en", "es"):
            helpline = helpline_for(country, language)
            assert helpline.source.startswith("https://") and "2026" in helpline.checked


@pytest.mark.parametrize(("chosen", "phone", "country"), [
    (None, "+447911123456", "GB"),  # +44 7911 is also Guernsey's: GB's lines serve it
    (None, "+14165550123", "CA"), (None, "+12025550123", "US"), (None, "+34612345678", "ES"),
    ("ie", "+447911123456", "IE"), (None, None, None),
])
def test_the_country_is_the_persons_choice_else_their_phones(chosen, phone, country):
    assert country_of(chosen, phone) == country


def test_a_country_without_an_entry_still_gets_an_emergency_number_and_a_way_to_find_help():
    helpline = helpline_for("FR")
    assert helpline.country is None
    assert helpline.emergency == "your local emergency number"
    assert "findahelpline.com" in helpline.crisis
    assert helpline_for("FR", "es").emergency == "numero local de emergencias"


def test_the_alert_names_the_flag_and_never_the_words():
    variables = {"flag_id": 7, "subscriber_id": 3, "risk": "urgent",
                 "category": "suicide or self-harm", "raised_at": "2026-03-02 10:00 UTC",
                 "public_url": "https://coach.example.org"}
    alert = render_message("alert", variables)
    assert "coach flags show 7" in alert.text and "urgent" in alert.subject + alert.text
