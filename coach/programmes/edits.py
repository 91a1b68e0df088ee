"""Structured edits of a programme in the folder format, as the authoring pages make them.

Every function takes the files (relative path -> text, as a draft keeps them) and returns new
files; nothing is written anywhere. An edit touches only what it changes: the step template's
other blocks and text stay byte for byte, and programme.yaml is written in the format's own
layout (coach/programmes/programme_yaml.py).

How a field maps onto the files:

=====================  ============================================================
programme settings     programme.yaml ``title``, ``quality``, ``summary``, ``pacing``
step key, week, gap    the step's ``key`` (renaming moves steps/<key>.j2), ``week``,
                       ``gap_days``
kind                   practice: ``practice: true``; check-in: ``checkin:``;
                       reflection: neither
question, type         ``checkin:``; a 1-5 scale question is the author's opening and
                       the scale wording every programme shares (SCALE_WORDING)
save_as                ``save_as`` (a check-in only)
sms, subject, email    the blocks of the same name in the step's template
sms_discreet,          optional blocks; empty removes them (the neutral defaults apply)
subject_discreet
=====================  ============================================================

Languages: programmes are written in English today (``LANGUAGES``); texts are kept per
language so that a Spanish template can take its place beside it when the format has one.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from coach.programmes import blocks
from coach.programmes.programme_yaml import ProgrammeFile, StepEntry, dump, parse

PROGRAMME_FILE = "programme.yaml"
LANGUAGES = ("en",)
KINDS = ("practice", "reflection", "checkin")
QUESTION_TYPES = ("scale", "words")
SCALE_WORDING = "1 = didn't manage it yet, 5 = it's becoming a habit. Or a few words."
SCALE = re.compile(r"\s*\b1\s*=.*\b5\s*=.*$", re.S)
TEXT_FIELDS = blocks.ORDER
STEP_FIELDS = frozenset({"key", "kind", "week", "gap_days", "question", "question_type",
                         "save_as", *TEXT_FIELDS})
SETTINGS = frozenset({"title", "quality", "summary", "pacing"})
STEP_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")


class EditError(ValueError):
    """The edit cannot be made; the message says what to do instead."""


@dataclass(frozen=True)
class StepForm:
    key: str
    kind: str
    week: Any
    gap_days: Any
    question: str  # for a scale question, the opening before the scale wording
    question_type: str
    save_as: str | None
    template: str
    texts: dict[str, dict[str, str | None]]  # language -> block name -> text (None: absent)


@dataclass(frozen=True)
class ProgrammeForm:
    title: Any
    quality: Any
    summary: Any
    pacing: dict[str, Any]
    steps: list[StepForm]


def read_form(files: Mapping[str, str]) -> ProgrammeForm:
    """Raises FormatError (a ValueError) when programme.yaml cannot be read as data."""
    programme = _programme(files)
    steps = [_step_form(entry, files) for entry in programme.steps]
    return ProgrammeForm(programme.title, programme.quality, programme.summary,
                         dict(programme.pacing), steps)


def question_parts(question: str | None) -> tuple[str, str]:
    """(opening, type) of a check-in question: a scale question names 1 and 5."""
    if question is None:
        return "", "words"
    if SCALE.search(question):
        return SCALE.sub("", question).strip(), "scale"
    return question, "words"


def set_settings(files: Mapping[str, str], changes: Mapping[str, Any]) -> dict[str, str]:
    _known(changes, SETTINGS, "programme setting")
    programme = _programme(files)
    for name, value in changes.items():
        if name == "pacing":
            value = {k: _number(v) for k, v in dict(value or {}).items() if v not in ("", None)}
        elif name == "summary" and not value:
            value = None
        setattr(programme, name, value)
    return _with(files, programme)


def add_step(files: Mapping[str, str], key: str, kind: str = "reflection",
             after: str | None = None, gap_days: int = 2) -> dict[str, str]:
    """A new step with an empty template, after ``after`` (else at the end), in its week."""
    programme = _programme(files)
    _free_key(programme, key)
    at = _index(programme, after) + 1 if after else len(programme.steps)
    week = programme.steps[at - 1].week if at else 1
    programme.steps.insert(at, StepEntry(key, week, gap_days))
    new = _with(files, programme)
    new[f"steps/{key}.j2"] = blocks.new_template({"sms": "", "subject": "", "email": ""})
    return edit_step(new, key, {"kind": kind}) if kind != "reflection" else new


def remove_step(files: Mapping[str, str], key: str) -> dict[str, str]:
    programme = _programme(files)
    entry = programme.steps.pop(_index(programme, key))
    new = _with(files, programme)
    if all(s.template_path() != entry.template_path() for s in programme.steps):
        new.pop(entry.template_path(), None)
    return new


def move_step(files: Mapping[str, str], key: str, to_index: int) -> dict[str, str]:
    """Move a step to position ``to_index`` (0 is first); its leading comments go with it."""
    programme = _programme(files)
    entry = programme.steps.pop(_index(programme, key))
    programme.steps.insert(max(0, min(to_index, len(programme.steps))), entry)
    return _with(files, programme)


def duplicate_step(files: Mapping[str, str], key: str, new_key: str) -> dict[str, str]:
    programme = _programme(files)
    _free_key(programme, new_key)
    at = _index(programme, key)
    original = programme.steps[at]
    programme.steps.insert(at + 1, replace(original, key=new_key, template=None, leading="",
                                           extra=dict(original.extra)))
    new = _with(files, programme)
    new[f"steps/{new_key}.j2"] = files.get(original.template_path(), "")
    return new


def edit_step(files: Mapping[str, str], key: str, changes: Mapping[str, Any],
              language: str = "en") -> dict[str, str]:
    """Change fields of one step (names in STEP_FIELDS); the others stay as they are."""
    _known(changes, STEP_FIELDS, "step field")
    if language not in LANGUAGES:
        raise EditError(f"programmes are written in {', '.join(LANGUAGES)} for now; "
                        f"{language!r} texts cannot be stored yet")
    programme = _programme(files)
    entry = programme.steps[_index(programme, key)]
    new = dict(files)
    texts = {name: changes[name] for name in TEXT_FIELDS if name in changes}
    if texts:
        source = new.get(entry.template_path(), "")
        for name, value in texts.items():
            source = blocks.set_field(source, name, None if value is None else str(value))
        new[entry.template_path()] = source
    _edit_entry(programme, entry, changes, new)
    new[PROGRAMME_FILE] = dump(programme)
    return new


def _edit_entry(programme: ProgrammeFile, entry: StepEntry, changes: Mapping[str, Any],
                files: dict[str, str]) -> None:
    for name in ("week", "gap_days"):
        if name in changes:
            setattr(entry, name, _number(changes[name]))
    if "kind" in changes:
        _set_kind(entry, str(changes["kind"]))
    if "question" in changes or "question_type" in changes:
        _set_question(entry, changes)
    if "save_as" in changes:
        entry.save_as = str(changes["save_as"]).strip() or None
    if "key" in changes and changes["key"] != entry.key:
        _rename(programme, entry, str(changes["key"]), files)


def _set_kind(entry: StepEntry, kind: str) -> None:
    if kind not in KINDS:
        raise EditError(f"a step's kind is one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "checkin":
        entry.practice = False
        entry.checkin = entry.checkin if entry.checkin is not None else ""
        return
    entry.practice = kind == "practice"
    entry.checkin = entry.save_as = None


def _set_question(entry: StepEntry, changes: Mapping[str, Any]) -> None:
    opening, kind = question_parts(entry.checkin)
    new_opening = str(changes.get("question", opening)).strip()
    new_kind = str(changes.get("question_type", kind))
    if new_kind not in QUESTION_TYPES:
        raise EditError(f"a question is a 1-5 scale or a few words ({', '.join(QUESTION_TYPES)})"
                        f", not {new_kind!r}")
    if (new_opening, new_kind) == (opening, kind) and entry.checkin is not None:
        return  # as it was: keep the exact text
    entry.practice = False
    if new_kind == "scale":
        entry.checkin = f"{new_opening} {SCALE_WORDING}".strip()
    else:
        entry.checkin = new_opening


def _rename(programme: ProgrammeFile, entry: StepEntry, key: str, files: dict[str, str]) -> None:
    _free_key(programme, key)
    if entry.template is None and f"steps/{entry.key}.j2" in files:
        files[f"steps/{key}.j2"] = files.pop(f"steps/{entry.key}.j2")
    entry.key = key


def _step_form(entry: StepEntry, files: Mapping[str, str]) -> StepForm:
    kind = "checkin" if entry.checkin is not None else (
        "practice" if entry.practice is True else "reflection")
    opening, question_type = question_parts(entry.checkin)
    source = files.get(entry.template_path())
    texts = {name: None if source is None else blocks.read_field(source, name)
             for name in TEXT_FIELDS}
    return StepForm(entry.key, kind, entry.week, entry.gap_days, opening, question_type,
                    entry.save_as, entry.template_path(), {"en": texts})


def _programme(files: Mapping[str, str]) -> ProgrammeFile:
    if PROGRAMME_FILE not in files:
        raise EditError("the draft has no programme.yaml; import a programme folder or start "
                        "an empty draft")
    return parse(files[PROGRAMME_FILE])


def _with(files: Mapping[str, str], programme: ProgrammeFile) -> dict[str, str]:
    return {**files, PROGRAMME_FILE: dump(programme)}


def _index(programme: ProgrammeFile, key: str) -> int:
    for index, entry in enumerate(programme.steps):
        if entry.key == key:
            return index
    raise EditError(f"there is no step {key!r}")


def _free_key(programme: ProgrammeFile, key: str) -> None:
    if not STEP_KEY.match(key):
        raise EditError(f"a step key is letters, digits, - and _ (up to 80), like w1-practice; "
                        f"not {key!r}")
    if any(entry.key == key for entry in programme.steps):
        raise EditError(f"step key {key!r} is already used; choose another")


def _known(changes: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise EditError(f"unknown {what} {unknown[0]!r} (known: {', '.join(sorted(allowed))})")


def _number(value: Any) -> Any:
    """A form's "3" or "1.5" as a number; anything else as given, for the validator to name."""
    if isinstance(value, str):
        text = value.strip()
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                continue
    return value
