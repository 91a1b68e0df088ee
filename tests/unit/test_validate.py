"""coach.programmes.validate.validate_folder: every problem, with its file and line.

Each test builds a small programme folder in tmp_path (the shape of templates/programmes/honesty),
breaks one thing, and checks the problem names the right file and line.
"""

from pathlib import Path

import pytest

from coach.programmes.loader import Loaded, Problem
from coach.programmes.render import NEUTRAL_OPENER, REPEAT_OPENER, render_message, sms_segments
from coach.programmes.validate import validate_folder

QUESTION = "How did it go? 1 = didn't manage it yet, 5 = it's becoming a habit. Or a few words."

PROGRAMME = f"""\
title: Test programme
quality: honesty
summary: A small programme for tests.
steps:
  - key: welcome
    week: 1
    gap_days: 0

  - key: w1-practice
    week: 1
    gap_days: 2
    practice: true
  - key: w1-checkin
    week: 1
    gap_days: 3
    checkin: "{QUESTION}"
    save_as: first_week

  - key: closing
    week: 1
    gap_days: 3
"""


def template(sms: str = "Hi {{ name }}, a short message.", subject: str = "A subject",
             email: str = "Hi {{ name }},\n\nWeek {{ week }} of {{ programme }}.") -> str:
    return (f"{{% block sms %}}{sms}{{% endblock %}}\n"
            f"{{% block subject %}}{subject}{{% endblock %}}\n"
            f"{{% block email %}}\n{email}\n{{% endblock %}}\n")


TEMPLATES = {
    "welcome": template("Hi {{ name }}, welcome to {{ programme }}. Coaching, not therapy."),
    "w1-practice": template("Hi {{ name }}. One small thing for the next two days."),
    "w1-checkin": template("Hi {{ name }}. A week of {{ quality }}."),
    "closing": template(
        "Thank you, {{ name }}.{% if answers.get('first_week') %} You said "
        "'{{ answers.first_week | truncate(60) }}'.{% endif %} Next, perhaps: "
        "{{ other_qualities | join(', ') }}."
    ),
}


