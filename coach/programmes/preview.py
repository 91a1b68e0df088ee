"""One step of a draft as a persona would get it: the SMS with its characters, encoding and
segments, the email's subject and body, and the repeat and reminder variants. Rendered by the
renderer the sweep uses, in the same sandbox and within the same budgets; a template that fails
comes back as a problem with file and line, never as an exception.

The email here is the body as Markdown and its HTML in the layout; the footer and links a
real email carries are added by ``coach.scheduling.preview_email`` (delivery is a layer up).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateSyntaxError

from coach.programmes.drafts import DraftProblem, validate_draft
from coach.programmes.edits import PROGRAMME_FILE
from coach.programmes.limits import TemplateProblem
from coach.programmes.programme_yaml import FormatError, StepEntry, parse
from coach.programmes.qualities import QUALITIES, other_qualities, quality_name
from coach.programmes.render import (
    Rendered,
    compile_step,
    render_message,
    render_step,
    sms_segments,
)
from coach.programmes.validate import render_problem


@dataclass(frozen=True)
class Persona:
    """Who the preview is for. ``quality`` defaults to the programme's own."""

    name: str = "Sam"
    quality: str | None = None
    answers: Mapping[str, str] = field(default_factory=dict)
    discreet: bool = False
    language: str = "en"


@dataclass(frozen=True)
class Sms:
    text: str
    characters: int
    encoding: str  # GSM-7 or UCS-2
    segments: int


@dataclass(frozen=True)
class Message:
    variant: str  # step | repeat | reminder
    sms: Sms
    subject: str
    markdown: str  # the email body as written, which is also its plain-text part
    html: str  # the body in the email layout, before the footer


@dataclass(frozen=True)
class StepPreview:
    step: str
    messages: list[Message]
    problems: list[DraftProblem]


def preview_step(files: Mapping[str, str], step_key: str, persona: Persona) -> StepPreview:
    try:
        programme = parse(files.get(PROGRAMME_FILE, ""))
    except FormatError as error:
        return StepPreview(step_key, [], [DraftProblem(PROGRAMME_FILE, 1, str(error))])
    entry = next((s for s in programme.steps if s.key == step_key), None)
    if entry is None:
        return StepPreview(step_key, [], [DraftProblem(PROGRAMME_FILE, 1,
                                                       f"there is no step {step_key!r}")])
    step = _step(entry, files)
    data = _variables(programme.title, programme.quality, persona)
    try:
        messages = _messages(step, data, persona)
    except TemplateSyntaxError as error:
        return StepPreview(step_key, [], [DraftProblem(
            step["template"], error.lineno or 1, f"template syntax: {error.message}",
            step_key)])
    except TemplateProblem as error:
        problem = render_problem(step["template"], step, error, f"for {persona.name or 'them'}")
        return StepPreview(step_key, [], [DraftProblem(problem.file, problem.line,
                                                       problem.message, step_key)])
    return StepPreview(step_key, messages, [])


def preview_problems(files: Mapping[str, str], slug: str = "draft") -> list[DraftProblem]:
    """What the validator says of the whole draft, for the same page."""
    return validate_draft(files, slug)


def sms_facts(text: str) -> Sms:
    segments, encoding = sms_segments(text)
    return Sms(text, len(text), encoding, segments)


def _messages(step: dict[str, Any], data: dict[str, Any], persona: Persona) -> list[Message]:
    compile_step(step["source"], step["template"])
    discreet = persona.discreet
    messages = [_message("step", render_step(step, data, discreet=discreet))]
    if step["practice"]:
        messages.append(_message("repeat", render_step(step, data, repeat=True,
                                                       discreet=discreet)))
    if step["checkin"]:
        reminder = {**data, "question": step["checkin"], "week": step["week"]}
        messages.append(_message("reminder", render_message("reminder", reminder, discreet,
                                                            persona.language)))
    return messages


def _message(variant: str, rendered: Rendered) -> Message:
    return Message(variant, sms_facts(rendered.sms), rendered.subject, rendered.text,
                   rendered.html)


def _step(entry: StepEntry, files: Mapping[str, str]) -> dict[str, Any]:
    week = entry.week if isinstance(entry.week, int) and not isinstance(entry.week, bool) else 1
    return {"key": entry.key, "week": week, "gap_days": entry.gap_days,
            "practice": entry.practice is True, "checkin": entry.checkin,
            "save_as": entry.save_as, "template": entry.template_path(),
            "source": files.get(entry.template_path(), "")}


def _variables(title: Any, programme_quality: Any, persona: Persona) -> dict[str, Any]:
    quality = persona.quality or str(programme_quality)
    if quality not in QUALITIES:
        quality = next(iter(QUALITIES))
    return {
        "name": persona.name or "there",
        "programme": str(title),
        "quality": quality_name(quality),
        "answers": {str(k): str(v) for k, v in persona.answers.items()},
        "other_qualities": other_qualities(quality),
    }
