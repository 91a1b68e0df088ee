"""The four built-in programmes in templates/programmes/: valid, well-shaped, and honest."""

from collections import Counter
from html import escape
from typing import Any

import pytest

from coach.delivery.email_message import plain_text
from coach.programmes.qualities import QUALITIES, quality_name
from coach.programmes.render import NEUTRAL_OPENER, render_message, render_step, sms_segments
from coach.programmes.validate import (
    SAMPLE_ANSWER,
    programme_folders,
    sample_variables,
    validate_folder,
)
from coach.settings import PROJECT_ROOT

ROOT = PROJECT_ROOT / "templates" / "programmes"
SLUGS = sorted(QUALITIES)
# Every rating check-in ends with the same scale: how the practice went, not how hard it felt.
SCALE = "1 = didn't manage it yet, 5 = it's becoming a habit. Or a few words."


def definition(slug: str) -> dict[str, Any]:
    return validate_folder(ROOT / slug).definition


def test_there_is_one_built_in_programme_per_quality() -> None:
    assert [folder.name for folder in programme_folders(ROOT)] == SLUGS
    for slug in SLUGS:
        assert definition(slug)["quality"] == slug


@pytest.mark.parametrize("slug", SLUGS)
def test_validate_reports_no_problem(slug: str) -> None:
    loaded = validate_folder(ROOT / slug)
    assert loaded.problems == [], [str(p) for p in loaded.problems]
    assert loaded.definition["title"]
    assert loaded.definition["summary"]
    assert all("source" in step for step in loaded.definition["steps"])


@pytest.mark.parametrize("slug", SLUGS)
def test_at_least_six_weeks_of_three_steps_with_a_check_in_and_a_practice(slug: str) -> None:
    steps = definition(slug)["steps"]
    weeks = [step["week"] for step in steps]
    assert weeks == sorted(weeks), "weeks run in order"
    assert set(weeks) == set(range(1, max(weeks) + 1)), "no week is skipped"
    assert max(weeks) >= 6
    per_week = Counter(weeks)
    for week in per_week:
        in_week = [s for s in steps if s["week"] == week]
        assert len(in_week) >= 3, f"week {week} has {len(in_week)} steps"
        assert any(s["checkin"] for s in in_week), f"week {week} has no check-in"
        assert sum(s["practice"] for s in in_week) == 1, f"week {week}: one practice to repeat"


@pytest.mark.parametrize("slug", SLUGS)
def test_gaps_are_unhurried(slug: str) -> None:
    steps = definition(slug)["steps"]
    assert steps[0]["gap_days"] == 0
    assert all(step["gap_days"] >= 1 for step in steps[1:])
    # Never more than four authored messages in any seven days.
    day, days = 0, []
    for step in steps:
        day += step["gap_days"]
        days.append(day)
    for i, start in enumerate(days):
        assert sum(start <= d < start + 7 for d in days[i:]) <= 4


@pytest.mark.parametrize("slug", SLUGS)
def test_check_ins_ask_a_question_and_save_answers_the_closing_can_echo(slug: str) -> None:
    steps = definition(slug)["steps"]
    checkins = [s for s in steps if s["checkin"]]
    assert all(s["checkin"].strip().endswith((".", "?")) for s in checkins)
    saved = [s["save_as"] for s in steps if s["save_as"]]
    assert saved, "at least one answer is saved"
    assert all(s["checkin"] for s in steps if s["save_as"])
    closing = steps[-1]["source"]
    assert any(name in closing for name in saved)


@pytest.mark.parametrize("slug", SLUGS)
def test_the_first_step_is_a_welcome_that_says_it_is_coaching_not_therapy(slug: str) -> None:
    defn = definition(slug)
    first = defn["steps"][0]
    assert first["key"] == "welcome"
    assert first["gap_days"] == 0
    assert first["week"] == 1
    assert not first["checkin"]
    for with_answers in (False, True):
        rendered = render_step(first, sample_variables(defn, with_answers))
        assert "coaching, not therapy" in rendered.sms
        assert "coaching, not therapy" in rendered.text
        assert "coaching, not therapy" in rendered.html
        assert "Alexandra" in rendered.sms
        assert rendered.subject


@pytest.mark.parametrize("slug", SLUGS)
def test_the_closing_mentions_another_quality(slug: str) -> None:
    defn = definition(slug)
    last = defn["steps"][-1]
    assert last["key"] == "closing"
    assert not last["checkin"]
    assert last["week"] == max(s["week"] for s in defn["steps"])
    variables = sample_variables(defn, with_answers=False)
    others = variables["other_qualities"]
    assert len(others) == 3
    assert quality_name(slug) not in others
    rendered = render_step(last, variables)
    for text in (rendered.sms, rendered.text):
        assert any(other in text for other in others), text


