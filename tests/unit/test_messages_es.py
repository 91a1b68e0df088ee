"""System messages in Spanish (templates/messages/es/): one for every English message a
subscriber can get, with the same blocks and variables, in SMS within two GSM-7 segments,
plainly and discreetly, naming the Spanish commands beside the carrier's English STOP."""

from pathlib import Path
from typing import Any

import pytest

from coach.programmes.qualities import QUALITIES, other_qualities
from coach.programmes.render import GSM7, compile_step, render_message, sms_segments
from coach.programmes.sandbox import markdown_link
from coach.programmes.validate import programme_folders, validate_folder
from coach.settings import PROJECT_ROOT

MESSAGES = PROJECT_ROOT / "templates" / "messages"
STAFF_ONLY = {"alert"}  # read by the team, in English
NAMES = sorted(path.stem for path in MESSAGES.glob("*.j2") if path.stem not in STAFF_ONLY)
# Every Spanish message has its own discreet blocks: the renderer's neutral opener and subject
# ("From coach.", "A note from coach") are English.
DISCREET = {"sms_discreet", "subject_discreet"}
DISCREET_OPENER = "De coach"
DISCREET_SUBJECT = "Una nota de coach"
ENGLISH_COMMANDS = ("RESUME", "PAUSE", "SLOWER", "HELP")

# The longest values the callers pass: a long quality, a long zone, the longest built-in
# check-in question and programme title.
LONGEST_QUALITY = max(QUALITIES.values(), key=len)
DEFINITIONS = [validate_folder(folder).definition
               for folder in programme_folders(PROJECT_ROOT / "templates" / "programmes")]
LONGEST_TITLE = max((d["title"] for d in DEFINITIONS), key=len)
LONGEST_QUESTION = max((s["checkin"] for d in DEFINITIONS for s in d["steps"] if s["checkin"]),
                       key=len)


def enrolled(quality: str = LONGEST_QUALITY, name: str = "there") -> dict[str, Any]:
    """What coach.scheduling.plan.variables gives a message about an enrolment."""
    slug = next(key for key, value in QUALITIES.items() if value == quality)
    return {"name": name, "programme": LONGEST_TITLE, "quality": quality,
            "answers": {"first_week": "una respuesta"}, "other_qualities": other_qualities(slug)}


# What coach/inbound/services.py (acknowledgements, with no enrolment: name and "your
# focus"), coach/inbound/sms_signup.py (sign-up by text) and coach/scheduling/plan.py
# (notices and reminders) pass, with the values that make each message longest.
NOT_ENROLLED = {"name": "there", "quality": "your focus"}
LONG_MANAGE_URL = "https://coach.example.org/manage/2147483647.1795645755." + "x" * 27
LONG_ERASE_URL = LONG_MANAGE_URL.replace("/manage/", "/erase/")
LONG_CONFIRM_URL = LONG_MANAGE_URL.replace("/manage/", "/confirm/")
CASES: dict[str, list[dict[str, Any]]] = {
    "ack_ready": [enrolled(), NOT_ENROLLED],
    "ack_slower": [{**enrolled(), "repeat": True}, {**enrolled(), "repeat": False},
                   {**NOT_ENROLLED, "repeat": False}],
    "ack_steady": [enrolled()],
    "ack_words": [enrolled()],
    "distress": [enrolled(name="Maximiliana"), NOT_ENROLLED],
    "erase_confirm": [{"name": name, "link": markdown_link(LONG_ERASE_URL), "hours": 48}
                      for name in ("Maximiliana", "there")],
    "focus_switched": [{"name": "there", "old": old, "new": new}
                       for old in QUALITIES.values() for new in QUALITIES.values() if old != new],
    "help": [enrolled(quality) for quality in QUALITIES.values()] + [NOT_ENROLLED],
    "manage_link": [{**variables, "link": markdown_link(LONG_MANAGE_URL), "days": 30}
                    for variables in (enrolled(name="Maximiliana"), NOT_ENROLLED)],
    "not_paused": [enrolled()],
    "optin_confirm": [{"quality": quality, "link": markdown_link(LONG_CONFIRM_URL), "hours": 48}
                      for quality in QUALITIES.values()],
    "paused": [{**enrolled(), "until": "Wednesday 30 September"},
               {**enrolled(), "until": "a while"}],
    "reminder": [{**enrolled(), "question": LONGEST_QUESTION, "week": 6}],
    "resumed": [enrolled()],
    "self_paused": [enrolled()],
    "signup_cancelled": [{"name": "there"}],
    "signup_choose": [{"name": "there", "qualities": list(QUALITIES.values()), "again": again}
                      for again in (False, True)],
    "signup_confirm": [{"name": "there", "quality": quality, "weeks": 12, "per_week": 3,
                        "again": again}
                       for quality in QUALITIES.values() for again in (False, True)],
    "signup_done": [{"name": "there", "quality": quality, "time": "08:30",
                     "zone": "America/Argentina/ComodRivadavia"} for quality in QUALITIES.values()],
    "signup_info": [{"name": "there", "next": text}
                    for text in ("Reply 1-4 to choose your focus.", "Reply YES to start.",
                                 "Text JOIN to start.")],
    "start_confirmed": [enrolled()],
    "stop_confirmed": [enrolled()],
}
RENDERED = [(name, variables) for name in sorted(CASES) for variables in CASES[name]]


