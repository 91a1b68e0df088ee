"""`coach programmes validate`: every problem, with file and line, before anything is published."""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Template, TemplateError, TemplateSyntaxError

from coach.programmes.echo import plain_words
from coach.programmes.limits import RenderBudgetExceeded, TemplateFailed, TemplateProblem
from coach.programmes.loader import Loaded, Problem, load_programme
from coach.programmes.qualities import other_qualities, quality_name
from coach.programmes.render import (
    BLOCKS,
    DISCREET_BLOCKS,
    GSM7_EXTENDED,
    REPEAT_OPENER,
    compile_step,
    named_problems,
    render_blocks,
    render_message,
    render_step,
    sms_segments,
)

MAX_SMS_SEGMENTS = 2
# A check-in question fits one segment on its own, so that the step and its reminder, which
# both carry it, keep within MAX_SMS_SEGMENTS.
MAX_QUESTION_CHARS = 160
REMINDER_LANGUAGES = ("en", "es")  # the languages templates/messages/ has a reminder in
SAMPLE_NAME = "Alexandra"
# As a person might write it (curly quotes, an emoji, accents) and as it is saved and echoed:
# folded into GSM-7 (coach/programmes/echo.py). The strict SMS budget is checked with it.
SAMPLE_ANSWER = plain_words("“Being there” when it matters 😊, even on the days that are long,"
                            " más o menos")


@dataclass(frozen=True)
class Persona:
    """Someone else the validator renders every step for, so a branch that only one sample
    would skip (``{% if name != 'Alexandra' %}``) still has to keep within the budgets."""

    who: str
    name: str
    answer: str | None  # None: before any answer is saved


PERSONAS = (
    Persona("an empty name and empty answers", "", ""),
    Persona("a long name and long answers", "Maximiliana-Konstantina " * 4,
            "Some days it was easy and some days I forgot, but I kept trying. " * 16),
    Persona("a name and answers outside GSM-7", "Zoë Ångström-Łukasz 😊",
            "Ça va — “mostly” better 😊, 一点一点"),
    Persona("a long name before any answer is saved", "Maximiliana-Konstantina " * 4, None),
)


def validate_folder(folder: Path) -> Loaded:
    loaded = load_programme(folder)
    definition = loaded.definition
    for step in definition["steps"]:
        if "source" in step:
            loaded.problems.extend(_check_step(folder, step, definition))
        if step.get("checkin"):
            loaded.problems.extend(_check_question(folder, step, definition))
    return loaded


def programme_folders(root: Path) -> list[Path]:
    return sorted(path for path in root.iterdir() if (path / "programme.yaml").is_file())


def sample_variables(definition: dict[str, Any], with_answers: bool) -> dict[str, Any]:
    quality = definition.get("quality", "")
    saved = [s["save_as"] for s in definition["steps"] if s.get("save_as")]
    return {
        "name": SAMPLE_NAME,
        "programme": definition.get("title", ""),
        "quality": quality_name(quality),
        "answers": dict.fromkeys(saved, SAMPLE_ANSWER) if with_answers else {},
        "other_qualities": other_qualities(quality),
    }


def persona_variables(definition: dict[str, Any], persona: Persona) -> dict[str, Any]:
    variables = sample_variables(definition, with_answers=persona.answer is not None)
    answers = dict.fromkeys(variables["answers"], persona.answer)
    return {**variables, "name": persona.name, "answers": answers}


def _check_step(folder: Path, step: dict[str, Any], definition: dict[str, Any]) -> list[Problem]:
    path = str(folder / step["template"])
    try:
        template = compile_step(step["source"], step["template"])
    except TemplateSyntaxError as error:
        return [Problem(path, error.lineno, f"template syntax: {error.message}")]
    except RecursionError:
        return [Problem(path, 1, "the template nests too deeply to compile; flatten it")]
    problems = _unknown_blocks(path, step, template)
    for with_answers in (True, False):
        variables = sample_variables(definition, with_answers)
        try:
            plain = render_step(step, variables)
            discreet = render_step(step, variables, discreet=True)
            with named_problems(f"step {step['key']}", template):
                blocks = render_blocks(template, {**variables, "week": step["week"]},
                                       discreet=True)
        except TemplateProblem as error:
            where = "with saved answers" if with_answers else "before any answer is saved"
            return [render_problem(path, step, error, where)]
        too_long = _check_sms(path, step, plain.sms, "sms")
        block = "sms_discreet" if "sms_discreet" in blocks else "sms"
        if block != "sms" or not too_long:  # one report per block is enough
            too_long += _check_sms(path, step, discreet.sms, block, " for discreet delivery")
        problems += too_long + _check_discreet(path, step, blocks, definition)
        if not plain.subject:
            problems.append(Problem(path, _block_line(step, "subject"),
                                    "the subject block is empty"))
    problems += _check_personas(path, step, definition)
    return sorted(set(problems), key=lambda p: p.line)