@pytest.mark.parametrize("slug", SLUGS)
def test_the_closing_echoes_a_saved_answer_when_there_is_one(slug: str) -> None:
    defn = definition(slug)
    last = defn["steps"][-1]
    with_answers = render_step(last, sample_variables(defn, with_answers=True))
    assert SAMPLE_ANSWER[:5] in with_answers.sms  # the SMS echoes its start, shortened
    assert sms_segments(with_answers.sms) <= (2, "GSM-7")
    assert SAMPLE_ANSWER in plain_text(with_answers.text, "")  # Markdown-escaped in the body
    assert escape(SAMPLE_ANSWER) in with_answers.html
    without = render_step(last, sample_variables(defn, with_answers=False))
    assert SAMPLE_ANSWER not in without.sms
    assert SAMPLE_ANSWER not in without.text
    assert without.sms and without.subject and without.text
    assert "answers" not in without.sms  # no template code or stray names leak through
    assert len(without.sms) < len(with_answers.sms)


@pytest.mark.parametrize("slug", SLUGS)
def test_every_step_renders_within_two_sms_segments_also_as_a_repeat(slug: str) -> None:
    defn = definition(slug)
    for step in defn["steps"]:
        for with_answers in (False, True):
            variables = sample_variables(defn, with_answers)
            rendered = render_step(step, variables)
            assert sms_segments(rendered.sms)[0] <= 2, (step["key"], rendered.sms)
            assert "{{" not in rendered.sms and "{%" not in rendered.sms
            if step["checkin"]:
                assert rendered.sms.endswith(step["checkin"])
            if step["practice"]:
                repeat = render_step(step, variables, repeat=True)
                assert sms_segments(repeat.sms)[0] <= 2, (step["key"], repeat.sms)


@pytest.mark.parametrize("slug", SLUGS)
def test_every_rating_check_in_uses_the_same_scale(slug: str) -> None:
    steps = definition(slug)["steps"]
    ratings = [s for s in steps if s["checkin"] and not s["save_as"]]
    assert len(ratings) >= 3
    for step in ratings:
        question = step["checkin"]
        assert question.startswith("How did ") and question.endswith(f" go? {SCALE}"), question
    for step in steps:
        if step["save_as"]:
            assert "1 =" not in step["checkin"], "a free-text question has no scale"


@pytest.mark.parametrize("slug", SLUGS)
def test_no_step_says_hard_means_slower(slug: str) -> None:
    """Difficulty is normal: only "not yet" (a low number) gives more time."""
    for step in definition(slug)["steps"]:
        source = step["source"]
        for old in ("(hard)", "(easy)", "for hard", "for easy", "we'll slow down",
                    "If it was hard, say so", "If a week is hard"):
            assert old not in source, (step["key"], old)


@pytest.mark.parametrize("slug", SLUGS)
def test_every_check_in_question_fits_one_gsm7_segment(slug: str) -> None:
    for step in definition(slug)["steps"]:
        if step["checkin"]:
            assert sms_segments(step["checkin"]) == (1, "GSM-7"), step["checkin"]


def in_two_gsm7_segments(sms: str) -> bool:
    segments, encoding = sms_segments(sms)
    return encoding == "GSM-7" and segments <= 2


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("language", ["en", "es"])
def test_every_reminder_says_what_it_is_about_within_two_segments(slug: str,
                                                                   language: str) -> None:
    defn = definition(slug)
    topic = (defn["title"].casefold(), quality_name(slug).casefold())
    for step in defn["steps"]:
        if not step["checkin"]:
            continue
        variables = {**sample_variables(defn, with_answers=False), "question": step["checkin"],
                     "week": step["week"]}
        plain = render_message("reminder", variables, language=language)
        assert in_two_gsm7_segments(plain.sms), plain.sms
        assert plain.sms.endswith(step["checkin"])
        assert f" {step['week']} " in plain.sms and defn["title"] in plain.sms
        assert defn["title"] in plain.subject
        discreet = render_message("reminder", variables, discreet=True, language=language)
        assert in_two_gsm7_segments(discreet.sms), discreet.sms
        assert discreet.sms.endswith(step["checkin"]) and f" {step['week']}" in discreet.sms
        before_question = discreet.sms[: -len(step["checkin"])].casefold()
        assert not any(word in before_question for word in topic), discreet.sms
        assert not any(word in discreet.subject.casefold() for word in topic)
        if language == "en":
            assert discreet.sms.startswith(NEUTRAL_OPENER)
