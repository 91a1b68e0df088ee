"""`coach programmes validate`: every problem, with file and line, before anything is published."""

import re
import traceback
from pathlib import Path
from typing import Any

from jinja2 import Template, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from coach.programmes.loader import Loaded, Problem, load_programme
from coach.programmes.qualities import other_qualities, quality_name
from coach.programmes.render import REPEAT_OPENER, compile_step, render_step, sms_segments

MAX_SMS_SEGMENTS = 2
SAMPLE_NAME = "Alexandra"
SAMPLE_ANSWER = "being there when it matters, even on the days that are long"


def validate_folder(folder: Path) -> Loaded:
    loaded = load_programme(folder)
    definition = loaded.definition
    for step in definition["steps"]:
        if "source" in step:
            loaded.problems.extend(_check_step(folder, step, definition))
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


def _check_step(folder: Path, step: dict[str, Any], definition: dict[str, Any]) -> list[Problem]:
    path = str(folder / step["template"])
    try:
        compile_step(step["source"], step["template"])
    except TemplateSyntaxError as error:
        return [Problem(path, error.lineno, f"template syntax: {error.message}")]
    problems = []
    for with_answers in (True, False):
        try:
            rendered = render_step(step, sample_variables(definition, with_answers))
        except (UndefinedError, SecurityError) as error:
            where = "with saved answers" if with_answers else "before any answer is saved"
            line = _template_line(error, compile_step(step["source"], step["template"]))
            return [Problem(path, line,
                            f"{error.message} (rendering {where})")]
        except ValueError as error:
            return [Problem(path, 1, str(error))]
        problems += _check_sms(path, step, rendered.sms)
        if not rendered.subject:
            problems.append(Problem(path, _block_line(step, "subject"),
                                    "the subject block is empty"))
    return sorted(set(problems), key=lambda p: p.line)


def _check_sms(path: str, step: dict[str, Any], sms: str) -> list[Problem]:
    texts = [sms] + ([REPEAT_OPENER + sms] if step["practice"] else [])
    for text in texts:
        segments, encoding = sms_segments(text)
        if segments > MAX_SMS_SEGMENTS:
            hint = " (curly quotes, long dashes or emoji force UCS-2)" * (encoding == "UCS-2")
            what = "as a repeat " if text is not sms else ""
            message = (f"SMS {what}needs {segments} segments in {encoding}, {len(text)} "
                       f"characters; keep it within {MAX_SMS_SEGMENTS}{hint}")
            return [Problem(path, _block_line(step, "sms"), message)]
    return []


def _template_line(error: Exception, template: Template) -> int:
    """Map the failing frame of compiled template code back to the template's own line."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
             if frame.filename == template.filename and frame.lineno]
    return template.get_corresponding_lineno(lines[-1]) if lines else 1


def _block_line(step: dict[str, Any], block: str) -> int:
    for number, line in enumerate(step["source"].splitlines(), start=1):
        if re.search(rf"{{%-?\s*block\s+{block}\b", line):
            return number
    return 1