def blocks(path: Path) -> set[str]:
    return set(compile_step(path.read_text(encoding="utf-8"), path.name).blocks)


def gsm7(sms: str) -> bool:
    segments, encoding = sms_segments(sms)
    return encoding == "GSM-7" and segments <= 2


def test_every_message_a_subscriber_gets_is_checked_here() -> None:
    assert sorted({*CASES, "crisis"}) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_english_message_has_a_spanish_one_with_the_same_blocks(name: str) -> None:
    spanish = MESSAGES / "es" / f"{name}.j2"
    assert spanish.is_file(), f"templates/messages/es/{name}.j2 is missing"
    assert blocks(spanish) == blocks(MESSAGES / f"{name}.j2") | DISCREET


@pytest.mark.parametrize(("name", "variables"), RENDERED)
def test_each_spanish_message_renders_within_two_gsm7_segments(name: str,
                                                               variables: dict[str, Any]) -> None:
    english = render_message(name, variables)
    plain = render_message(name, variables, language="es")
    discreet = render_message(name, variables, discreet=True, language="es")
    assert plain.sms != english.sms, "the Spanish template is the one used"
    for sms in (plain.sms, discreet.sms):
        assert gsm7(sms), (sms_segments(sms), sms)
        assert not any(word in sms.split() for word in ENGLISH_COMMANDS), sms
        assert "there" not in sms
    assert discreet.sms.startswith(DISCREET_OPENER)
    assert discreet.subject == DISCREET_SUBJECT
    assert plain.subject and plain.text
    assert "there" not in plain.text  # the English stand-in for no name is never shown
    assert "{{" not in plain.sms + plain.text and "{%" not in plain.sms + plain.text


@pytest.mark.parametrize(("name", "variables"), RENDERED)
def test_where_the_english_message_names_stop_the_spanish_one_names_alto_and_stop(
        name: str, variables: dict[str, Any]) -> None:
    english = render_message(name, variables)
    spanish = render_message(name, variables, language="es")
    for english_text, spanish_text in ((english.sms, spanish.sms), (english.text, spanish.text)):
        if "STOP" in english_text:
            assert "ALTO" in spanish_text and "STOP" in spanish_text, spanish_text
        if "RESUME" in english_text:
            assert "SEGUIR" in spanish_text, spanish_text
        if "HELP" in english_text:
            assert "AYUDA" in spanish_text, spanish_text


def test_help_names_the_spanish_commands_and_the_focus_in_spanish() -> None:
    rendered = render_message("help", enrolled("clear communication"), language="es")
    for command in ("PAUSA 14", "SEGUIR", "MAS DESPACIO", "ALTO", "STOP"):
        assert command in rendered.sms
    assert "comunicacion clara" in rendered.sms  # no ó in an SMS
    assert "comunicación clara" in rendered.text  # full accents in an email
    assert "MÁS DESPACIO" in rendered.text


def test_sms_blocks_write_spanish_without_the_accents_gsm7_lacks() -> None:
    """GSM-7 has é, ñ, ü, ¿ and ¡, but not á, í, ó or ú: the SMS writes those words without
    the accent, while emails and subjects keep them."""
    assert {"é", "ñ", "ü", "¿", "¡"} <= GSM7 and not {"á", "í", "ó", "ú"} & GSM7
    accented = [render_message(name, variables, language="es").text
                for name, variables in RENDERED]
    assert any(ch in text for text in accented for ch in "áíóú")


def test_a_pause_date_is_written_in_spanish() -> None:
    rendered = render_message("paused", {**enrolled(), "until": "Saturday 7 March"},
                              language="es")
    assert "sabado 7 de marzo" in rendered.sms
    assert rendered.subject == "En pausa hasta el sábado 7 de marzo"
    assert "sábado 7 de marzo" in rendered.text
    later = render_message("paused", {**enrolled(), "until": "a while"}, language="es")
    assert "dentro de un tiempo" in later.sms and "a while" not in later.text


def test_the_reminder_names_the_week_and_the_programme_but_not_when_discreet() -> None:
    variables = {**enrolled(), "programme": "Honesty", "question": "How did it go?", "week": 2}
    plain = render_message("reminder", variables, language="es")
    assert plain.sms == "Sin prisa: un recordatorio sobre la semana 2 de Honesty. How did it go?"
    discreet = render_message("reminder", variables, discreet=True, language="es")
    assert "semana 2" in discreet.sms and "Honesty" not in discreet.sms
    assert "Honesty" not in discreet.subject
