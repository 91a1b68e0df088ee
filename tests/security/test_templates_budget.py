"""Issue 6, item 6: templates render under a time budget and an output-size budget.

Each attack is asserted by the error it raises (its type, the step and the budget it names),
never by how long the test took.
"""

from pathlib import Path

import pytest

from coach.programmes.limits import (
    MAX_EMAIL_CHARS,
    MAX_SMS_SEGMENTS_SENT,
    RenderBudgetExceeded,
)
from coach.programmes.render import render_step
from coach.programmes.validate import validate_folder
from tests.security.templates import VARIABLES, programme_with, step

BEHIND_A_NAME = "{% if name != 'Alexandra' %}ATTACK{% endif %}"

SIZE_ATTACKS = [
    "{{ 'x' * 10**7 }}",
    "{{ ('x'~'y') * 100000000 }}",
    "{{ 'x' * 100000 * 100000 }}",
    "{{ [1] * 10**9 }}",
    "{{ (2 ** 64) ** 100000 }}",
    "{{ 10 ** 100000 }}",
    "{% set ns = namespace(s='xx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "{% set ns = namespace(s='xx') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "{% set ns = namespace(n=2) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}"
    "{% endfor %}{{ ns.n > 1 }}",
    "{{ 'x'|center(10**9) }}",
    "{{ 'x'|center(1000000000) }}",
    "{{ ('x\n' * 50000)|indent(100000) }}",
    "{{ ('x ' * 50000)|wordwrap(1, wrapstring='y' * 1000) }}",
    "{{ '%1000000000s'|format('x') }}",
    "{{ '%*s'|format(1000000000, 'x') }}",
    "{{ '%1000000000s' % 'x' }}",
    "{{ '{:>1000000000}'.format('x') }}",
    "{{ '{0:{1}}'.format('x', 1000000000) }}",
    "{{ ('x' * 1000)|replace('', 'y' * 1000) }}",
    "{{ range(100000)|join('y' * 1000) }}",
    "{{ [1]|batch(1000000000, 'x')|list }}",
    "{{ [1]|slice(1000000000, 'x')|list }}",
    "{{ range(100000)|map('center', 100000)|list|length }}",
    "{% set s %}{% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}{% endset %}"
    "{{ s|length }}",
    "{% macro m() %}{% for i in range(100000) %}0123456789{% endfor %}{% endmacro %}"
    "{{ m()|length }}",
    "{% for i in range(100000) %}0123456789{% endfor %}",
]

TIME_ATTACKS = [
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{% for c in 'x' * 1000 %}{% endfor %}{% endfor %}",
    "{% set s = 'x' * 1000 %}{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}"
    "{% endfor %}{% endfor %}",
    "{{ range(10**9)|list }}",
    "{{ range(100000)|map('string')|map('center', 5000)|join|length }}",
]


@pytest.mark.parametrize("attack", SIZE_ATTACKS + TIME_ATTACKS)
def test_an_attack_in_the_email_breaks_a_budget(attack: str) -> None:
    with pytest.raises(RenderBudgetExceeded) as caught:
        render_step(step(email=attack), VARIABLES)
    assert str(caught.value).startswith("step probe broke its ")
    assert " budget (" in str(caught.value)


def test_a_long_sms_breaks_the_sms_budget_at_render_time() -> None:
    sms = f"{{{{ 'x' * 153 * {MAX_SMS_SEGMENTS_SENT + 1} }}}}"
    with pytest.raises(RenderBudgetExceeded) as caught:
        render_step(step(sms=sms), VARIABLES)
    assert str(caught.value) == (f"step probe broke its size budget "
                                 f"(SMS over {MAX_SMS_SEGMENTS_SENT} segments)")


def test_a_long_email_breaks_the_email_budget() -> None:
    email = "{% for i in range(200) %}" + "y" * 1000 + "{% endfor %}"
    with pytest.raises(RenderBudgetExceeded) as caught:
        render_step(step(email=email), VARIABLES)
    assert str(caught.value) == (f"step probe broke its size budget "
                                 f"(email over {MAX_EMAIL_CHARS} characters)")


def test_a_long_subject_breaks_the_subject_budget() -> None:
    with pytest.raises(RenderBudgetExceeded, match=r"\(subject over \d+ characters\)"):
        render_step(step(subject="{{ 'x' * 5000 }}"), VARIABLES)


def test_the_error_never_carries_the_words_it_was_rendering() -> None:
    words = {**VARIABLES, "answers": {"a": "secret words " * 10}}
    with pytest.raises(RenderBudgetExceeded) as caught:
        render_step(step(email="{{ answers.a * 100000 }}"), words)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize("attack", [
    "{{ 'x' * 10**7 }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{{ range(10**9)|list }}",
])
def test_an_attack_behind_the_sample_name_is_caught_by_the_validator(
        attack: str, tmp_path: Path) -> None:
    folder = programme_with(tmp_path, email="Hi.\n" + BEHIND_A_NAME.replace("ATTACK", attack))
    problems = validate_folder(folder).problems
    assert [p.line for p in problems] == [5], [str(p) for p in problems]
    assert "budget" in problems[0].message


@pytest.mark.parametrize("guard", [
    "{% if answers.get('a') and answers.a|length > 300 %}",
    "{% if name|length > 40 %}",
    "{% if name == '' %}",
    "{% if name is not ascii_only %}",
])
def test_personas_reach_branches_one_sample_would_not(guard: str, tmp_path: Path) -> None:
    guard = guard.replace("name is not ascii_only", "name.isascii() == false")
    folder = programme_with(tmp_path, sms=f"Hi.{guard}{{{{ 'x' * 2000 }}}}{{% endif %}}")
    problems = validate_folder(folder).problems
    assert problems, guard
    assert all(p.line == 1 for p in problems), [str(p) for p in problems]


def test_a_step_that_broke_its_time_budget_fails_at_once_for_everyone_after() -> None:
    slow = step(email="{% if name != 'Alexandra' %}{% for i in range(100000) %}"
                      "{% for j in range(100000) %}{% endfor %}{% endfor %}{% endif %}")
    with pytest.raises(RenderBudgetExceeded, match="time budget"):
        render_step(slow, VARIABLES)
    with pytest.raises(RenderBudgetExceeded, match="time budget"):
        render_step(slow, {**VARIABLES, "name": "Alexandra"})  # would skip the loop


def test_time_spent_collecting_garbage_is_not_charged_to_the_render(monkeypatch):
    """A full collection in a big process once took longer than the whole budget, inside the
    crisis message's render: the collector's time is the process's, not the template's."""
    from coach.programmes import limits

    now = [100.0]
    monkeypatch.setattr(limits.time, "thread_time", lambda: now[0])
    spent = limits.Budget()
    limits.GarbageCollection.callback("start", {})
    now[0] += 0.9  # a long collection
    limits.GarbageCollection.callback("stop", {})
    now[0] += 0.1
    spent.check_clock()  # 1.0 s in all, of which 0.1 s rendering: within budget
    now[0] += limits.RENDER_SECONDS
    with pytest.raises(limits.RenderBudgetExceeded, match="time budget"):
        spent.check_clock()
