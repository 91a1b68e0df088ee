"""programme.yaml as data and back, in the format's own layout.

The layout (that of the built-in programmes): the keys ``title``, ``quality``, ``summary``,
``pacing`` and ``steps`` in that order; each step a block list item with its keys in the order
``key, week, gap_days, practice, checkin, save_as, template``; a check-in question in double
quotes; other text plain where YAML reads it back unchanged. Comments and blank lines before the
file's first key, before each step (they travel with it when steps move) and after the last
step are kept as written; a comment inside a step or beside a value is not.

Writing a file that already has this layout gives back the same bytes.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from coach.programmes.loader import MAX_FILE_CHARS, PACING_KEYS, _plain_yaml_problem

TOP_ORDER = ("title", "quality", "summary", "pacing", "steps")
STEP_ORDER = ("key", "week", "gap_days", "practice", "checkin", "save_as", "template")
ALWAYS_QUOTED = frozenset({"checkin"})
ITEM = re.compile(r"^(\s*)-(\s|$)")
TOP_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:")


class FormatError(ValueError):
    """programme.yaml is not in a shape the structured editor can work on (the validator says
    why, with the line); edit the file as text instead."""


@dataclass
class StepEntry:
    key: str
    week: Any = 1
    gap_days: Any = 0
    practice: Any = False
    checkin: str | None = None
    save_as: str | None = None
    template: str | None = None  # only when it is not steps/<key>.j2
    leading: str = ""  # blank lines and comments just before the step, as written
    extra: dict[str, Any] = field(default_factory=dict)  # unknown keys, kept for the validator

    def template_path(self) -> str:
        return self.template or f"steps/{self.key}.j2"


@dataclass
class ProgrammeFile:
    title: Any = ""
    quality: Any = ""
    summary: Any = None
    pacing: dict[str, Any] = field(default_factory=dict)
    steps: list[StepEntry] = field(default_factory=list)
    head: str = ""
    tail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def parse(text: str) -> ProgrammeFile:
    """Raises FormatError when the YAML does not parse or is not a mapping with a step list."""
    root = _load(text)
    steps = root.get("steps")
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        raise FormatError("programme.yaml needs a list of steps, each a mapping")
    pacing = root.get("pacing") or {}
    if not isinstance(pacing, dict):
        raise FormatError("pacing must be a mapping")
    entries = [_step(raw) for raw in steps]
    head, leadings, tail = _comments(text, len(entries))
    for entry, leading in zip(entries, leadings, strict=True):
        entry.leading = leading
    extra = {k: v for k, v in root.items() if k not in TOP_ORDER}
    return ProgrammeFile(root.get("title", ""), root.get("quality", ""), root.get("summary"),
                         pacing, entries, head, tail, extra)


def dump(programme: ProgrammeFile) -> str:
    lines = [programme.head] if programme.head else []
    for key in ("title", "quality", "summary"):
        value = getattr(programme, key)
        if value is not None:
            lines.append(f"{key}: {scalar(value)}\n")
    for key, value in programme.extra.items():
        lines.append(f"{key}: {scalar(value)}\n")
    if programme.pacing:
        lines.append("pacing:\n")
        lines += [f"  {k}: {scalar(v)}\n" for k, v in _ordered_pacing(programme.pacing)]
    lines.append("steps:\n")
    for step in programme.steps:
        lines.append(step.leading)
        lines += _step_lines(step)
    lines.append(programme.tail)
    return "".join(lines)


def scalar(value: Any, quoted: bool = False) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if not quoted and _plain_is_safe(text):
        return text
    return json.dumps(text, ensure_ascii=False)  # a valid YAML double-quoted scalar


def _plain_is_safe(text: str) -> bool:
    if not text or text != text.strip() or "\n" in text or " #" in text:
        return False
    try:
        return yaml.safe_load(f"k: {text}") == {"k": text}
    except yaml.YAMLError:
        return False


def _step_lines(step: StepEntry) -> list[str]:
    values: dict[str, Any] = {"key": step.key, "week": step.week, "gap_days": step.gap_days,
                              "practice": step.practice or None, "checkin": step.checkin,
                              "save_as": step.save_as, "template": step.template,
                              **step.extra}
    lines: list[str] = []
    for key, value in values.items():
        if value is None:
            continue
        prefix = "  - " if not lines else "    "
        lines.append(f"{prefix}{key}: {scalar(value, key in ALWAYS_QUOTED)}\n")
    return lines


def _ordered_pacing(pacing: dict[str, Any]) -> list[tuple[str, Any]]:
    known = [k for k in ("slower_factor", "faster_factor", "max_pace", "reminder_after_days",
                         "wait_for_answer_days", "unanswered_factor", "unanswered_pause_after")
             if k in pacing]
    assert set(known) <= PACING_KEYS
    return [(k, pacing[k]) for k in known] + [(k, v) for k, v in pacing.items()
                                             if k not in known]


def _load(text: str) -> dict[str, Any]:
    if len(text) > MAX_FILE_CHARS:
        raise FormatError(f"programme.yaml is over {MAX_FILE_CHARS} characters")
    try:
        refused = _plain_yaml_problem(text)
        if refused:
            raise FormatError(f"line {refused[0]}: {refused[1]}")
        root = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise FormatError(f"programme.yaml is not valid YAML: {error}") from None
    if not isinstance(root, dict):
        raise FormatError("programme.yaml must be a mapping with title, quality and steps")
    return root


def _step(raw: dict[str, Any]) -> StepEntry:
    key = raw.get("key")
    if not isinstance(key, str) or not key.strip():
        raise FormatError("every step needs a key")
    template = raw.get("template")
    if template == f"steps/{key}.j2":
        template = None
    checkin = raw.get("checkin")
    extra = {k: v for k, v in raw.items() if k not in STEP_ORDER}
    return StepEntry(key, raw.get("week", 1), raw.get("gap_days", 0),
                     raw.get("practice", False), None if checkin is None else str(checkin),
                     raw.get("save_as"), template, "", extra)


def _comments(text: str, count: int) -> tuple[str, list[str], str]:
    """(before the first key, before each step, after the last step): blank and comment
    lines as written. When the step list is not a plain block list, none are kept."""
    lines = text.splitlines(keepends=True)
    head = []
    for line in lines:
        if TOP_KEY.match(line):
            break
        head.append(line)
    leadings, pending, in_steps, indent = [], [], False, None
    for line in lines[len(head):]:
        if not in_steps:
            in_steps = line.startswith("steps:")
            continue
        if not line.strip() or line.lstrip().startswith("#"):
            pending.append(line)
            continue
        if TOP_KEY.match(line):
            break
        item = ITEM.match(line)
        if item and (indent is None or item.group(1) == indent):
            indent = item.group(1)
            leadings.append("".join(pending))
        pending = []
    if len(leadings) != count:
        return "".join(head), [""] * count, ""
    return "".join(head), leadings, "".join(pending)