def _check_question(folder: Path, step: dict[str, Any], definition: dict[str, Any]
                    ) -> list[Problem]:
    """The question fits one SMS segment, and its reminder (which names the week and the
    programme) fits the SMS budget, in every language there is a reminder in, plainly and
    discreetly. Reported at the step's line in programme.yaml."""
    path, question = str(folder / "programme.yaml"), step["checkin"]
    segments, encoding = sms_segments(question)
    if segments > 1 or encoding != "GSM-7":
        units = _gsm7_units(question) if encoding == "GSM-7" else len(question)
        hint = (f" in {encoding} (curly quotes, long dashes or emoji force it)"
                if encoding != "GSM-7" else "")
        return [Problem(path, step["line"], f"the check-in question needs {units} characters"
                        f"{hint}; keep it within one SMS segment ({MAX_QUESTION_CHARS} GSM-7 "
                        "characters)")]
    variables = {**sample_variables(definition, with_answers=False), "question": question,
                 "week": step["week"]}
    for language in REMINDER_LANGUAGES:
        for discreet in (False, True):
            try:
                sms = render_message("reminder", variables, discreet, language).sms
            except TemplateProblem as error:
                return [Problem(path, step["line"], f"the reminder for this check-in does not "
                                f"render ({error}); check the question and the title")]
            segments, encoding = sms_segments(sms)
            if segments > MAX_SMS_SEGMENTS:
                how = " for discreet delivery" if discreet else ""
                return [Problem(path, step["line"], (
                    f"the reminder for this check-in{how} ({language}) needs {segments} "
                    f"segments in {encoding}, {len(sms)} characters; keep it within "
                    f"{MAX_SMS_SEGMENTS}: shorten the question or the programme's title"))]
    return []


def _gsm7_units(text: str) -> int:
    """Characters as GSM-7 counts them: the extended ones ({, }, [, ], €, ...) count twice."""
    return len(text) + sum(ch in GSM7_EXTENDED for ch in text)


def _check_personas(path: str, step: dict[str, Any], definition: dict[str, Any]
                    ) -> list[Problem]:
    """Every persona, plainly and discreetly, and as a repeat for a practice: within the
    budgets a real send has (the strict 2-segment rule applies to the sample above)."""
    repeats = (False, True) if step["practice"] else (False,)
    for persona in PERSONAS:
        variables = persona_variables(definition, persona)
        for discreet in (False, True):
            for repeat in repeats:
                try:
                    render_step(step, variables, repeat=repeat, discreet=discreet)
                except TemplateProblem as error:
                    return [render_problem(path, step, error, f"for {persona.who}")]
    return []


def render_problem(path: str, step: dict[str, Any], error: TemplateProblem,
                   where: str) -> Problem:
    """Sample data only reaches here, so the original error's text may be shown."""
    line = error.line
    if line is None and isinstance(error, RenderBudgetExceeded) and error.block:
        line = _block_line(step, error.block)
    if isinstance(error, TemplateFailed):
        message = _failure(error.original)
    elif isinstance(error, RenderBudgetExceeded):
        message = (f"breaks its {error.kind} budget ({error.detail}); keep loops, repeats "
                   "and lengths small")
    else:
        message = str(error)
    return Problem(path, line or 1, f"{message} (rendering {where})")


def _failure(original: BaseException) -> str:
    if isinstance(original, RecursionError):
        return "the template calls itself without end (recursion)"
    if isinstance(original, TemplateError) and original.message:
        return original.message
    if isinstance(original, ValueError):
        return str(original)
    return f"{type(original).__name__}: {original}"


def _unknown_blocks(path: str, step: dict[str, Any], template: Template) -> list[Problem]:
    """A misspelt block (``sms_discrete``) would be silently ignored: say so instead."""
    known = (*BLOCKS, *DISCREET_BLOCKS)
    return [Problem(path, _block_line(step, name),
                    f"unknown block {name!r}; the blocks are {', '.join(known)}")
            for name in template.blocks if name not in known]


def _check_sms(path: str, step: dict[str, Any], sms: str, block: str,
               variant: str = "") -> list[Problem]:
    texts = [sms] + ([REPEAT_OPENER + sms] if step["practice"] else [])
    for text in texts:
        segments, encoding = sms_segments(text)
        if segments > MAX_SMS_SEGMENTS:
            hint = " (curly quotes, long dashes or emoji force UCS-2)" * (encoding == "UCS-2")
            what = " as a repeat" if text is not sms else ""
            message = (f"SMS{variant}{what} needs {segments} segments in {encoding}, {len(text)} "
                       f"characters; keep it within {MAX_SMS_SEGMENTS}{hint}")
            return [Problem(path, _block_line(step, block), message)]
    return []


def _check_discreet(path: str, step: dict[str, Any], blocks: dict[str, str],
                    definition: dict[str, Any]) -> list[Problem]:
    """A step's own discreet blocks: not empty, and not naming the topic they exist to hide."""
    topic = [word for word in (quality_name(definition.get("quality", "")),
                               definition.get("title", "")) if word]
    problems = []
    for block in DISCREET_BLOCKS:
        if block not in blocks:
            continue
        named = [word for word in topic if word.casefold() in blocks[block].casefold()]
        if not blocks[block]:
            message = f"the {block} block is empty"
        elif named:
            message = f"the {block} block names the topic ({named[0]!r}); keep it neutral"
        else:
            continue
        problems.append(Problem(path, _block_line(step, block), message))
    return problems


def _block_line(step: dict[str, Any], block: str) -> int:
    for number, line in enumerate(step["source"].splitlines(), start=1):
        if re.search(rf"{{%-?\s*block\s+{block}\b", line):
            return number
    return 1