def make(tmp_path: Path, programme: str = PROGRAMME, **templates: str) -> Path:
    folder = tmp_path / "test-programme"
    (folder / "steps").mkdir(parents=True)
    (folder / "programme.yaml").write_text(programme, encoding="utf-8")
    overrides = {key.replace("_", "-"): text for key, text in templates.items()}
    for key, text in {**TEMPLATES, **overrides}.items():
        (folder / "steps" / f"{key}.j2").write_text(text, encoding="utf-8")
    return folder


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """The 1-based line of the nth line containing ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) >= nth, f"{needle!r} not found {nth} times"
    return hits[nth - 1]


def one_problem(loaded: Loaded) -> Problem:
    assert len(loaded.problems) == 1, [str(p) for p in loaded.problems]
    return loaded.problems[0]


def yaml_file(folder: Path) -> str:
    return str(folder / "programme.yaml")


def step_file(folder: Path, key: str) -> str:
    return str(folder / "steps" / f"{key}.j2")


def test_the_sample_programme_is_valid(tmp_path: Path) -> None:
    loaded = validate_folder(make(tmp_path))
    assert loaded.problems == []
    assert [s["key"] for s in loaded.definition["steps"]] == [
        "welcome", "w1-practice", "w1-checkin", "closing"]
    checkin = loaded.definition["steps"][2]
    assert checkin["checkin"] == QUESTION
    assert checkin["save_as"] == "first_week"
    assert loaded.definition["steps"][1]["practice"] is True


def test_problem_prints_as_file_colon_line() -> None:
    assert str(Problem("a/b.yaml", 7, "oops")) == "a/b.yaml:7: oops"


# programme.yaml -----------------------------------------------------------------------------


def test_missing_programme_yaml(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (yaml_file(folder), 1)
    assert "missing" in problem.message


def test_bad_yaml(tmp_path: Path) -> None:
    text = PROGRAMME.replace("summary: A small programme for tests.",
                             "summary: A small: programme for tests.")
    folder = make(tmp_path, text)
    problem = one_problem(validate_folder(folder))
    assert problem.file == yaml_file(folder)
    assert problem.line == line_of(text, "summary:") == 3
    assert problem.message.startswith("bad YAML")


def test_bad_yaml_further_down(tmp_path: Path) -> None:
    text = PROGRAMME.replace('checkin: "How did', 'checkin: "How did\t"oops" it')
    folder = make(tmp_path, text)
    problem = one_problem(validate_folder(folder))
    assert problem.file == yaml_file(folder)
    assert problem.line == line_of(text, "checkin:")
    assert "bad YAML" in problem.message


def test_a_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    folder = make(tmp_path, "- just\n- a list\n")
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (yaml_file(folder), 1)
    assert "mapping" in problem.message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    text = PROGRAMME.replace("steps:\n", "colour: blue\nsteps:\n")
    folder = make(tmp_path, text)
    problem = one_problem(validate_folder(folder))
    assert problem.file == yaml_file(folder)
    assert problem.line == line_of(text, "colour:") == 4
    assert "unknown programme key 'colour'" in problem.message


def test_unknown_step_key(tmp_path: Path) -> None:
    text = PROGRAMME.replace("    practice: true\n", "    practice: true\n    colour: blue\n")
    folder = make(tmp_path, text)
    problem = one_problem(validate_folder(folder))
    assert problem.file == yaml_file(folder)
    assert problem.line == line_of(text, "colour:") == 13
    assert "unknown step key 'colour'" in problem.message


def test_unknown_pacing_key_and_bad_pacing_value(tmp_path: Path) -> None:
    text = PROGRAMME.replace("steps:\n", "pacing:\n  max_pace: -1\n  speed: 2\nsteps:\n")
    folder = make(tmp_path, text)
    problems = validate_folder(folder).problems
    by_line = {p.line: p for p in problems}
    assert len(problems) == 2
    assert "max_pace" in by_line[line_of(text, "max_pace:")].message
    assert "unknown pacing key 'speed'" in by_line[line_of(text, "speed:")].message
    assert all(p.file == yaml_file(folder) for p in problems)


@pytest.mark.parametrize("key", ["title", "quality", "steps"])
def test_missing_required_key(tmp_path: Path, key: str) -> None:
    if key == "steps":
        text = PROGRAMME.split("steps:")[0]
    else:
        text = "\n".join(line for line in PROGRAMME.splitlines()
                         if not line.startswith(f"{key}:")) + "\n"
    folder = make(tmp_path, text)
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (yaml_file(folder), 1)
    assert f"missing required key '{key}'" in problem.message


def test_unknown_quality(tmp_path: Path) -> None:
    text = PROGRAMME.replace("quality: honesty", "quality: patience")
    folder = make(tmp_path, text)
    problem = one_problem(validate_folder(folder))
    assert problem.file == yaml_file(folder)
    assert "unknown quality 'patience'" in problem.message
    assert "honesty" in problem.message  # says what is allowed
    # The problem points at the quality, on line 2, not at the title on line 1.
    assert problem.line == line_of(text, "quality:") == 2


@pytest.mark.parametrize("bad", ["-1", "two", "1.5", "true", "null"])
def test_bad_gap_days(tmp_path: Path, bad: str) -> None:
    text = PROGRAMME.replace("    gap_days: 2\n", f"    gap_days: {bad}\n")
    folder = make(tmp_path, text)
    problem = one_problem(validate_folder(folder))
    assert problem.file == yaml_file(folder)
    # A field's problem points at the field's own line.
    assert problem.line == line_of(text, f"gap_days: {bad}") == 11
    assert "gap_days must be a whole number of at least 0" in problem.message


def test_missing_gap_days(tmp_path: Path) -> None:
    text = PROGRAMME.replace("    gap_days: 2\n", "")
    folder = make(tmp_path, text)
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (yaml_file(folder), line_of(text, "- key: w1-practice"))
    assert "gap_days" in problem.message


def test_bad_week(tmp_path: Path) -> None:
    text = PROGRAMME.replace("    week: 1\n    gap_days: 2", "    week: 0\n    gap_days: 2")
    folder = make(tmp_path, text)
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (yaml_file(folder), line_of(text, "week: 0"))
    assert "week must be a whole number of at least 1" in problem.message


def test_duplicate_step_key(tmp_path: Path) -> None:
    text = PROGRAMME.replace("- key: closing", "- key: w1-practice")
    folder = make(tmp_path, text)
    problem = one_problem(validate_folder(folder))
    assert problem.file == yaml_file(folder)
    assert problem.line == line_of(text, "- key: w1-practice", nth=2) == 19
    assert "'w1-practice' is used twice" in problem.message


def test_missing_template_file(tmp_path: Path) -> None:
    text = PROGRAMME.replace("- key: closing", "- key: farewell")
    folder = make(tmp_path, text)
    problem = one_problem(validate_folder(folder))
    assert problem.file == yaml_file(folder)
    assert problem.line == line_of(text, "- key: farewell") == 19
    assert "steps/farewell.j2" in problem.message
    assert "does not exist" in problem.message


def test_explicit_template_path_that_is_missing(tmp_path: Path) -> None:
    text = PROGRAMME.replace("- key: closing", "- key: closing\n    template: steps/nope.j2")
    folder = make(tmp_path, text)
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (yaml_file(folder), line_of(text, "steps/nope.j2"))
    assert "steps/nope.j2" in problem.message


def test_an_absolute_template_path_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.j2"
    outside.write_text(TEMPLATES["closing"], encoding="utf-8")
    text = PROGRAMME.replace("- key: closing", f"- key: closing\n    template: {outside}")
    folder = make(tmp_path, text)
    loaded = validate_folder(folder)  # raised ValueError from Path.relative_to
    problem = one_problem(loaded)
    assert (problem.file, problem.line) == (yaml_file(folder), line_of(text, "template:"))
    assert "inside the programme folder" in problem.message


def test_a_template_path_may_not_climb_out_of_the_folder(tmp_path: Path) -> None:
    text = PROGRAMME.replace("- key: closing", "- key: closing\n    template: ../../etc/x.j2")
    problem = one_problem(validate_folder(make(tmp_path, text)))
    assert problem.line == line_of(text, "template:")
    assert "inside the programme folder" in problem.message


def test_practice_must_be_true_or_false(tmp_path: Path) -> None:
    text = PROGRAMME.replace("practice: true", 'practice: "no"')
    problem = one_problem(validate_folder(make(tmp_path, text)))
    assert problem.line == line_of(text, "practice:")
    assert "practice must be true or false" in problem.message


@pytest.mark.parametrize("question", ['""', '"   "', "null", "3"])
def test_a_check_in_with_an_empty_question(tmp_path: Path, question: str) -> None:
    text = PROGRAMME.replace(f'checkin: "{QUESTION}"', f"checkin: {question}").replace(
        "    save_as: first_week\n", "")
    folder = make(tmp_path, text)
    problem = one_problem(validate_folder(folder))
    assert problem.file == yaml_file(folder)
    assert problem.line == line_of(text, f"checkin: {question}") == 16
    assert "check-in with no question" in problem.message


def test_save_as_without_a_check_in(tmp_path: Path) -> None:
    text = PROGRAMME.replace("    practice: true\n", "    practice: true\n    save_as: practised\n")
    folder = make(tmp_path, text)
    problem = one_problem(validate_folder(folder))
    assert problem.file == yaml_file(folder)
    assert problem.line == line_of(text, "save_as: practised") == 13
    assert "saves an answer but asks no check-in question" in problem.message


def test_save_as_must_be_a_plain_name(tmp_path: Path) -> None:
    text = PROGRAMME.replace("save_as: first_week", "save_as: first week")
    folder = make(tmp_path, text)
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (yaml_file(folder), line_of(text, "save_as: first"))
    assert "save_as" in problem.message


def test_problems_in_several_places_are_all_reported(tmp_path: Path) -> None:
    text = (PROGRAMME.replace("summary:", "colour: blue\nsummary:")
            .replace("- key: closing", "- key: farewell"))
    folder = make(tmp_path, text, w1_practice=template(sms="{{ name }"))
    problems = validate_folder(folder).problems
    where = {(p.file, p.line) for p in problems}
    assert where == {
        (yaml_file(folder), line_of(text, "colour:")),
        (yaml_file(folder), line_of(text, "- key: farewell")),
        (step_file(folder, "w1-practice"), 1),
    }


# Templates ----------------------------------------------------------------------------------


def test_template_syntax_error_points_at_the_line_of_the_error(tmp_path: Path) -> None:
    broken = template(email="Hi {{ name }},\n\nSomething.\n{{ name | }}\nMore.")
    folder = make(tmp_path, w1_practice=broken)
    problem = one_problem(validate_folder(folder))
    assert problem.file == step_file(folder, "w1-practice")
    assert problem.line == line_of(broken, "{{ name | }}") == 7
    assert problem.message.startswith("template syntax")


def test_template_syntax_error_on_the_first_line(tmp_path: Path) -> None:
    folder = make(tmp_path, welcome=template(sms="Hi {% if name %}there"))
    problem = one_problem(validate_folder(folder))
    assert problem.file == step_file(folder, "welcome")
    assert problem.line == 1
    assert "template syntax" in problem.message


def test_undefined_variable_points_at_its_line(tmp_path: Path) -> None:
    broken = template(email="Hi {{ name }},\n\nA line.\nAnd {{ nickname }} here.")
    folder = make(tmp_path, w1_practice=broken)
    problem = one_problem(validate_folder(folder))
    assert problem.file == step_file(folder, "w1-practice")
    assert problem.line == line_of(broken, "nickname") == 7
    assert "'nickname' is undefined" in problem.message


def test_undefined_variable_in_the_sms_block(tmp_path: Path) -> None:
    broken = ("{% block subject %}S{% endblock %}\n{% block email %}\nBody.\n{% endblock %}\n"
              "{% block sms %}Hi\n{{ first_name }}, hello.{% endblock %}\n")
    folder = make(tmp_path, welcome=broken)
    problem = one_problem(validate_folder(folder))
    assert problem.file == step_file(folder, "welcome")
    assert problem.line == line_of(broken, "first_name") == 6
    assert "first_name" in problem.message


@pytest.mark.parametrize("use", ["{{ answers.first_week }}", "{{ answers['first_week'] | upper }}"])
def test_an_answer_used_without_a_guard(tmp_path: Path, use: str) -> None:
    broken = template(email=f"Thank you.\n\nYou said:\n{use}\n\nBye.")
    folder = make(tmp_path, closing=broken)
    problem = one_problem(validate_folder(folder))
    assert problem.file == step_file(folder, "closing")
    assert problem.line == line_of(broken, "first_week") == 7
    assert "first_week" in problem.message
    assert "before any answer is saved" in problem.message


def test_an_answer_used_with_a_guard_is_fine(tmp_path: Path) -> None:
    guarded = template(email="{% if answers.get('first_week') %}You said {{ answers.first_week }}"
                             "{% endif %}")
    folder = make(tmp_path, closing=guarded)
    assert validate_folder(folder).problems == []


def test_unsafe_attribute_access_is_reported_with_its_line(tmp_path: Path) -> None:
    broken = template(email="One.\nTwo {{ answers.update({}) }}.")
    folder = make(tmp_path, closing=broken)
    problem = one_problem(validate_folder(folder))
    assert problem.file == step_file(folder, "closing")
    assert problem.line == line_of(broken, "update") == 5
    assert "unsafe" in problem.message


def test_a_template_missing_the_sms_block(tmp_path: Path) -> None:
    broken = "{% block subject %}S{% endblock %}\n{% block email %}\nBody.\n{% endblock %}\n"
    folder = make(tmp_path, w1_practice=broken)
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (step_file(folder, "w1-practice"), 1)
    assert "no block sms" in problem.message


@pytest.mark.parametrize("subject", ["", "   ", "{% if false %}x{% endif %}"])
def test_an_empty_subject(tmp_path: Path, subject: str) -> None:
    folder = make(tmp_path, w1_checkin=template(subject=subject))
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (step_file(folder, "w1-checkin"), 2)
    assert "subject block is empty" in problem.message


# SMS length ---------------------------------------------------------------------------------


def test_sms_within_two_gsm7_segments_is_fine(tmp_path: Path) -> None:
    # Discreet delivery puts a neutral opener first; the SMS must fit with it too.
    folder = make(tmp_path, welcome=template(sms="a" * (306 - len(NEUTRAL_OPENER))))
    assert validate_folder(folder).problems == []


def test_sms_that_fits_only_without_the_discreet_opener(tmp_path: Path) -> None:
    folder = make(tmp_path, welcome=template(sms="a" * 306))
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (step_file(folder, "welcome"), 1)
    assert "for discreet delivery needs 3 segments in GSM-7" in problem.message


def test_sms_over_two_gsm7_segments(tmp_path: Path) -> None:
    folder = make(tmp_path, welcome=template(sms="a" * 307))
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (step_file(folder, "welcome"), 1)
    assert "3 segments in GSM-7" in problem.message
    assert "307 characters" in problem.message


def test_sms_within_two_ucs2_segments_is_fine(tmp_path: Path) -> None:
    sms = "it’s " + "a" * (129 - len(NEUTRAL_OPENER))  # 134 characters with the opener
    folder = make(tmp_path, welcome=template(sms=sms))
    assert validate_folder(folder).problems == []


def test_sms_over_two_ucs2_segments_because_of_a_curly_quote(tmp_path: Path) -> None:
    sms = "it’s " + "a" * 130  # 135 characters: fine in GSM-7, too long in UCS-2
    assert len(sms) == 135
    folder = make(tmp_path, welcome=template(sms=sms))
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (step_file(folder, "welcome"), 1)
    assert "UCS-2" in problem.message
    assert "curly quotes" in problem.message


def test_the_check_in_question_counts_towards_the_sms(tmp_path: Path) -> None:
    sms = "a" * (306 - len(QUESTION) - 2 - len(NEUTRAL_OPENER))
    assert validate_folder(make(tmp_path, w1_checkin=template(sms=sms))).problems == []
    folder = make(tmp_path / "longer", w1_checkin=template(sms=sms + "a"))
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (step_file(folder, "w1-checkin"), 1)
    assert "307 characters" in problem.message


def test_a_practice_sms_must_also_fit_when_sent_as_a_repeat(tmp_path: Path) -> None:
    sms = "a" * (306 - len(REPEAT_OPENER) + 1)
    folder = make(tmp_path, w1_practice=template(sms=sms))
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (step_file(folder, "w1-practice"), 1)
    assert "as a repeat" in problem.message
    # The same text on a step that is never repeated is fine.
    fits = "a" * (306 - len(QUESTION) - 2 - len(NEUTRAL_OPENER))
    other = make(tmp_path / "other", w1_checkin=template(sms=fits), welcome=template(sms=sms))
    assert validate_folder(other).problems == []


def test_a_saved_answer_counts_towards_the_sms(tmp_path: Path) -> None:
    sms = "a" * 260 + "{% if answers.get('first_week') %} {{ answers.first_week }}{% endif %}"
    folder = make(tmp_path, closing=template(sms=sms))
    problem = one_problem(validate_folder(folder))  # fits without the answer, not with it
    assert (problem.file, problem.line) == (step_file(folder, "closing"), 1)
    assert "segments" in problem.message


# Check-in questions and their reminders ------------------------------------------------------


def with_question(question: str, title: str = "Test programme") -> str:
    return (PROGRAMME.replace(f'checkin: "{QUESTION}"', f'checkin: "{question}"')
            .replace("title: Test programme", f"title: {title}"))


def test_a_question_of_160_gsm7_characters_fits_one_segment(tmp_path: Path) -> None:
    question = "How did it go? " + "a" * 144 + "?"
    assert len(question) == 160
    assert validate_folder(make(tmp_path, with_question(question))).problems == []


def test_a_question_over_one_segment_is_reported_at_its_step(tmp_path: Path) -> None:
    question = "How did it go? " + "a" * 145 + "?"
    text = with_question(question)
    folder = make(tmp_path, text)
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (yaml_file(folder), line_of(text, "- key: w1-checkin"))
    assert problem.message == ("the check-in question needs 161 characters; keep it within one "
                               "SMS segment (160 GSM-7 characters)")


def test_extended_gsm7_characters_count_twice_in_a_question(tmp_path: Path) -> None:
    question = "How did it go [1-5]? " + "a" * 138 + "?"
    assert len(question) == 160  # but 162 as GSM-7 counts it
    problem = one_problem(validate_folder(make(tmp_path, with_question(question))))
    assert "needs 162 characters" in problem.message


def test_a_curly_quote_in_a_question_is_reported(tmp_path: Path) -> None:
    question = "How did it go? 1 = didn’t manage it yet, 5 = it’s becoming a habit. Or a few words."
    text = with_question(question)
    problem = one_problem(validate_folder(make(tmp_path, text)))
    assert problem.line == line_of(text, "- key: w1-checkin")
    assert f"needs {len(question)} characters in UCS-2 (curly quotes" in problem.message
    assert "one SMS segment (160 GSM-7 characters)" in problem.message


def test_a_reminder_over_two_segments_because_of_a_long_title(tmp_path: Path) -> None:
    question = "How did it go? " + "a" * 134 + "?"  # 150: fits one segment on its own
    title = "A very long title " * 7  # 126 characters, named in the plain reminder
    text = with_question(question, title.strip())
    folder = make(tmp_path, text)
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (yaml_file(folder), line_of(text, "- key: w1-checkin"))
    assert problem.message.startswith("the reminder for this check-in (en) needs 3 segments")
    assert "shorten the question or the programme's title" in problem.message
    # A shorter title fits: the discreet reminder leaves the title out anyway.
    fits = with_question(question, "A title")
    assert validate_folder(make(tmp_path / "fits", fits)).problems == []


def test_the_reminder_names_the_week_and_the_programme_but_not_when_discreet() -> None:
    variables = {"name": "Sam", "programme": "Honesty", "quality": "honesty", "week": 2,
                 "answers": {}, "other_qualities": [], "question": QUESTION}
    plain = render_message("reminder", variables)
    assert plain.sms == f"A gentle nudge about week 2 of Honesty, no pressure: {QUESTION}"
    assert "week 2 of Honesty" in plain.subject
    discreet = render_message("reminder", variables, discreet=True)
    assert discreet.sms.startswith(NEUTRAL_OPENER)
    assert "week 2" in discreet.sms and discreet.sms.endswith(QUESTION)
    assert "honesty" not in discreet.sms.casefold()
    assert "honesty" not in discreet.subject.casefold()


# sms_segments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (1, "GSM-7")),
        ("a", (1, "GSM-7")),
        ("a" * 160, (1, "GSM-7")),
        ("a" * 161, (2, "GSM-7")),
        ("a" * 306, (2, "GSM-7")),
        ("a" * 307, (3, "GSM-7")),
        ("a" * 459, (3, "GSM-7")),
        ("a" * 460, (4, "GSM-7")),
        ("é£$@\n" * 32, (1, "GSM-7")),  # accented letters and symbols in the basic set
        ("€" * 80, (1, "GSM-7")),  # extended characters count double: 160
        ("€" * 81, (2, "GSM-7")),  # 162
        ("a" * 159 + "[", (2, "GSM-7")),  # 161
        ("a" * 158 + "{", (1, "GSM-7")),  # 160
        ("a" * 304 + "^", (2, "GSM-7")),  # 306
        ("a" * 305 + "~", (3, "GSM-7")),  # 307
        ("’" * 70, (1, "UCS-2")),
        ("’" * 71, (2, "UCS-2")),
        ("’" + "a" * 133, (2, "UCS-2")),  # 134
        ("’" + "a" * 134, (3, "UCS-2")),  # 135
        ("—" + "a" * 200, (3, "UCS-2")),  # long dash: 201 = 3 x 67
        ("—" + "a" * 201, (4, "UCS-2")),  # 202
        ("你好" * 35, (1, "UCS-2")),
        ("🙂" * 35, (1, "UCS-2")),  # emoji count as two UTF-16 units: 70
        ("🙂" * 36, (2, "UCS-2")),  # 72
    ],
)
def test_sms_segments(text: str, expected: tuple[int, str]) -> None:
    assert sms_segments(text) == expected


# Personas and budgets -----------------------------------------------------------------------


def test_a_problem_only_another_persona_meets_is_reported(tmp_path: Path) -> None:
    broken = template(email="Hi {{ name }},\n\n{% if not name %}{{ nickname }}{% endif %}")
    folder = make(tmp_path, w1_practice=broken)
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (step_file(folder, "w1-practice"),
                                            line_of(broken, "nickname"))
    assert "'nickname' is undefined (rendering for an empty name" in problem.message


def test_an_sms_over_budget_for_a_long_answer_points_at_the_sms_block(tmp_path: Path) -> None:
    sms = ("Bye.{% if answers.get('first_week') %} You said: "
           "{{ answers.first_week * 3 }}{% endif %}")
    broken = ("{% block subject %}S{% endblock %}\n{% block email %}\nBody.\n{% endblock %}\n"
              f"{{% block sms %}}{sms}{{% endblock %}}\n")
    folder = make(tmp_path, closing=broken)
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (step_file(folder, "closing"), 5)
    assert "breaks its size budget (SMS over 10 segments)" in problem.message
    assert "long answers" in problem.message


def test_a_template_may_not_include_another(tmp_path: Path) -> None:
    broken = template(email="Hi.\n{% include 'steps/welcome.j2' %}")
    folder = make(tmp_path, w1_practice=broken)
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (step_file(folder, "w1-practice"), 5)
    assert "stands alone" in problem.message


def test_an_anchor_in_programme_yaml(tmp_path: Path) -> None:
    text = PROGRAMME.replace("summary: A small", "summary: &s A small")
    folder = make(tmp_path, text)
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (yaml_file(folder), line_of(text, "&s"))
    assert "anchors and aliases" in problem.message


def test_a_template_file_too_big_to_be_a_message(tmp_path: Path) -> None:
    folder = make(tmp_path, closing=template(email="x" * 100_001))
    problem = one_problem(validate_folder(folder))
    assert (problem.file, problem.line) == (yaml_file(folder), line_of(PROGRAMME, "key: closing"))
    assert "over 100000 characters" in problem.message
