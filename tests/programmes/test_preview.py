"""Preview one step as a persona sees it, in the sandbox the sweep renders in; a hostile or
broken template comes back as a problem with file and line."""

import pytest

from coach.programmes.diff import diff_files
from coach.programmes.edits import add_step, edit_step, move_step, remove_step
from coach.programmes.folders import read_folder
from coach.programmes.preview import Persona, preview_step
from coach.programmes.render import NEUTRAL_OPENER, REPEAT_OPENER
from coach.scheduling.preview_email import email_parts
from tests.conftest import PROGRAMMES


@pytest.fixture
def honesty() -> dict[str, str]:
    return read_folder(PROGRAMMES / "honesty")


def test_a_practice_with_its_repeat(honesty: dict[str, str]) -> None:
    preview = preview_step(honesty, "w1-practice", Persona(name="Sam"))
    assert preview.problems == []
    step, repeat = preview.messages
    assert (step.variant, repeat.variant) == ("step", "repeat")
    assert step.sms.text.startswith("Hi Sam") and repeat.sms.text == REPEAT_OPENER + step.sms.text
    assert step.sms.encoding == "GSM-7" and step.sms.characters == len(step.sms.text)
    assert step.subject and "<p>" in step.html


def test_a_checkin_with_its_reminder_discreetly(honesty: dict[str, str]) -> None:
    persona = Persona(name="Zoë 😊", discreet=True, answers={"honesty_means": "care"})
    step, reminder = preview_step(honesty, "w1-checkin", persona).messages
    assert reminder.variant == "reminder"
    assert step.sms.text.startswith(NEUTRAL_OPENER) and step.subject == "A note from coach"
    assert step.sms.encoding == "UCS-2" and step.sms.segments >= 2
    assert "What does honesty mean to you" in reminder.sms.text


def test_segment_count_follows_the_text(honesty: dict[str, str]) -> None:
    longer = edit_step(honesty, "w1-reflect", {"sms": "Hi {{ name }}. " + "x" * 200})
    assert preview_step(longer, "w1-reflect", Persona()).messages[0].sms.segments == 2
    curly = edit_step(honesty, "w1-reflect", {"sms": "Hi “{{ name }}”."})
    assert preview_step(curly, "w1-reflect", Persona()).messages[0].sms.encoding == "UCS-2"


def test_email_parts_as_sent(settings, honesty: dict[str, str]) -> None:
    message = preview_step(honesty, "welcome", Persona(name="Sam")).messages[0]
    html, text = email_parts(message)
    assert "Welcome to Honesty" in text and "**" not in text and "unsubscribe" in text.lower()
    assert "<strong>Honesty</strong>" in html and "preview-only" in html


HOSTILE = {
    "include": "{% include 'steps/welcome.j2' %}",
    "import": "{% import 'programme.yaml' as p %}",
    "extends": "{% extends 'steps/welcome.j2' %}",
    "class": "{{ self.__class__ }}",
    "globals": "{{ cycler.__init__.__globals__ }}",
    "os": "{{ cycler.__init__.__globals__.os.environ }}",
    "lipsum": "{{ lipsum(1000) }}",
    "config": "{{ config }}",
    "environ": "{{ environ }}",
    "request": "{{ request.environ }}",
    "loop": "{% for i in range(10**9) %}x{% endfor %}",
    "nested loops": "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
    "big string": "{{ 'x' * 10**7 }}",
    "format": "{{ '{:>999999999}'.format(1) }}",
    "mro": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "undefined": "{{ nobody }}",
    "syntax": "{% if %}",
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_template_cannot_escape_and_fails_as_a_problem(honesty, name: str) -> None:
    files = edit_step(honesty, "w1-reflect", {"sms": "Hi.\n" + HOSTILE[name]})
    preview = preview_step(files, "w1-reflect", Persona())
    assert preview.messages == []
    [problem] = preview.problems
    assert (problem.file, problem.step) == ("steps/w1-reflect.j2", "w1-reflect")
    assert problem.line == 2, problem
    assert "environ" not in problem.message.lower() or name in ("environ", "request", "os")


def test_missing_step_and_broken_yaml(honesty: dict[str, str]) -> None:
    assert "no step" in preview_step(honesty, "nope", Persona()).problems[0].message
    broken = {**honesty, "programme.yaml": "title: [\n"}
    assert preview_step(broken, "welcome", Persona()).problems[0].file == "programme.yaml"


def test_diff_step_by_step_and_field_by_field(honesty: dict[str, str]) -> None:
    new = edit_step(honesty, "w1-reflect", {"sms": "New.", "gap_days": 3})
    new = move_step(new, "w2-practice", 1)
    new = remove_step(add_step(new, "w1-extra", after="w1-checkin"), "closing")
    new = edit_step(new, "w2-checkin", {"question_type": "words"})
    diff = diff_files(honesty, new)
    changes = {s.key: s for s in diff.steps}
    assert changes["w1-extra"].change == "added" and changes["closing"].change == "removed"
    assert changes["w2-practice"].change == "moved"
    assert (changes["w2-practice"].old_position, changes["w2-practice"].new_position) == (5, 2)
    fields = {(f.field, f.language): f for f in changes["w1-reflect"].fields}
    assert fields[("sms", "en")].new == "New." and fields[("gap_days", None)].old == 2
    assert changes["w2-checkin"].fields[0].field == "question_type"
    assert changes["welcome"].change == "same" and diff.settings == []
    assert not diff_files(honesty, honesty).changed
