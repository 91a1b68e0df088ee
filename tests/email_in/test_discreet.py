"""Discreet delivery: what shows on a lock screen (an SMS's first line, an email's subject) says
nothing of the topic; a step's own discreet blocks win; the validator checks them like the rest."""

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from coach.cli.main import app
from coach.programmes.render import (
    NEUTRAL_OPENER,
    NEUTRAL_SUBJECT,
    REPEAT_OPENER,
    render_message,
    render_step,
)
from coach.programmes.validate import validate_folder
from coach.settings import Settings
from coach.subscribers.models import Subscriber
from tests.conftest import START
from tests.email_in.conftest import set_discreet
from tests.helpers import deliveries, enrol, reply, tick
from tests.unit.test_validate import line_of, make, one_problem, step_file, template
from tests.web.support import enrolment_of

PHONE = "+447911123456"
TOPIC = ("trust", "care")  # the words of "trust and care", the programme Sam is on
VARIABLES = {"name": "Sam", "programme": "Honesty", "quality": "honesty", "week": 1,
             "answers": {}, "other_qualities": []}


def first_message(settings: Settings, factory: sessionmaker[Session], discreet: bool,
                  **address: str) -> tuple[str, str | None]:
    """(text, subject) of Sam's welcome, sent by the real sweep."""
    subscriber_id = enrol(factory, START, **address)
    if discreet:
        set_discreet(factory, subscriber_id)
    due = enrolment_of(factory, subscriber_id).next_due_at
    assert due is not None
    tick(settings, due)
    [welcome] = deliveries(factory, subscriber_id)
    return welcome.body_text, welcome.subject


def preview(sms: str) -> str:
    return sms.splitlines()[0].lower()


def test_a_discreet_sms_opens_with_a_neutral_line(
    settings: Settings, factory: sessionmaker[Session], published: None
) -> None:
    sms, _ = first_message(settings, factory, True, phone=PHONE, email="")
    assert sms.startswith(NEUTRAL_OPENER)
    first, blank = sms.splitlines()[:2]
    assert blank == "" and not any(word in first.lower() for word in TOPIC)
    assert "Trust and care" in sms, "the message itself is unchanged below the opener"


def test_a_discreet_email_has_a_neutral_subject(
    settings: Settings, factory: sessionmaker[Session], published: None
) -> None:
    _, subject = first_message(settings, factory, True)
    assert subject == NEUTRAL_SUBJECT
    assert not any(word in subject.lower() for word in TOPIC)


def test_without_discreet_mode_nothing_changes(
    settings: Settings, factory: sessionmaker[Session], published: None
) -> None:
    _, subject = first_message(settings, factory, False)
    assert subject is not None and "trust and care" in subject.lower()


def test_system_messages_are_neutral_too() -> None:
    reminder = render_message("reminder", {**VARIABLES, "question": "How did it go?"},
                              discreet=True)
    assert reminder.subject == NEUTRAL_SUBJECT
    assert reminder.sms.startswith(NEUTRAL_OPENER)
    plain_help = render_message("help", VARIABLES)
    assert render_message("help", VARIABLES, discreet=True).sms == NEUTRAL_OPENER + plain_help.sms


STEP_SOURCE = (
    "{% block sms %}Hi {{ name }}, a week of {{ quality }}.{% endblock %}\n"
    "{% block subject %}Week {{ week }}: {{ quality }}{% endblock %}\n"
    "{% block email %}Hi {{ name }}, this week is about {{ quality }}.{% endblock %}\n"
    "{% block sms_discreet %}Hi {{ name }}, a small thing for this week.{% endblock %}\n"
    "{% block subject_discreet %}Your week {{ week }}{% endblock %}\n"
)
STEP = {"key": "w1", "template": "steps/w1.j2", "source": STEP_SOURCE, "week": 1,
        "checkin": "How did it go? Reply 1 to 5.", "practice": True}


def test_a_steps_own_discreet_blocks_are_used() -> None:
    rendered = render_step(STEP, VARIABLES, discreet=True)
    assert rendered.sms == "Hi Sam, a small thing for this week.\n\nHow did it go? Reply 1 to 5."
    assert rendered.subject == "Your week 1"
    assert rendered.text.startswith("Hi Sam, this week is about honesty.")
    repeat = render_step(STEP, VARIABLES, repeat=True, discreet=True)
    assert repeat.sms == REPEAT_OPENER + rendered.sms


def test_discreet_blocks_are_ignored_for_everyone_else() -> None:
    rendered = render_step(STEP, VARIABLES)
    assert (rendered.sms.splitlines()[0], rendered.subject) == (
        "Hi Sam, a week of honesty.", "Week 1: honesty")


# The validator ------------------------------------------------------------------------------

def with_discreet(sms: str = "A small thing for this week.",
                  subject: str = "Your week {{ week }}") -> str:
    return (template() + f"{{% block sms_discreet %}}{sms}{{% endblock %}}\n"
            f"{{% block subject_discreet %}}{subject}{{% endblock %}}\n")


def test_good_discreet_blocks_pass(tmp_path: Path) -> None:
    assert validate_folder(make(tmp_path, w1_practice=with_discreet())).problems == []


@pytest.mark.parametrize(("text", "block", "message"), [
    (with_discreet(sms="Hi {{ name }"), "sms_discreet", "template syntax"),
    (with_discreet(subject="Week {{ weeks }}"), "subject_discreet", "'weeks' is undefined"),
    (with_discreet(sms="a" * 300), "sms_discreet", "SMS for discreet delivery as a repeat needs"),
    (with_discreet(subject="A week of {{ quality }}"), "subject_discreet",
     "names the topic ('honesty')"),
    (with_discreet(subject=" "), "subject_discreet", "the subject_discreet block is empty"),
    (template() + "{% block sms_discrete %}x{% endblock %}\n", "sms_discrete",
     "unknown block 'sms_discrete'"),
], ids=["syntax", "undefined", "too long", "names the topic", "empty", "misspelt"])
def test_a_bad_discreet_block_is_reported_at_its_line(
    tmp_path: Path, text: str, block: str, message: str
) -> None:
    folder = make(tmp_path, w1_practice=text)
    problem = one_problem(validate_folder(folder))
    assert problem.file == step_file(folder, "w1-practice")
    assert problem.line == line_of(text, f"block {block}")
    assert message in problem.message


def test_the_neutral_opener_counts_towards_the_sms(tmp_path: Path) -> None:
    """306 characters fit in two segments, but not once the opener is put in front."""
    folder = make(tmp_path, welcome=template(sms="a" * (306 - len(NEUTRAL_OPENER) + 1)))
    problem = one_problem(validate_folder(folder))
    assert problem.line == 1
    assert "SMS for discreet delivery needs 3 segments" in problem.message


def test_an_acknowledgement_to_a_discreet_subscriber_is_neutral(
    settings: Settings, factory: sessionmaker[Session], published: None
) -> None:
    subscriber_id = enrol(factory, START, phone=PHONE, email="")
    set_discreet(factory, subscriber_id)
    reply(factory, settings, PHONE, "HELP", START)
    [ack] = deliveries(factory, subscriber_id)
    assert ack.body_text.startswith(NEUTRAL_OPENER)


def test_coach_subscribe_discreet(
    settings: Settings, factory: sessionmaker[Session], published: None
) -> None:
    result = CliRunner().invoke(app, ["subscribe", "--email", "kim@example.org", "--focus",
                                      "honesty", "--tz", "UTC", "--discreet"])
    assert result.exit_code == 0, result.output
    with factory() as session:
        assert session.scalars(select(Subscriber)).one().discreet is True
