"""The folder format as data: every built-in programme goes folder -> draft files -> form ->
folder byte for byte, and each structured edit changes only what it names."""

from pathlib import Path

import pytest

from coach.programmes import blocks
from coach.programmes.edits import (
    SCALE_WORDING,
    EditError,
    add_step,
    duplicate_step,
    edit_step,
    move_step,
    read_form,
    remove_step,
    set_settings,
)
from coach.programmes.folders import read_folder, write_folder
from coach.programmes.programme_yaml import dump, parse
from tests.conftest import PROGRAMMES

BUILT_INS = sorted(p.name for p in PROGRAMMES.iterdir() if (p / "programme.yaml").is_file())


@pytest.fixture
def honesty() -> dict[str, str]:
    return read_folder(PROGRAMMES / "honesty")


@pytest.mark.parametrize("slug", BUILT_INS)
def test_round_trip_is_byte_stable(slug: str, tmp_path: Path) -> None:
    files = read_folder(PROGRAMMES / slug)
    assert dump(parse(files["programme.yaml"])) == files["programme.yaml"]
    form = read_form(files)
    # Writing every field back as read changes nothing.
    again = set_settings(files, {"title": form.title, "quality": form.quality,
                                 "summary": form.summary})
    for step in form.steps:
        fields = {"kind": step.kind, "week": step.week, "gap_days": step.gap_days,
                  **{k: v for k, v in step.texts["en"].items()}}
        if step.kind == "checkin":
            fields |= {"question": step.question, "question_type": step.question_type,
                       "save_as": step.save_as or ""}
        again = edit_step(again, step.key, fields)
    assert again == files
    write_folder(again, tmp_path / slug)
    for path in files:
        assert (tmp_path / slug / path).read_bytes() == (PROGRAMMES / slug / path).read_bytes()


def test_form_reads_kinds_questions_and_texts(honesty: dict[str, str]) -> None:
    steps = {s.key: s for s in read_form(honesty).steps}
    assert steps["w1-practice"].kind == "practice"
    assert steps["w1-reflect"].kind == "reflection"
    assert (steps["w1-checkin"].kind, steps["w1-checkin"].question_type,
            steps["w1-checkin"].save_as) == ("checkin", "words", "honesty_means")
    assert (steps["w2-checkin"].question, steps["w2-checkin"].question_type) == (
        "How did voicing small preferences go?", "scale")
    texts = steps["welcome"].texts["en"]
    assert texts["subject"] == "Welcome: honesty" and texts["sms_discreet"] is None
    assert texts["email"].startswith("Hi {{ name }},") and not texts["email"].endswith("\n")


def test_editing_one_block_leaves_the_rest_byte_for_byte(honesty: dict[str, str]) -> None:
    edited = edit_step(honesty, "w1-reflect", {"sms": "Hi {{ name }}. New text."})
    changed = {p for p in honesty if honesty[p] != edited[p]}
    assert changed == {"steps/w1-reflect.j2"}
    before, after = honesty["steps/w1-reflect.j2"], edited["steps/w1-reflect.j2"]
    assert after.replace("Hi {{ name }}. New text.", blocks.read_field(before, "sms") or "") \
        == before


def test_discreet_blocks_are_added_and_removed(honesty: dict[str, str]) -> None:
    edited = edit_step(honesty, "welcome", {"sms_discreet": "Hi {{ name }}, welcome.",
                                            "subject_discreet": "Hello"})
    source = edited["steps/welcome.j2"]
    assert blocks.read_field(source, "sms_discreet") == "Hi {{ name }}, welcome."
    assert list(blocks.find_blocks(source)) == ["sms", "sms_discreet", "subject",
                                                "subject_discreet", "email"]
    removed = edit_step(edited, "welcome", {"sms_discreet": "", "subject_discreet": ""})
    assert removed == honesty


def test_steps_add_remove_move_duplicate(honesty: dict[str, str]) -> None:
    files = add_step(honesty, "w1-extra", kind="checkin", after="w1-reflect")
    form = read_form(files)
    keys = [s.key for s in form.steps]
    assert keys[keys.index("w1-reflect") + 1] == "w1-extra"
    assert "steps/w1-extra.j2" in files and form.steps[keys.index("w1-extra")].kind == "checkin"
    files = move_step(files, "w1-extra", 0)
    assert read_form(files).steps[0].key == "w1-extra"
    files = duplicate_step(files, "w2-practice", "w2-practice-again")
    assert files["steps/w2-practice-again.j2"] == files["steps/w2-practice.j2"]
    files = remove_step(remove_step(files, "w1-extra"), "w2-practice-again")
    assert files == honesty


def test_moving_a_step_carries_its_comment(honesty: dict[str, str]) -> None:
    moved = move_step(honesty, "w2-practice", 1)
    text = moved["programme.yaml"]
    assert text.index("# Week 2") < text.index("key: w2-practice") < text.index("key: w1-practice")


def test_rename_moves_the_template_and_question_types(honesty: dict[str, str]) -> None:
    files = edit_step(honesty, "w1-checkin", {"key": "first-checkin", "question_type": "scale",
                                              "question": "How did noticing go?"})
    assert "steps/w1-checkin.j2" not in files and "steps/first-checkin.j2" in files
    assert f'checkin: "How did noticing go? {SCALE_WORDING}"' in files["programme.yaml"]
    files = edit_step(files, "first-checkin", {"question_type": "words"})
    assert 'checkin: "How did noticing go?"' in files["programme.yaml"]
    files = edit_step(files, "first-checkin", {"kind": "reflection"})
    step = next(s for s in read_form(files).steps if s.key == "first-checkin")
    assert step.kind == "reflection" and step.save_as is None


def test_settings_and_pacing(honesty: dict[str, str]) -> None:
    files = set_settings(honesty, {"title": "Honesty: a second try",
                                   "pacing": {"slower_factor": "2", "max_pace": ""}})
    text = files["programme.yaml"]
    assert "title: 'Honesty: a second try'" in text or 'title: "Honesty: a second try"' in text
    assert "pacing:\n  slower_factor: 2\n" in text
    assert parse(text).title == "Honesty: a second try"


@pytest.mark.parametrize("edit, message", [
    (lambda f: edit_step(f, "nope", {"sms": "x"}), "no step 'nope'"),
    (lambda f: edit_step(f, "welcome", {"colour": "x"}), "unknown step field"),
    (lambda f: edit_step(f, "welcome", {"key": "w1-practice"}), "already used"),
    (lambda f: edit_step(f, "welcome", {"key": "../x"}), "letters, digits"),
    (lambda f: edit_step(f, "welcome", {"kind": "lecture"}), "kind is one of"),
    (lambda f: edit_step(f, "welcome", {"sms": "x"}, language="es"), "for now"),
    (lambda f: edit_step(f, "w1-checkin", {"question_type": "essay"}), "scale or a few words"),
])
def test_bad_edits_say_why(honesty: dict[str, str], edit, message: str) -> None:
    with pytest.raises(EditError, match=message):
        edit(honesty)
