"""What changed between two versions of a programme (or a version and a draft): the settings,
then step by step (added, removed, moved, changed), field by field and per language, as plain
data the pages show and tests compare.

Steps are matched by key. A step is *moved* when it is no longer in the same order relative
to the steps both sides share (the longest run kept in order stays put).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from coach.programmes.edits import TEXT_FIELDS, ProgrammeForm, StepForm, read_form
from coach.programmes.folders import version_files

STEP_FIELDS = ("kind", "week", "gap_days", "question", "question_type", "save_as")
SETTINGS = ("title", "quality", "summary", "pacing")


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any
    language: str | None = None  # for a text field


@dataclass(frozen=True)
class StepChange:
    key: str
    change: str  # added | removed | moved | changed | same
    old_position: int | None  # from 1, as the pages number steps
    new_position: int | None
    fields: list[FieldChange] = field(default_factory=list)


@dataclass(frozen=True)
class ProgrammeDiff:
    settings: list[FieldChange]
    steps: list[StepChange]

    @property
    def changed(self) -> bool:
        return bool(self.settings) or any(s.change != "same" for s in self.steps)


def diff_definitions(old: Mapping[str, Any], new: Mapping[str, Any]) -> ProgrammeDiff:
    """Two published versions' definitions (``ProgrammeVersion.definition``)."""
    return diff_files(version_files(old), version_files(new))


def diff_files(old: Mapping[str, str], new: Mapping[str, str]) -> ProgrammeDiff:
    """Two sets of folder files (a version's through ``version_files``, or a draft's)."""
    before, after = read_form(old), read_form(new)
    return ProgrammeDiff(_settings(before, after), _steps(before.steps, after.steps))


def _settings(before: ProgrammeForm, after: ProgrammeForm) -> list[FieldChange]:
    return [FieldChange(name, getattr(before, name), getattr(after, name)) for name in SETTINGS
            if getattr(before, name) != getattr(after, name)]


def _steps(before: list[StepForm], after: list[StepForm]) -> list[StepChange]:
    old = {s.key: (i, s) for i, s in enumerate(before)}
    new = {s.key: (i, s) for i, s in enumerate(after)}
    moved = _moved([s.key for s in before if s.key in new], [s.key for s in after if s.key in old])
    changes = []
    for index, step in enumerate(after):
        if step.key not in old:
            changes.append(StepChange(step.key, "added", None, index + 1,
                                      _fields(None, step)))
            continue
        old_index, old_step = old[step.key]
        fields = _fields(old_step, step)
        status = "moved" if step.key in moved else ("changed" if fields else "same")
        changes.append(StepChange(step.key, status, old_index + 1, index + 1, fields))
    for index, step in enumerate(before):
        if step.key not in new:
            changes.append(StepChange(step.key, "removed", index + 1, None, _fields(step, None)))
    return changes


def _moved(old_order: list[str], new_order: list[str]) -> set[str]:
    kept = set()
    for block in SequenceMatcher(a=old_order, b=new_order, autojunk=False).get_matching_blocks():
        kept.update(old_order[block.a:block.a + block.size])
    return set(old_order) - kept


def _fields(before: StepForm | None, after: StepForm | None) -> list[FieldChange]:
    changes = [FieldChange(name, _get(before, name), _get(after, name)) for name in STEP_FIELDS
               if _get(before, name) != _get(after, name)]
    languages = sorted({*(before.texts if before else {}), *(after.texts if after else {})})
    for language in languages:
        old = before.texts.get(language, {}) if before else {}
        new = after.texts.get(language, {}) if after else {}
        changes += [FieldChange(name, old.get(name), new.get(name), language)
                    for name in TEXT_FIELDS if old.get(name) != new.get(name)]
    return changes


def _get(step: StepForm | None, name: str) -> Any:
    if step is None:
        return None
    if name in ("question", "question_type", "save_as") and step.kind != "checkin":
        return None
    return getattr(step, name)
